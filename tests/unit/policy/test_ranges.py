"""Semver ranges follow the Masterminds v3 constraint rules Flux uses."""

import pytest

from image_automation.policy import InvalidRange, parse_range
from image_automation.policy._versions import parse_version


def satisfies(range_text: str, version: str, *, prereleases: bool = False) -> bool:
    key = parse_version(version, strict=False)
    assert key is not None, version
    return parse_range(range_text).contains(key, prereleases=prereleases)


# (range, version, satisfied) written from the Masterminds v3 documentation's equivalences.
CASES = [
    # basic comparisons
    ("1.2.3", "1.2.3", True),
    ("=1.2.3", "1.2.4", False),
    ("=1.2.3", "1.2.3+build", True),
    ("!=1.2.3", "1.2.3", False),
    ("!=1.2.3", "1.2.4", True),
    (">1.2.3", "1.2.3", False),
    (">1.2.3", "1.2.4", True),
    ("<1.2.3", "1.2.2", True),
    ("<1.2.3", "1.2.3", False),
    (">=1.2.3", "1.2.3", True),
    ("=>1.2.3", "1.2.2", False),
    ("<=1.2.3", "1.2.3", True),
    ("=<1.2.3", "1.2.4", False),
    ("v1.2.3", "1.2.3", True),
    (">= 1.2.3", "1.3.0", True),
    # AND by space or comma, OR by ||
    (">=1.0.0 <2.0.0", "1.9.9", True),
    (">=1.0.0 <2.0.0", "2.0.0", False),
    (">=1.0.0, <2.0.0", "0.9.0", False),
    (">= 1.2, < 3.0.0 || >= 4.2.3", "2.5.0", True),
    (">= 1.2, < 3.0.0 || >= 4.2.3", "3.5.0", False),
    (">= 1.2, < 3.0.0 || >= 4.2.3", "4.2.3", True),
    # hyphen ranges: 1.2 - 1.4.5 is >= 1.2, <= 1.4.5; 2.3.4 - 4.5 is >= 2.3.4, <= 4.5
    ("1.2 - 1.4.5", "1.2.0", True),
    ("1.2 - 1.4.5", "1.4.5", True),
    ("1.2 - 1.4.5", "1.4.6", False),
    ("1.2 - 1.4.5", "1.1.9", False),
    ("2.3.4 - 4.5", "4.5.9", True),
    ("2.3.4 - 4.5", "4.6.0", False),
    # wildcards: 1.2.x is >= 1.2.0, < 1.3.0; >= 1.2.x is >= 1.2.0; <= 2.x is < 3; * any
    ("1.2.x", "1.2.0", True),
    ("1.2.x", "1.2.99", True),
    ("1.2.x", "1.3.0", False),
    ("1.2.X", "1.2.5", True),
    ("1.2.*", "1.2.5", True),
    ("1.x", "1.9.0", True),
    ("1.x", "2.0.0", False),
    ("1.2", "1.2.7", True),
    ("1", "1.7.0", True),
    (">= 1.2.x", "1.2.0", True),
    (">= 1.2.x", "1.1.9", False),
    ("<= 2.x", "2.9.9", True),
    ("<= 2.x", "3.0.0", False),
    ("<=1.2", "1.2.9", True),
    ("<=1.2", "1.3.0", False),
    ("<1.2.x", "1.1.9", True),
    ("<1.2.x", "1.2.0", False),
    (">1.2", "1.2.9", False),
    (">1.2", "1.3.0", True),
    (">1", "1.9.9", False),
    (">1", "2.0.0", True),
    ("!=1.2.x", "1.2.3", False),
    ("!=1.2.x", "1.3.0", True),
    ("!=1.x", "1.9.0", False),
    ("!=1.x", "2.0.0", True),
    ("*", "0.0.0", True),
    ("*", "99.0.0", True),
    ("X", "3.2.1", True),
    # tilde: ~1.2.3 is >= 1.2.3, < 1.3.0; ~1 is >= 1, < 2; ~2.3 is >= 2.3, < 2.4
    ("~1.2.3", "1.2.3", True),
    ("~1.2.3", "1.2.9", True),
    ("~1.2.3", "1.3.0", False),
    ("~1.2.3", "1.2.2", False),
    ("~1", "1.9.9", True),
    ("~1", "2.0.0", False),
    ("~2.3", "2.3.5", True),
    ("~2.3", "2.4.0", False),
    ("~1.2.x", "1.2.5", True),
    ("~1.x", "1.5.0", True),
    ("~1.x", "2.0.0", False),
    ("~>1.2.3", "1.2.8", True),
    ("~0.0.0", "5.0.0", True),
    # caret: ^1.2.3 is >= 1.2.3, < 2.0.0; ^0.2.3 is >= 0.2.3, < 0.3.0; ^0.0.3 is =0.0.3
    ("^1.2.3", "1.2.3", True),
    ("^1.2.3", "1.9.0", True),
    ("^1.2.3", "2.0.0", False),
    ("^1.2.3", "1.2.2", False),
    ("^1.2.x", "1.9.0", True),
    ("^2.3", "2.9.0", True),
    ("^2.3", "3.0.0", False),
    ("^2.x", "2.0.0", True),
    ("^0.2.3", "0.2.9", True),
    ("^0.2.3", "0.3.0", False),
    ("^0.2", "0.2.0", True),
    ("^0.2", "0.3.0", False),
    ("^0.0.3", "0.0.3", True),
    ("^0.0.3", "0.0.4", False),
    ("^0.0", "0.0.9", True),
    ("^0.0", "0.1.0", False),
    ("^0", "0.9.9", True),
    ("^0", "1.0.0", False),
    # wildcard-major quirks kept for fidelity with Masterminds' implementation
    ("~*", "7.0.0", True),
    ("^*", "0.0.0", True),
    ("^*", "0.0.1", False),
    ("<=*", "0.0.9", True),
    ("<=*", "0.1.0", False),
    (">*", "0.0.0", False),
    (">*", "0.0.1", True),
    ("!=*", "0.0.0", False),
    ("!=*", "1.0.0", True),
    ("<*", "0.0.0", False),
]


