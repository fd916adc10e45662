"""select(): which tag wins, and a reason for every tag that does not."""

from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import pytest

from image_automation.domain import Decision, TagInfo
from image_automation.policy import InvalidSpec, SelectionSpec, select

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)


def decide(tags: Sequence[TagInfo | str], **spec: Any) -> Decision:
    spec.setdefault("name", "app")
    return select(SelectionSpec(**spec), tags, now=NOW)


def accounted(decision: Decision, tags: Sequence[TagInfo | str]) -> None:
    """Every distinct input tag is exactly one of: the winner, skipped, lost."""
    names = {t if isinstance(t, str) else t.name for t in tags}
    winner = {decision.tag} if decision.tag is not None else set()
    assert not winner & decision.skipped.keys()
    assert not winner & decision.lost.keys()
    assert not decision.skipped.keys() & decision.lost.keys()
    assert winner | decision.skipped.keys() | decision.lost.keys() == names


SEMVER = {"ordering": "semver", "semver_range": ">=1.0.0 <2.0.0"}

# (tags, spec, winner, {tag: reason fragment} over skipped and lost)
CASES = [
    pytest.param(
        ["1.0.0", "1.4.0", "1.3.9"],
        SEMVER,
        "1.4.0",
        {"1.0.0": "older than 1.4.0", "1.3.9": "older than 1.4.0"},
        id="semver-highest-in-range-wins",
    ),
    pytest.param(
        ["1.4.0", "2.0.0", "0.9.0"],
        SEMVER,
        "1.4.0",
        {"2.0.0": 'outside range ">=1.0.0 <2.0.0"', "0.9.0": "outside range"},
        id="semver-outside-range-is-skipped",
    ),
    pytest.param(
        ["1.4.0", "1.5.0.sig", "sha256-abc.sig"],
        SEMVER,
        "1.4.0",
        {"1.5.0.sig": r"excluded by ^.*\.sig$", "sha256-abc.sig": "excluded by"},
        id="default-exclusion-skips-signatures",
    ),
    pytest.param(
        ["1.4.0", "1.5", "latest", "1.5.0.1"],
        SEMVER,
        "1.4.0",
        {"1.5": "not semver (three dot parts required)", "latest": "not semver"},
        id="strict-semver-needs-three-parts",
    ),
    pytest.param(
        ["1.4.0", "1.5"],
        {**SEMVER, "strict_semver": False},
        "1.5",
        {"1.4.0": "older than 1.5"},
        id="coercion-reads-1.5-as-1.5.0",
    ),
    pytest.param(
        ["1.4.0", "1.5.0-rc.1"],
        SEMVER,
        "1.4.0",
        {"1.5.0-rc.1": "prerelease not allowed"},
        id="prerelease-needs-a-prerelease-range",
    ),
    pytest.param(
        ["1.4.0", "1.5.0-rc.1"],
        {**SEMVER, "prereleases": True},
        "1.5.0-rc.1",
        {"1.4.0": "older than"},
        id="prereleases-opt-in",
    ),
    pytest.param(
        ["1.4.0", "1.5.0-rc.1"],
        {"ordering": "semver", "semver_range": ">=1.0.0-0 <2.0.0"},
        "1.5.0-rc.1",
        {},
        id="prerelease-comparator-admits-prereleases",
    ),
    pytest.param(
        ["1.0.0", "v1.0.0"],
        SEMVER,
        "v1.0.0",
        {"1.0.0": "ties with v1.0.0"},
        id="equal-precedence-greater-tag-wins-v-prefix",
    ),
    pytest.param(
        ["1.0.0", "1.0.0+b", "1.0.0+a"],
        SEMVER,
        "1.0.0",
        {"1.0.0+b": "not a valid OCI tag", "1.0.0+a": "not a valid OCI tag"},
        id="build-metadata-cannot-be-in-an-oci-tag",
    ),
    pytest.param(
        ["1.2-alpine", "1.3-alpine", "1.3", "1.4-alpine-rc", "-alpine"],
        {"ordering": "semver", "semver_range": "^1", "strict_semver": False, "suffix": "-alpine"},
        "1.3-alpine",
        {
            "1.3": "does not end with suffix -alpine",
            "1.4-alpine-rc": "does not end with suffix",
            "-alpine": "not a valid OCI tag",
            "1.2-alpine": "older than 1.3-alpine",
        },
        id="suffix-keeps-the-variant",
    ),
    pytest.param(
        ["1.0.0", "1.1.0", "1.2.0"],
        {**SEMVER, "deny": (r"^1\.2\.",)},
        "1.1.0",
        {"1.2.0": r"denied by ^1\.2\."},
        id="deny-skips",
    ),
    pytest.param(
        ["1.0.0", "1.1.0", "1.2.0"],
        {**SEMVER, "allow": (r"^1\.0\.", r"^1\.1\.")},
        "1.1.0",
        {"1.2.0": "not allowed (matches none of:"},
        id="allow-list-skips-the-rest",
    ),
    pytest.param(
        ["a", "c", "b"],
        {"ordering": "alphabetical"},
        "c",
        {"a": "sorts before c", "b": "sorts before c"},
        id="alphabetical-asc-selects-the-last",
    ),
    pytest.param(
        ["b", "a", "c"],
        {"ordering": "alphabetical", "order": "desc"},
        "a",
        {"b": "sorts after a", "c": "sorts after a"},
        id="alphabetical-desc-selects-the-first",
    ),
    pytest.param(
        ["RELEASE.2023-01-31T08-42-01Z", "RELEASE.2024-02-01T00-00-00Z", "latest"],
        {"ordering": "alphabetical", "filter_pattern": r"^RELEASE\.(?P<ts>.*)Z$", "extract": "$ts"},
        "RELEASE.2024-02-01T00-00-00Z",
        {"latest": r"does not match filter ^RELEASE\.(?P<ts>.*)Z$"},
        id="alphabetical-on-extracted-timestamp",
    ),
    pytest.param(
        ["1", "10", "9", "abc", "2.5"],
        {"ordering": "numerical"},
        "10",
        {"abc": "not a number", "9": "smaller than 10"},
        id="numerical-bad-tag-is-skipped-not-fatal",
    ),
    pytest.param(
        ["1", "10", "9"],
        {"ordering": "numerical", "order": "desc"},
        "1",
        {"10": "larger than 1"},
        id="numerical-desc-selects-the-lowest",
    ),
    pytest.param(
        ["1e3", "999", "inf", "nan", "0x10", "1_000", " 5", "1e400"],
        {"ordering": "numerical"},
        "1e3",
        {
            "inf": "not a number",
            "nan": "not a number",
            "0x10": "not a number",
            " 5": "not a",
            "1e400": "not a",
        },
        id="numerical-accepts-decimal-floats-only",
    ),
    pytest.param(
        ["1", "1.0"],
        {"ordering": "numerical"},
        "1.0",
        {"1": "ties with 1.0"},
        id="numerical-tie-greater-tag-wins",
    ),
    pytest.param(
        ["main-abc-100", "main-def-99", "dev-1", "main-aaa-"],
        {
            "ordering": "numerical",
            "filter_pattern": r"^main-[a-f0-9]+-(?P<ts>\d*)$",
            "extract": "$ts",
        },
        "main-abc-100",
        {"dev-1": "does not match filter", "main-aaa-": "extract $ts is empty"},
        id="numerical-on-extracted-build-number",
    ),
]


