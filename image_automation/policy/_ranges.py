"""Semver ranges with Masterminds v3 constraint rules, compiled to tuple bounds.

Flux's ``semver`` policy checks tags with Masterminds/semver v3 constraints, so a Flux user must
get the same answer here. Every comparator is turned into an inclusive lower bound, an exclusive
upper bound or an exclusion (``!=``) on the precedence keys of :mod:`._versions`; an AND group
is then the intersection ``lo <= key < hi`` minus its exclusions, and a range is an OR of groups.
That makes a check two tuple comparisons in the common case.

Rules (Masterminds v3): AND by whitespace or comma, OR by ``||``; operators ``=``, ``!=``,
``>``, ``<``, ``>=``/``=>``, ``<=``/``=<``, ``~``/``~>``, ``^``; ``x``, ``X`` and ``*`` are
wildcards and missing parts count as wildcards (``1.2`` is ``1.2.x``); ``A - B`` is
``>= A, <= B``; a prerelease is considered only when a comparator of the same OR group has a
prerelease, unless the caller opts in.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from image_automation.policy._versions import (
    LOWEST,
    RELEASE,
    TOP,
    UINT64_MAX,
    VersionKey,
    pre_key,
    successor,
)

MAX_RANGE_LEN = 512
MAX_OR_GROUPS = 32

_SEG = r"[0-9xX*]+"
_IDS = r"[0-9A-Za-z-]+(?:\.[0-9A-Za-z-]+)*"
_CV = rf"v?{_SEG}(?:\.{_SEG}){{0,2}}(?:-{_IDS})?(?:\+{_IDS})?"
_HYPHEN = re.compile(rf"({_CV})\s+-\s+({_CV})")
_COMPARATOR = re.compile(
    r"\s*(!=|>=|=>|<=|=<|~>|[=<>~^])?\s*"
    rf"v?({_SEG})(?:\.({_SEG}))?(?:\.({_SEG}))?(?:-({_IDS}))?(?:\+{_IDS})?"
)
_SEPARATOR = re.compile(r"\s*,\s*|\s+")
_WILDCARDS = frozenset({"x", "X", "*"})


class InvalidRange(ValueError):
    """A semver range that Masterminds v3 would refuse; the message says where and why."""


@dataclass(frozen=True, slots=True)
class _Exclusion:
    """``!=``: keys in ``[lo, hi)``, or with ``major.minor`` and prerelease equal to ``same``."""

    lo: VersionKey
    hi: VersionKey
    same: VersionKey | None = None

    def excludes(self, key: VersionKey) -> bool:
        same = self.same
        if same is not None:
            return key[0] == same[0] and key[1] == same[1] and key[3] == same[3]
        return self.lo <= key < self.hi


@dataclass(frozen=True, slots=True)
class _Group:
    """One AND group: ``lo <= key < hi``, none of ``exclusions``; ``has_pre`` admits prereleases."""

    lo: VersionKey
    hi: VersionKey
    exclusions: tuple[_Exclusion, ...]
    has_pre: bool

    def contains(self, key: VersionKey) -> bool:
        if not self.lo <= key < self.hi:
            return False
        return not any(ex.excludes(key) for ex in self.exclusions)


@dataclass(frozen=True, slots=True)
class SemverRange:
    """A parsed range; build it with :func:`parse_range`."""

    text: str
    groups: tuple[_Group, ...]

    def admits_prereleases(self) -> bool:
        """Whether some OR group names a prerelease (and so considers prereleases)."""
        return any(group.has_pre for group in self.groups)

    def contains(self, key: VersionKey, *, prereleases: bool = False) -> bool:
        """Whether ``key`` satisfies the range; ``prereleases`` opts every group in."""
        is_pre = key[3] != RELEASE
        for group in self.groups:
            if is_pre and not (prereleases or group.has_pre):
                continue
            if group.contains(key):
                return True
        return False

    def simple_bounds(self) -> tuple[VersionKey, VersionKey] | None:
        """``(lo, hi)`` when the range is one group without ``!=``: then a release satisfies it
        exactly when ``lo <= key < hi``. Lets the ranking loop skip a method call per tag."""
        if len(self.groups) == 1 and not self.groups[0].exclusions:
            return (self.groups[0].lo, self.groups[0].hi)
        return None

    def __str__(self) -> str:
        return self.text


def parse_range(text: str) -> SemverRange:
    """Parse a Masterminds v3 constraint string; raises :class:`InvalidRange`."""
    if len(text) > MAX_RANGE_LEN:
        raise InvalidRange(f"range is longer than {MAX_RANGE_LEN} characters")
    rewritten = _HYPHEN.sub(r">= \1, <= \2 ", text)
    parts = rewritten.split("||")
    if len(parts) > MAX_OR_GROUPS:
        raise InvalidRange(f"range has more than {MAX_OR_GROUPS} '||' groups")
    return SemverRange(text=text, groups=tuple(_parse_group(part, text) for part in parts))


def _parse_group(part: str, whole: str) -> _Group:
    if not part.strip():
        raise InvalidRange(f"empty constraint in {whole!r}")
    lo: VersionKey = (0, 0, 0, LOWEST)
    hi: VersionKey = TOP
    exclusions: list[_Exclusion] = []
    has_pre = False
    pos = 0
    end = len(part.rstrip())
    while pos < end:
        match = _COMPARATOR.match(part, pos)
        if match is None:
            raise InvalidRange(f"improper constraint {part[pos:].strip()!r} in {whole!r}")
        op = match.group(1) or "="
        segments = [s for s in match.group(2, 3, 4) if s is not None]
        pre = match.group(5) or ""
        has_pre = has_pre or bool(pre)
        bounds = _comparator(op, segments=segments, pre=pre, text=match.group(0).strip())
        if isinstance(bounds, _Exclusion):
            exclusions.append(bounds)
        else:
            lo, hi = max(lo, bounds[0]), min(hi, bounds[1])
        pos = match.end()
        if pos < end:
            sep = _SEPARATOR.match(part, pos)
            if sep is None or sep.end() >= end:
                raise InvalidRange(f"improper constraint {part[pos:].strip()!r} in {whole!r}")
            pos = sep.end()
    return _Group(lo=lo, hi=hi, exclusions=tuple(exclusions), has_pre=has_pre)


def _number(segment: str, comparator: str) -> int:
    if not segment.isdigit():
        raise InvalidRange(f"improper version {segment!r} in constraint {comparator!r}")
    value = int(segment)
    if value > UINT64_MAX:
        raise InvalidRange(f"number {segment} is too large in constraint {comparator!r}")
    return value


def _comparator(
    op: str, *, segments: list[str], pre: str, text: str
) -> tuple[VersionKey, VersionKey] | _Exclusion:
    """``(lo, hi)`` with ``lo`` inclusive and ``hi`` exclusive, or an exclusion for ``!=``."""
    # How many leading parts are concrete: 0 for `*`, 1 for `1.x`/`1`, 2 for `1.2.x`/`1.2`.
    known = 0
    for segment in segments:
        if segment in _WILDCARDS:
            break
        known += 1
    nums = [_number(s, text) for s in segments[:known]] + [0, 0, 0]
    if any(p.isdigit() and len(p) > 1 and p[0] == "0" for p in pre.split(".")):
        raise InvalidRange(f"prerelease {pre!r} has a leading zero in constraint {text!r}")
    con: VersionKey = (nums[0], nums[1], nums[2], pre_key(pre))
    if op == "!=":
        return _not_equal(con, known=known)
    return _bounds(op, con=con, known=known)


def _bounds(op: str, *, con: VersionKey, known: int) -> tuple[VersionKey, VersionKey]:
    major, minor, patch, _ = con
    bottom: VersionKey = (0, 0, 0, LOWEST)
    next_major: VersionKey = (major + 1, 0, 0, LOWEST)
    next_minor: VersionKey = (major, minor + 1, 0, LOWEST)
    if op == "=" and known == 3:
        return (con, successor(con))
    if op in ("=", "~", "~>"):  # a wildcard `=` means `~`
        if known in (0, 3) and (major, minor, patch) == (0, 0, 0):
            return (con, TOP)  # `~0.0.0` and `~*` accept everything from the start
        return (con, next_major if known == 1 else next_minor)
    if op == "^":
        if major > 0 or known == 1:
            return (con, next_major)
        if minor > 0 or known == 2:
            return (con, next_minor)
        return (con, (0, 0, patch + 1, LOWEST))
    if op == ">":
        if known in (1, 2):  # `>1` means a greater major, `>1.2` a greater minor
            return (next_major if known == 1 else next_minor, TOP)
        return (successor(con), TOP)
    if op == "<":
        return (bottom, con)
    if op in (">=", "=>"):
        return (con, TOP)
    # "<=" and "=<": `<=1` means the same major, `<=1.2` (and `<=*`!) the same minor
    if known == 3:
        return (bottom, successor(con))
    return (bottom, next_major if known == 1 else next_minor)


def _not_equal(con: VersionKey, *, known: int) -> _Exclusion:
    major = con[0]
    if known in (0, 3):
        return _Exclusion(lo=con, hi=successor(con))
    if known == 1:
        return _Exclusion(lo=(major, 0, 0, LOWEST), hi=(major + 1, 0, 0, LOWEST))
    return _Exclusion(lo=con, hi=con, same=con)  # `!=1.2.x`: same major.minor and prerelease
