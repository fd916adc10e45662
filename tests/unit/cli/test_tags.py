"""Tag list files for `policy select --tags-from`: what a line means, and the fast path."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import pytest

from image_automation.cli._tags import TagListError, parse_tag_list
from image_automation.domain import TagInfo

T1 = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)

NAMES_ONLY = [
    ("1.0.0\n2.0.0\n", ["1.0.0", "2.0.0"]),
    ("1.0.0\r\n2.0.0\r\n", ["1.0.0", "2.0.0"]),
    ("  1.0.0  \n\n\t2.0.0\n   \n", ["1.0.0", "2.0.0"]),
    ("# a comment\n1.0.0\n  # indented comment\n", ["1.0.0"]),
    ("1.0.0", ["1.0.0"]),
    ("", []),
    ("\n\n", []),
    ("a;b\n$(id)\n", ["a;b", "$(id)"]),  # select() skips them: not the parser's business
    ("1.0.0\n1.0.0\n", ["1.0.0", "1.0.0"]),
]


@pytest.mark.parametrize(("text", "names"), NAMES_ONLY)
def test_a_list_without_build_times_is_plain_names(text: str, names: list[str]) -> None:
    # Plain strings are select()'s fast path: no object per tag for 100,000 tags.
    parsed = parse_tag_list(text, source="tags.txt")
    assert parsed == names
    assert all(type(tag) is str for tag in parsed)


WITH_TIMES = [
    (
        "1.0.0 2026-01-02T03:04:05Z\n2.0.0\n",
        [TagInfo("1.0.0", created=T1), TagInfo("2.0.0")],
    ),
    (
        "# c\n1.0.0\t2026-01-02T03:04:05+00:00\n",
        [TagInfo("1.0.0", created=T1)],
    ),
    (
        "1.0.0 2026-01-02T03:04:05\n",  # no zone: UTC
        [TagInfo("1.0.0", created=T1)],
    ),
]


@pytest.mark.parametrize(("text", "tags"), WITH_TIMES)
def test_a_list_with_build_times_is_tag_infos(text: str, tags: list[TagInfo]) -> None:
    assert parse_tag_list(text, source="tags.txt") == tags


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("1.0.0\n1.0.0 a b\n", "tags.txt:2: expected 'TAG [CREATED]'"),
        ("1.0.0\n2.0.0 yesterday\n", "tags.txt:2: 'yesterday' is not an RFC 3339 time"),
        ("x\x1fyesterday\n", "tags.txt:1: 'yesterday' is not an RFC 3339 time"),
    ],
)
def test_a_malformed_line_is_an_error_naming_source_and_line(text: str, message: str) -> None:
    with pytest.raises(TagListError, match="^" + re.escape(message)):
        parse_tag_list(text, source="tags.txt")


def test_an_error_on_a_huge_line_quotes_only_its_start() -> None:
    with pytest.raises(TagListError) as caught:
        parse_tag_list("1 2 " + "x" * 100_000, source="-")
    assert len(str(caught.value)) < 200
    assert "(100004 characters)" in str(caught.value)


def test_a_huge_line_is_read_as_one_name() -> None:
    assert parse_tag_list("9" * 1_000_000 + "\n1\n", source="-") == ["9" * 1_000_000, "1"]
