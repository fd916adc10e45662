"""A tag that is not a valid OCI tag is never selected: skipped with one reason, every policy."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from image_automation.domain import TagInfo
from image_automation.policy import SelectionSpec, select

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
REASON = "not a valid OCI tag"

HOSTILE = [
    "a;b",
    "$(id)",
    "`id`",
    "9" * 100_000,  # would win a numerical policy
    "z" * 129,  # one over the grammar's 128
    "-1.0.0",
    ".hidden",
    "1.0.0\n2.0.0",  # a newline posing as two tags
    "",
    "1.0.0 ",
    "1.0.0/../x",
    "tag\x00",
    "ünïcode",
    "{{ .Values.tag }}",
]

POLICIES = [
    {"ordering": "alphabetical", "order": "asc"},
    {"ordering": "numerical", "order": "asc"},
    {"ordering": "semver", "semver_range": ">=0.0.0"},
    {"ordering": "semver", "semver_range": "*", "strict_semver": False},
]


@pytest.mark.parametrize("spec", POLICIES)
@pytest.mark.parametrize("bad", HOSTILE, ids=lambda t: repr(t[:20]))
def test_an_invalid_tag_is_skipped_as_not_a_valid_oci_tag(spec: dict[str, Any], bad: str) -> None:
    decision = select(SelectionSpec(name="app", **spec), ["1", "2.0.0", bad], now=NOW)
    assert decision.tag in ("1", "2.0.0")
    assert decision.skipped[bad] == REASON
    assert bad not in decision.considered
    assert bad not in decision.lost


def test_invalid_tags_are_skipped_in_tag_infos_too() -> None:
    tags = [TagInfo("1.0.0"), TagInfo("a;b"), TagInfo("2.0.0;rm")]
    decision = select(SelectionSpec(name="app", ordering="alphabetical"), tags, now=NOW)
    assert decision.tag == "1.0.0"
    assert decision.skipped == {"a;b": REASON, "2.0.0;rm": REASON}


def test_only_invalid_tags_select_nothing_and_say_how_many_were_skipped() -> None:
    decision = select(SelectionSpec(name="app", ordering="alphabetical"), ["a;b", "$(id)"], now=NOW)
    assert decision.tag is None
    assert decision.reasons == ("nothing qualifies: 2 tags, 2 skipped",)


def test_a_pin_cannot_select_an_invalid_tag_among_the_input() -> None:
    spec = SelectionSpec(name="app", ordering="alphabetical", pin="1.0.0")
    decision = select(spec, ["1.0.0", "1.0.0;x"], now=NOW)
    assert decision.tag == "1.0.0"
    assert decision.skipped == {"1.0.0;x": REASON}
