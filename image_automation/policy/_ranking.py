"""Turn the tags that passed the name gates into ``(sort key, tag)`` pairs, one ordering each.

Each ranker appends a reason to ``skipped`` for every tag it cannot use ("not semver", "outside
range", "not a number", ...) and returns the rest. Pairs compare by key first and by tag bytes
second, so the winner is deterministic whatever the input order: among equal keys the greater
tag wins (``v1.0.0`` over ``1.0.0``, ``1.0.0+b`` over ``1.0.0+a``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from image_automation.domain import TagInfo
from image_automation.policy._ranges import SemverRange
from image_automation.policy._versions import FAST_RELEASE, RELEASE, VersionKey, parse_version

# Go's strconv.ParseFloat in decimal form; no hex floats, infinities, NaN or underscores.
_NUMBER = re.compile(r"[+-]?(?:[0-9]+(?:\.[0-9]*)?|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_MAX_NUMBER_LEN = 256


@dataclass(frozen=True, slots=True)
class Ranked:
    """Tags that reached ranking and their sort keys, as two parallel lists.

    Parallel lists instead of pairs: no tuple per tag, ``keys.count`` finds ties in C, and the
    tag list feeds ``dict.fromkeys`` for the losers directly.
    """

    keys: list[Any]
    tags: list[str]

    def __len__(self) -> int:
        return len(self.tags)

    def pick(self, *, highest: bool) -> tuple[Any, str]:
        """The winning ``(key, tag)``: highest (or lowest) key; among equal keys the greater
        tag, so the result does not depend on the input order."""
        if highest:
            best: tuple[Any, str] = max(zip(self.keys, self.tags, strict=True))
            return best
        low = min(self.keys)
        return (low, max(t for k, t in zip(self.keys, self.tags, strict=True) if k == low))


NOT_STRICT = "not semver (three dot parts required)"
NOT_SEMVER = "not semver"
NOT_A_NUMBER = "not a number"
PRERELEASE = "prerelease not allowed"
NO_TIMESTAMP = "no timestamp (created, pushed or first seen)"
NO_AGE = "no timestamp (pushed, created or first seen)"


def rank_semver(
    *,
    tags: Sequence[str],
    values: Sequence[str],
    semver_range: SemverRange,
    strict: bool,
    prereleases: bool,
    skipped: dict[str, str],
) -> Ranked:
    """Version keys for the tags whose value is a version inside the range."""
    outside = f'outside range "{semver_range.text}"'
    pre_ok = prereleases or semver_range.admits_prereleases()
    contains = semver_range.contains
    bounds = semver_range.simple_bounds()
    lo, hi = bounds if bounds is not None else (None, None)
    keys: list[VersionKey] = []
    kept: list[str] = []
    add_key, add_tag = keys.append, kept.append
    # One loop, no Python-level call per tag in the common case: a plain release is parsed by
    # one regex (run by map) and checked by a chained tuple comparison; the rest goes the
    # general way.
    for tag, value, match in zip(tags, values, map(FAST_RELEASE.fullmatch, values), strict=True):
        if match is not None and lo is not None:
            key: VersionKey | None = (int(match[1]), int(match[2]), int(match[3]), RELEASE)
            if lo <= key < hi:  # type: ignore[operator]
                add_key(key)  # type: ignore[arg-type]
                add_tag(tag)
            else:
                skipped[tag] = outside
            continue
        key = parse_version(value, strict=strict)
        if key is None:
            # The strict gate is about the dot count; three parts that still do not parse
            # (``1.2.beta``) are simply not semver.
            skipped[tag] = NOT_STRICT if strict and value.count(".") != 2 else NOT_SEMVER
        elif contains(key, prereleases=prereleases):
            add_key(key)
            add_tag(tag)
        elif key[3] != RELEASE and not pre_ok:
            skipped[tag] = PRERELEASE
        else:
            skipped[tag] = outside
    return Ranked(keys=keys, tags=kept)


def rank_alphabetical(*, tags: Sequence[str], values: Sequence[str]) -> Ranked:
    """The values themselves: Go compares strings by bytes, as Python compares code points."""
    return Ranked(keys=list(values), tags=list(tags))


def rank_numerical(
    *, tags: Sequence[str], values: Sequence[str], skipped: dict[str, str]
) -> Ranked:
    """Numbers; a value that is not a decimal number is skipped, never fatal."""
    ranked = Ranked(keys=[], tags=[])
    for tag, value in zip(tags, values, strict=True):
        number = (
            float(value) if len(value) <= _MAX_NUMBER_LEN and _NUMBER.fullmatch(value) else None
        )
        if number is None or math.isinf(number):  # Go's ParseFloat refuses "1e400" too
            skipped[tag] = NOT_A_NUMBER
        else:
            ranked.keys.append(number)
            ranked.tags.append(tag)
    return ranked


EARLIEST_BUILD = datetime(2013, 1, 1, tzinfo=UTC)
"""An image config ``created`` before this is a placeholder, not a build time: reproducible
builders (Jib, ko, Bazel, Nix) write 1970-01-01 or 0001-01-01. Docker did not exist yet."""


def _build_time(info: TagInfo) -> datetime | None:
    created = info.created
    if created is None or created.tzinfo is None:
        return created  # a naive time is reported by the caller, not hidden here
    return created if created >= EARLIEST_BUILD else None


def timestamp(info: TagInfo | None) -> datetime | None:
    """What ``newest_build`` orders by: build time, else push time, else first seen."""
    if info is None:
        return None
    return _build_time(info) or info.pushed or info.first_seen


def age_timestamp(info: TagInfo | None) -> datetime | None:
    """What ``min_age`` measures from: push time, else build time, else first seen.

    Push time first: a tag is as new as its arrival in the registry, however old its build
    (a rebuild of an old commit, a re-push under a new tag).
    """
    if info is None:
        return None
    return info.pushed or _build_time(info) or info.first_seen


def rank_newest(
    *, tags: Sequence[str], infos: Mapping[str, TagInfo], skipped: dict[str, str]
) -> Ranked:
    """Timestamps; a tag with no timestamp (or a naive one) is skipped."""
    ranked = Ranked(keys=[], tags=[])
    for tag in tags:
        when = timestamp(infos.get(tag))
        if when is None:
            skipped[tag] = NO_TIMESTAMP
        elif when.tzinfo is None:
            skipped[tag] = "timestamp has no time zone"
        else:
            ranked.keys.append(when)
            ranked.tags.append(tag)
    return ranked