@pytest.mark.parametrize(("tags", "spec", "winner", "reasons"), CASES)
def test_selection(
    tags: list[str], spec: dict[str, Any], winner: str, reasons: dict[str, str]
) -> None:
    decision = decide(tags, **spec)
    assert decision.tag == winner
    assert decision.policy == "app"
    for tag, fragment in reasons.items():
        why = decision.why(tag)
        assert why is not None, tag
        assert fragment in why, (tag, why)
    accounted(decision, tags)


def test_considered_lists_tags_past_the_name_gates_in_input_order() -> None:
    tags = ["2.0.0", "x.sig", "1.1.0", "latest", "1.0.0"]
    decision = decide(tags, **SEMVER)
    assert decision.considered == ("2.0.0", "1.1.0", "latest", "1.0.0")
    assert decision.skipped == {
        "x.sig": r"excluded by ^.*\.sig$",
        "2.0.0": 'outside range ">=1.0.0 <2.0.0"',
        "latest": "not semver (three dot parts required)",
    }
    assert decision.lost == {"1.0.0": "older than 1.1.0"}


def test_duplicated_tags_count_once() -> None:
    decision = decide(["1.0.0", "1.1.0", "1.0.0", TagInfo("1.1.0")], **SEMVER)
    assert decision.considered == ("1.0.0", "1.1.0")
    assert decision.tag == "1.1.0"
    assert decision.lost == {"1.0.0": "older than 1.1.0"}


def test_nothing_qualifies_says_how_many_were_skipped() -> None:
    decision = decide(["latest", "2.0.0", "a.sig"], **SEMVER)
    assert decision.tag is None
    assert not decision.selected
    assert decision.reasons == ("nothing qualifies: 3 tags, 3 skipped",)


def test_empty_tag_list_selects_nothing() -> None:
    decision = decide([], **SEMVER)
    assert decision.tag is None
    assert decision.reasons == ("nothing qualifies: 0 tags, 0 skipped",)


def test_winner_carries_its_digest() -> None:
    tags = [TagInfo("1.0.0", digest="sha256:aa"), TagInfo("1.1.0", digest="sha256:bb")]
    assert decide(tags, **SEMVER).digest == "sha256:bb"
    assert decide(["1.0.0", *tags], **SEMVER).digest == "sha256:bb"
    assert decide(["1.0.0", "1.1.0"], **SEMVER).digest is None


def test_invalid_spec_raises_before_looking_at_tags() -> None:
    with pytest.raises(InvalidSpec, match=r"policy\.semver\.range"):
        decide(["1.0.0"], ordering="semver", semver_range="nope")


def test_empty_extract_means_no_extraction_as_in_flux() -> None:
    spec = {"ordering": "alphabetical", "filter_pattern": r"^build-", "extract": ""}
    decision = decide(["build-2", "build-10", "other"], **spec)
    assert decision.tag == "build-2"
    assert decision.skipped == {"other": "does not match filter ^build-"}


def test_tags_may_be_any_iterable_of_names_and_infos() -> None:
    tags = (t for t in [TagInfo("1.0.0", digest="sha256:aa"), "1.1.0"])
    decision = decide(tags, **SEMVER)  # type: ignore[arg-type]
    assert decision.tag == "1.1.0"
    assert decision.digest is None
    assert decision.lost == {"1.0.0": "older than 1.1.0"}


@pytest.mark.parametrize(
    ("tag", "reason"),
    [
        ("1.2.beta", "not semver"),
        ("1.2.3.4", "not semver (three dot parts required)"),
        ("1.2", "not semver (three dot parts required)"),
        ("release", "not semver (three dot parts required)"),
    ],
)
def test_the_strict_gate_blames_the_dot_count_only_when_it_is_the_cause(
    tag: str, reason: str
) -> None:
    decision = decide(["1.0.0", tag], **SEMVER)
    assert decision.skipped[tag] == reason
