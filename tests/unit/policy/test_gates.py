"""Time-based orderings and gates (newest_build, minAge) and exact holds (pin, follow)."""

from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from image_automation.domain import Decision, TagInfo
from image_automation.policy import SelectionSpec, select
from image_automation.policy._select import format_duration

NOW = datetime(2026, 11, 22, 12, 0, tzinfo=UTC)
HOUR = timedelta(hours=1)


def decide(tags: list[TagInfo | str], **spec: Any) -> Decision:
    return select(SelectionSpec(name="app", **spec), tags, now=NOW)


def test_newest_build_orders_by_created_then_pushed_then_first_seen() -> None:
    tags: list[TagInfo | str] = [
        TagInfo("a", created=NOW - 5 * HOUR, pushed=NOW - HOUR),  # created wins: 5h old
        TagInfo("b", pushed=NOW - 2 * HOUR),
        TagInfo("c", first_seen=NOW - 3 * HOUR),
        "d",
    ]
    decision = decide(tags, ordering="newest_build")
    assert decision.tag == "b"
    assert decision.lost == {"a": "built before b", "c": "built before b"}
    assert decision.skipped == {"d": "no timestamp (created, pushed or first seen)"}


def test_newest_build_ties_go_to_the_greater_tag() -> None:
    tags: list[TagInfo | str] = [TagInfo("main-2", created=NOW), TagInfo("main-10", created=NOW)]
    decision = decide(tags, ordering="newest_build")
    assert decision.tag == "main-2"
    assert decision.lost == {"main-10": "ties with main-2, which wins as the greater tag"}


def test_naive_timestamps_are_skipped_not_compared() -> None:
    tags: list[TagInfo | str] = [
        TagInfo("a", created=datetime(2026, 1, 1)),
        TagInfo("b", created=NOW - HOUR),
    ]
    decision = decide(tags, ordering="newest_build")
    assert decision.tag == "b"
    assert decision.skipped == {"a": "timestamp has no time zone"}


EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
"""What Jib, ko, Bazel and Nix write as ``created`` for reproducible builds."""


def test_newest_build_ignores_placeholder_build_times() -> None:
    tags: list[TagInfo | str] = [
        TagInfo("jib-2", created=EPOCH, pushed=NOW - HOUR),
        TagInfo("jib-1", created=EPOCH, pushed=NOW - 5 * HOUR),
        TagInfo("other", created=NOW - 3 * HOUR),
    ]
    assert decide(tags, ordering="newest_build").tag == "jib-2"


MIN_AGE_CASES = [
    pytest.param(
        TagInfo("1.2.0", created=NOW - 3 * HOUR), "younger than minAge 24h (age 3h)", id="created"
    ),
    pytest.param(
        TagInfo("1.2.0", pushed=NOW - timedelta(minutes=90)),
        "younger than minAge 24h (age 1h30m)",
        id="pushed-when-no-created",
    ),
    pytest.param(
        TagInfo("1.2.0", first_seen=NOW - timedelta(seconds=5)),
        "younger than minAge 24h (age 5s)",
        id="first-seen-when-nothing-else",
    ),
    pytest.param(
        TagInfo("1.2.0", created=NOW + HOUR),
        "younger than minAge 24h (age in the future)",
        id="future-timestamp",
    ),
    pytest.param(
        TagInfo("1.2.0"),
        "no timestamp (pushed, created or first seen) for minAge 24h",
        id="no-timestamp",
    ),
    pytest.param(
        TagInfo("1.2.0", created=NOW - 30 * 24 * HOUR, pushed=NOW - 2 * HOUR),
        "younger than minAge 24h (age 2h)",
        id="push-time-before-an-old-build-time",
    ),
    pytest.param(
        TagInfo("1.2.0", created=EPOCH, first_seen=NOW - HOUR),
        "younger than minAge 24h (age 1h)",
        id="placeholder-build-time-ignored",
    ),
    pytest.param(
        TagInfo("1.2.0", created=datetime(1, 1, 1, tzinfo=UTC)),
        "no timestamp (pushed, created or first seen) for minAge 24h",
        id="only-a-placeholder-build-time",
    ),
    pytest.param("1.2.0", "no timestamp", id="bare-name"),
]


