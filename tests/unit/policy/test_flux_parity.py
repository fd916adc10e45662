"""A Flux ImagePolicy (semver, alphabetical, numerical, filterTags) selects what Flux selects.

Expected answers follow from Flux's rules: tags pass ``version.ParseVersion`` (three parts on
dots, then Masterminds' lenient ``NewVersion``) and a Masterminds v3 constraint; alphabetical
compares bytes; numerical reads floats; filterTags searches the pattern and expands ``extract``
on the match.
"""

from datetime import UTC, datetime

import pytest

from image_automation.policy import InvalidRange, SelectionSpec, parse_range, select

NOW = datetime(2026, 11, 22, tzinfo=UTC)


@pytest.mark.parametrize("text", ["2.1.x", "^2.1", "=2.1.0", "~2.1", ">=2.1", ">0,<3.0"])
def test_ranges_flux_accepts_parse(text: str) -> None:
    assert parse_range(text).groups


@pytest.mark.parametrize("text", ["2.1.0q", "2x", "x2", "-2", "b", ""])
def test_ranges_flux_refuses_are_invalid(text: str) -> None:
    with pytest.raises(InvalidRange):
        parse_range(text)


SEMVER_PICKS = [
    (["2.1.0", "2.1.0.1", "2.1.0q", "2.1.4", "2.3.0", "0.2.0"], "2.1.x", "2.1.4"),
    (["v2.3.4", "v2.1.0", "v0.2.0"], "2.1.x", "v2.1.0"),
    (["c2.3.4", "c2.1.0"], "2.1.x", None),
    ([], "2.1.x", None),
    (["2.3.0"], "2.1.x", None),
    (["5.1.0", "5.1.2", "5.1", "5.1.10", "5.2.0"], "5.1.x", "5.1.10"),
    (["1.0.0-rc.1", "0.9.0"], ">=0.1.0", "0.9.0"),
    (["1.0.0-rc.1", "0.9.0"], ">=0.1.0-0", "1.0.0-rc.1"),
    # A two-part version with a dotted prerelease passes Flux's three-part gate as 1.2.0-rc.1.
    (["1.2-rc.1", "1.1.0"], ">=1.0.0-0", "1.2-rc.1"),
    (["1.2.0-rc.0", "1.2-rc.1", "1.2-rc1"], ">=1.2.0-0", "1.2-rc.1"),
    (["1.2-rc.1", "1.1.0"], ">=1.0.0", "1.1.0"),
    (["v2025.07.03", "v2025.06.30"], ">=2025.0.0", "v2025.07.03"),
]


@pytest.mark.parametrize(("tags", "range_text", "expected"), SEMVER_PICKS)
def test_semver_policy_picks_what_flux_picks(
    tags: list[str], range_text: str, expected: str | None
) -> None:
    spec = SelectionSpec(name="flux", ordering="semver", semver_range=range_text, exclusion=())
    assert select(spec, tags, now=NOW).tag == expected


@pytest.mark.parametrize(
    ("tags", "order", "expected"),
    [
        (["xenial", "yakkety", "zesty", "artful", "bionic"], "asc", "zesty"),
        (["xenial", "yakkety", "zesty", "artful", "bionic"], "desc", "artful"),
        (["aa", "Ab", "AB", "a1"], "asc", "aa"),  # bytes: digits < upper case < lower case
        (["aa", "Ab", "AB", "a1"], "desc", "AB"),
    ],
)
def test_alphabetical_policy_picks_what_flux_picks(
    tags: list[str], order: str, expected: str
) -> None:
    spec = SelectionSpec(name="flux", ordering="alphabetical", order=order)  # type: ignore[arg-type]
    assert select(spec, tags, now=NOW).tag == expected


@pytest.mark.parametrize(
    ("tags", "order", "expected"),
    [
        # Flux's table holds negative numbers, but an OCI tag cannot start with "-": no
        # registry serves them, and we skip them as "not a valid OCI tag" (Flux: "-88").
        (["-62", "-88", "73", "72", "15", "16", "15", "-10"], "asc", "73"),
        (["-62", "-88", "73", "72", "15", "16", "15", "-10"], "desc", "15"),
        (["1.5", "1.25", "0.9e1"], "asc", "0.9e1"),
    ],
)
def test_numerical_policy_picks_what_flux_picks(tags: list[str], order: str, expected: str) -> None:
    spec = SelectionSpec(name="flux", ordering="numerical", order=order)  # type: ignore[arg-type]
    assert select(spec, tags, now=NOW).tag == expected


def test_filter_tags_extract_then_order_like_flux() -> None:
    spec = SelectionSpec(
        name="flux",
        ordering="numerical",
        filter_pattern=r"^main-[a-fA-F0-9]+-(?P<ts>.*)",
        extract="$ts",
    )
    tags = ["main-4f2e1d-1699990000", "main-9c8b7a-1700000000", "feature-x-1800000000", "main"]
    assert select(spec, tags, now=NOW).tag == "main-9c8b7a-1700000000"
