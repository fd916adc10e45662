"""Tag text to semver precedence keys: Flux's strict gate and Masterminds' coercion."""

import pytest

from image_automation.policy._versions import (
    RELEASE,
    format_key,
    parse_version,
    successor,
)

STRICT_CASES = [
    ("1.2.3", (1, 2, 3, RELEASE)),
    ("v1.2.3", (1, 2, 3, RELEASE)),
    ("0.0.0", (0, 0, 0, RELEASE)),
    ("1.2.3-rc.1", (1, 2, 3, ((1, 0, "rc"), (0, 1, "")))),
    ("1.2.3+build.5", (1, 2, 3, RELEASE)),
    ("1.2.3-alpha+sha.1", (1, 2, 3, ((1, 0, "alpha"),))),
    ("1.2.3-0a", (1, 2, 3, ((1, 0, "0a"),))),
    ("1.2", None),
    ("1", None),
    ("1.2.3.4", None),
    # Flux's gate counts dots in the whole tag (three dot-separated parts), then Masterminds'
    # NewVersion reads it leniently: a dotted prerelease completes a two-part version, a
    # one-part one too, and leading zeros in the numbers are accepted (`v2025.07.03`).
    ("1.2-rc.1", (1, 2, 0, ((1, 0, "rc"), (0, 1, "")))),
    ("v1.2-rc.1", (1, 2, 0, ((1, 0, "rc"), (0, 1, "")))),
    ("1.2-beta.5", (1, 2, 0, ((1, 0, "beta"), (0, 5, "")))),
    ("1-rc.1.2", (1, 0, 0, ((1, 0, "rc"), (0, 1, ""), (0, 2, "")))),
    ("1.2+build.5", (1, 2, 0, RELEASE)),
    ("1.2-x.Y+b", (1, 2, 0, ((1, 0, "x"), (1, 0, "Y")))),
    ("2025.07.03", (2025, 7, 3, RELEASE)),
    ("v2025.07.03-rc.1", (2025, 7, 3, ((1, 0, "rc"), (0, 1, "")))),
    ("01.2.3", (1, 2, 3, RELEASE)),
    ("1.02.3", (1, 2, 3, RELEASE)),
    ("1.2-rc1", None),  # one dot: two parts
    ("1.2-5", None),
    ("v1.0", None),
    ("v1.2.beta", None),
    ("1.2-rc.01", None),  # a numeric prerelease identifier keeps no leading zero
    ("1.2.3-01", None),
    ("1.2.3-", None),
    ("1.2.3-a..b", None),
    ("1.2.3+", None),
    ("V1.2.3", None),
    ("latest", None),
    ("1.2.3\n", None),
    ("\u0661.\u0662.\u0663", None),  # Arabic-Indic digits are not ASCII digits
    ("18446744073709551616.0.0", None),  # above uint64
]


@pytest.mark.parametrize(("text", "key"), STRICT_CASES)
def test_flux_gate_needs_three_dot_parts_then_reads_leniently(text: str, key: object) -> None:
    assert parse_version(text, strict=True) == key


COERCE_CASES = [
    ("1.2", (1, 2, 0, RELEASE)),
    ("1", (1, 0, 0, RELEASE)),
    ("v2", (2, 0, 0, RELEASE)),
    ("01.2.3", (1, 2, 3, RELEASE)),
    ("1.2-beta", (1, 2, 0, ((1, 0, "beta"),))),
    ("1.2.3.4", None),
    ("1.2.3-01", None),
    ("", None),
    ("x", None),
]


@pytest.mark.parametrize(("text", "key"), COERCE_CASES)
def test_coercion_fills_missing_parts_with_zero(text: str, key: object) -> None:
    assert parse_version(text, strict=False) == key


# semver.org §11 example chain, lowest first.
PRECEDENCE_CHAIN = [
    "1.0.0-alpha",
    "1.0.0-alpha.1",
    "1.0.0-alpha.beta",
    "1.0.0-beta",
    "1.0.0-beta.2",
    "1.0.0-beta.11",
    "1.0.0-rc.1",
    "1.0.0",
    "1.0.1",
    "1.1.0",
    "2.0.0",
    "10.0.0",
]


def test_keys_sort_by_semver_precedence() -> None:
    keys = [parse_version(v, strict=True) for v in PRECEDENCE_CHAIN]
    assert keys == sorted(keys)  # type: ignore[type-var]
    assert len(set(keys)) == len(keys)


def test_build_metadata_has_no_precedence() -> None:
    assert parse_version("1.0.0+a", strict=True) == parse_version("1.0.0+b", strict=True)


@pytest.mark.parametrize("text", ["1.2.3", "1.2.3-rc.1", "0.0.0-0"])
def test_successor_is_the_next_key_above(text: str) -> None:
    key = parse_version(text, strict=True)
    assert key is not None
    after = successor(key)
    assert key < after
    assert format_key(key) == text


def test_nothing_lies_between_a_release_and_its_successor() -> None:
    key = parse_version("1.2.3", strict=True)
    assert key is not None
    after = successor(key)
    for text in ["1.2.3+meta", "1.2.4-0", "1.2.4-alpha", "1.2.4"]:
        other = parse_version(text, strict=True)
        assert other is not None
        assert not key < other < after, text