@pytest.mark.parametrize(("range_text", "version", "expected"), CASES)
def test_range_matches_masterminds_rules(range_text: str, version: str, expected: bool) -> None:
    assert satisfies(range_text, version) is expected


# Prereleases count only when a comparator of the same OR group has one (Masterminds v3).
PRERELEASE_CASES = [
    (">=1.2.3", "1.2.4-beta", False),
    (">=1.2.3-0", "1.2.4-beta", True),
    (">=1.2.3-0", "1.2.3-alpha", True),
    (">=1.2.3-BETA", "1.2.3-alpha", True),  # ASCII order: upper case sorts first
    ("<1.2.3", "1.2.3-beta", False),
    (">=1.0.0-0 <2.0.0", "1.5.0-rc.1", True),
    (">=1.0.0-0 <2.0.0", "2.0.0-rc.1", True),  # Masterminds: 2.0.0-rc.1 < 2.0.0 (npm differs)
    (">=1.0.0-0 <2.0.0-0", "2.0.0-rc.1", False),
    (">=2.0.0-0 || >=1.0.0", "1.5.0-rc.1", False),  # the 2nd group names no prerelease
    (">=1.0.0 || >=1.0.0-0", "1.5.0-rc.1", True),
    ("^1.2.3", "2.0.0-beta", False),
    ("~1.2.3-beta.2", "1.2.3-beta.4", True),
    ("~1.2.3-beta.2", "1.2.3-beta.1", False),
    ("!=1.2.3-rc.1", "1.2.3-rc.2", True),
    ("!=1.2.3-rc.1", "1.2.3-rc.1", False),
]


@pytest.mark.parametrize(("range_text", "version", "expected"), PRERELEASE_CASES)
def test_prereleases_need_a_prerelease_comparator_in_the_group(
    range_text: str, version: str, expected: bool
) -> None:
    assert satisfies(range_text, version) is expected


@pytest.mark.parametrize(
    ("range_text", "version", "expected"),
    [
        (">=1.2.3", "1.2.4-beta", True),
        ("^1.0.0", "1.5.0-rc.1", True),
        ("^1.0.0", "2.0.0-rc.1", False),
        ("<1.2.3", "1.2.3-beta", True),
    ],
)
def test_prereleases_opt_in_admits_them_everywhere(
    range_text: str, version: str, expected: bool
) -> None:
    assert satisfies(range_text, version, prereleases=True) is expected


INVALID = [
    "",
    "   ",
    "||",
    ">=1.0.0 ||",
    "foo",
    "1.2.3.4",
    ">>1.0.0",
    "1.2.3,",
    ", 1.2.3",
    "1.2.3 garbage",
    "1.x2",
    ">=1.0.0 <2.0.0 ||" * 40,
    "1" * 600,
    "18446744073709551616",
    "1.2.3-01",
]


@pytest.mark.parametrize("text", INVALID)
def test_invalid_range_is_refused_with_a_message(text: str) -> None:
    with pytest.raises(InvalidRange) as caught:
        parse_range(text)
    assert str(caught.value)


def test_invalid_range_is_a_value_error() -> None:
    assert issubclass(InvalidRange, ValueError)


def test_range_keeps_its_text() -> None:
    assert str(parse_range(">=1.0.0 <2.0.0")) == ">=1.0.0 <2.0.0"