@pytest.mark.parametrize(("young", "reason"), MIN_AGE_CASES)
def test_min_age_skips_young_tags_and_falls_back_to_older(
    young: TagInfo | str, reason: str
) -> None:
    old = TagInfo("1.1.0", created=NOW - 48 * HOUR)
    decision = decide(
        [young, old], ordering="semver", semver_range="^1", min_age=timedelta(hours=24)
    )
    assert decision.tag == "1.1.0"
    assert decision.skipped["1.2.0"].startswith(reason)


def test_min_age_is_a_closed_bound() -> None:
    tags: list[TagInfo | str] = [TagInfo("1.2.0", created=NOW - 24 * HOUR)]
    decision = decide(tags, ordering="semver", semver_range="^1", min_age=timedelta(hours=24))
    assert decision.tag == "1.2.0"


def test_min_age_needs_an_aware_now() -> None:
    spec = SelectionSpec(name="app", ordering="alphabetical", min_age=HOUR)
    with pytest.raises(ValueError, match="timezone-aware"):
        select(spec, ["a"], now=datetime(2026, 1, 1))


@pytest.mark.parametrize(
    ("delta", "text"),
    [
        (timedelta(0), "0s"),
        (timedelta(seconds=45), "45s"),
        (timedelta(hours=24), "24h"),
        (timedelta(days=2, minutes=5), "48h5m"),
        (timedelta(hours=1, minutes=30, seconds=2), "1h30m2s"),
    ],
)
def test_durations_are_written_like_go(delta: timedelta, text: str) -> None:
    assert format_duration(delta) == text


def test_pin_selects_the_pinned_tag_even_when_a_newer_one_qualifies() -> None:
    decision = decide(
        ["1.0.0", "1.2.0", "1.3.0", "junk"], ordering="semver", semver_range="^1", pin="1.2.0"
    )
    assert decision.tag == "1.2.0"
    assert decision.reasons == ("pinned at 1.2.0",)
    assert decision.lost == {"1.0.0": "pinned at 1.2.0", "1.3.0": "pinned at 1.2.0"}
    assert decision.skipped == {"junk": "not semver (three dot parts required)"}


def test_pin_holds_a_tag_the_gates_would_skip() -> None:
    decision = decide(["1.0.0", "0.9.0"], ordering="semver", semver_range="^1", pin="0.9.0")
    assert decision.tag == "0.9.0"
    assert "0.9.0" not in decision.skipped
    assert decision.considered == ("1.0.0", "0.9.0")


def test_pin_carries_the_pinned_tags_digest_like_any_winner() -> None:
    tags: list[TagInfo | str] = [
        TagInfo("1.0.0", digest="sha256:aa"),
        TagInfo("1.1.0", digest="sha256:bb"),
    ]
    pinned = decide(tags, ordering="semver", semver_range="^1", pin="1.0.0")
    assert (pinned.tag, pinned.digest) == ("1.0.0", "sha256:aa")
    assert decide(tags, ordering="semver", semver_range="^1").digest == "sha256:bb"


def test_pin_absent_selects_nothing_and_says_so() -> None:
    decision = decide(["1.0.0", "1.1.0"], ordering="semver", semver_range="^1", pin="1.2.0")
    assert decision.tag is None
    assert decision.reasons == ("pinned at 1.2.0, but 1.2.0 is not among the 2 tags",)
    assert decision.lost == {"1.0.0": "pinned at 1.2.0", "1.1.0": "pinned at 1.2.0"}


def test_follow_selects_the_mutable_tag_with_its_digest() -> None:
    tags: list[TagInfo | str] = [
        TagInfo("latest", digest="sha256:11"),
        TagInfo("1.0.0", digest="sha256:22"),
    ]
    decision = decide(tags, ordering="follow", follow_tag="latest")
    assert decision.tag == "latest"
    assert decision.digest == "sha256:11"
    assert decision.reasons == ("following latest",)
    assert decision.lost == {"1.0.0": "following latest"}


def test_follow_without_a_known_digest_says_so() -> None:
    decision = decide(["latest", "stable"], ordering="follow", follow_tag="stable")
    assert decision.tag == "stable"
    assert decision.digest is None
    assert decision.reasons == ("following stable", "digest of stable is unknown")


def test_follow_of_a_missing_tag_selects_nothing() -> None:
    decision = decide(["latest"], ordering="follow", follow_tag="stable")
    assert decision.tag is None
    assert decision.reasons == ("following stable, but stable is not among the 1 tags",)
