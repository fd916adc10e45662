"""Marked lines at a ref and over its history, read from a real repository."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import GitError
from image_automation.git import MAX_COMMITS_MARKED, marked_lines_at, marked_log
from tests.integration.git_fixtures import make_remote

MARK = '{"$imagepolicy": "apps:web"}'


def line(tag: str) -> str:
    return f"image: r.test/web:{tag} # {MARK}\n"


def test_values_at_the_ref_and_the_commits_that_set_them(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "r.git", {"a: b.yaml": line("1.0"), "plain.txt": "x\n"})
    remote.commit_files({"a: b.yaml": line("1.1")}, "bump <b>1.1</b>")
    remote.commit_files({"plain.txt": "no marker\n"}, "unrelated")
    remote.commit_files({"long.yaml": "x: " + "y" * 20_000 + f" # {MARK}\n"}, "a huge line")
    at = marked_lines_at(remote.path, ref="main")
    assert [(m.file, m.line, m.text) for m in at] == [("a: b.yaml", 1, line("1.1").rstrip())]
    log = marked_log(remote.path, ref="main")
    assert log.complete
    assert [c.subject for c in log.commits] == ["a huge line", "bump <b>1.1</b>",
                                                remote.commits()[-1].subject]  # fmt: skip
    assert log.commits[0].added == ()  # the huge line is dropped, not held
    assert [a.text for a in log.commits[1].added] == [line("1.1").rstrip()]
    assert log.commits[1].added[0].file == "a: b.yaml"
    assert log.commits[1].sha == remote.commits()[2].sha  # newest first; "unrelated" is [1]


def test_a_bounded_read_says_it_is_incomplete(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "r.git", {"a.yaml": line("1.0")})
    for tag in ("1.1", "1.2", "1.3"):
        remote.commit_files({"a.yaml": line(tag)}, f"to {tag}")
    log = marked_log(remote.path, ref="main", max_commits=2)
    assert not log.complete
    assert [c.subject for c in log.commits] == ["to 1.3", "to 1.2"]
    assert MAX_COMMITS_MARKED >= 100


@pytest.mark.parametrize("ref", ["--output=/tmp/x", "main:a", "", "a b", "nope"])
def test_a_bad_or_unknown_ref_is_a_git_error(tmp_path: Path, ref: str) -> None:
    remote = make_remote(tmp_path / "r.git", {"a.yaml": line("1.0")})
    with pytest.raises(GitError):
        marked_log(remote.path, ref=ref)
    with pytest.raises(GitError):
        marked_lines_at(remote.path, ref=ref)
