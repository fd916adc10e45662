"""Dry-run diffs in git's format: names with spaces, quoted names, a missing final newline."""

from __future__ import annotations

import pytest

from image_automation.manifests.diffs import diff_label, unified_diff

LABELS = [
    ("a/", "apps/app.yaml", "a/apps/app.yaml"),
    ("b/", "my app/deploy file.yaml", "b/my app/deploy file.yaml\t"),  # TAB ends the name
    ("a/", "ünï/côdé.yaml", "a/ünï/côdé.yaml"),  # UTF-8 as is (git -c core.quotePath=false)
    ("a/", 'q"uote.yaml', '"a/q\\"uote.yaml"'),
    ("a/", "back\\slash.yaml", '"a/back\\\\slash.yaml"'),
    ("a/", "t\tab.yaml", '"a/t\\tab.yaml"'),
    ("a/", "new\nline.yaml", '"a/new\\nline.yaml"'),
    ("a/", "bell\x07 x.yaml", '"a/bell\\a x.yaml"\t'),
    ("a/", "esc\x1b.yaml", '"a/esc\\033.yaml"'),
    ("a/", "del\x7f.yaml", '"a/del\\177.yaml"'),
    ("a/", "caf\udce9.yaml", '"a/caf\\351.yaml"'),  # an undecodable byte, as os.listdir gives
]


@pytest.mark.parametrize(("prefix", "path", "label"), LABELS)
def test_labels_follow_git(prefix: str, path: str, label: str) -> None:
    assert diff_label(prefix, path) == label


def test_a_changed_line_gets_git_headers() -> None:
    assert unified_diff("x/app.yaml", b"a: 1\nb: 2\n", b"a: 1\nb: 3\n") == (
        "--- a/x/app.yaml\n+++ b/x/app.yaml\n@@ -1,2 +1,2 @@\n a: 1\n-b: 2\n+b: 3\n"
    )


def test_a_missing_final_newline_is_marked_not_invented() -> None:
    assert unified_diff("f", b"a\nb", b"a\nc") == (
        "--- a/f\n+++ b/f\n@@ -1,2 +1,2 @@\n a\n-b\n\\ No newline at end of file\n"
        "+c\n\\ No newline at end of file\n"
    )


def test_only_newline_splits_lines() -> None:
    # U+2028 and form feeds are not line ends for patch; CRLF lines keep their CR.
    diff = unified_diff("f", "x: a\u2028b\r\ny: 1\r\n".encode(), "x: a\u2028b\r\ny: 2\r\n".encode())
    assert diff.split("\n")[3:6] == [" x: a\u2028b\r", "-y: 1\r", "+y: 2\r"]


def test_no_change_is_no_diff() -> None:
    assert unified_diff("f", b"a\n", b"a\n") == ""
