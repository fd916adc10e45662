"""The decision trace of one policy: every tag's fate, the gates, Git, the next change.

``explain`` prints it, and the status page and pull-request bodies are to show the same
thing, so it is a plain value built by one pure function (:func:`build_trace`) with one
JSON form (:func:`trace_to_dict`) and one text form (:func:`render_trace`). The fate of a
tag is read from the reason the selection or a gate left for it: the reasons are the one
record of why a tag lost (docs/selection.md), and a table of their openings here keeps the
trace from becoming a second copy of the selection pipeline. A reason the table does not
know is shown as fate ``other`` with its text, never dropped.
"""

from __future__ import annotations

import dataclasses
import re
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from image_automation.domain import NOT_A_TAG, Decision, Hold, TagInfo

# Opening of a reason -> (fate, whether the word after the opening names the rule or tag).
_FATES: tuple[tuple[str, str, bool], ...] = (
    (NOT_A_TAG, "invalid", False),
    ("excluded by ", "excluded", True),
    ("denied by ", "excluded", True),
    ("not allowed (", "excluded", False),
    ("does not match filter ", "filtered", True),
    ("extract ", "filtered", False),
    ("does not end with suffix ", "filtered", True),
    ("not semver", "unparsable", False),
    ("not a number", "unparsable", False),
    ("outside range ", "out_of_range", True),
    ("prerelease not allowed", "prerelease", False),
    ("younger than minAge ", "too_young", False),
    ("no timestamp", "no_timestamp", False),
    ("timestamp has no time zone", "no_timestamp", False),
    ("held back: ", "held", False),
    ("signature", "unsigned", False),
    ("pinned at ", "pinned", True),
    ("following ", "pinned", True),
    ("ties with ", "outranked", True),
    ("older than ", "outranked", True),
    ("sorts before ", "outranked", True),
    ("sorts after ", "outranked", True),
    ("smaller than ", "outranked", True),
    ("larger than ", "outranked", True),
    ("built before ", "outranked", True),
)
FATES = (
    "selected", "invalid", "excluded", "filtered", "unparsable", "out_of_range", "prerelease",
    "too_young", "no_timestamp", "held", "unsigned", "pinned", "outranked", "other",
)  # fmt: skip
"""Every fate a tag can have, in the order the text form lists them."""


@dataclass(frozen=True, slots=True)
class TagFate:
    """One tag and what became of it. ``by`` names the rule (a pattern, a range) or the tag
    that outranked it, where the reason says; ``reason`` is the reason's full text."""

    tag: str
    fate: str
    reason: str = ""
    by: str | None = None
    digest: str | None = None
    created: datetime | None = None
    first_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class MarkedValue:
    """A value marked for the policy in Git: where, which setter, what it holds now."""

    automation: str
    file: str
    line: int
    setter: str
    value: str


@dataclass(frozen=True, slots=True)
class PlannedChange:
    """A value the next reconcile would write (or will, once a window opens)."""

    automation: str
    file: str
    line: int
    setter: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class Trace:
    """Why a policy selects what it does and what that means for Git; see the module doc."""

    policy: str
    image: str
    source: str
    """``state`` (the stored last good scan) or ``scan`` (scanned just now)."""
    now: datetime
    scanned_at: datetime | None
    scan_error: str | None
    tags: tuple[TagFate, ...]
    selected: str | None
    digest: str | None
    reasons: tuple[str, ...]
    hold: Hold | None
    hold_releases: bool
    """The next reconcile releases the hold (a version newer than the rolled-back one won)."""
    window: str | None
    git: tuple[MarkedValue, ...]
    next: tuple[PlannedChange, ...]
    next_summary: str
    notes: tuple[str, ...] = ()

    def count(self) -> dict[str, int]:
        """Fate -> how many tags have it (fates no tag has are left out)."""
        counted = Counter(t.fate for t in self.tags)
        return {fate: counted[fate] for fate in FATES if counted[fate]}


def fate_of(reason: str) -> tuple[str, str | None]:
    """``(fate, by)`` for a reason a selection or gate gave a tag."""
    for opening, fate, names in _FATES:
        if reason.startswith(opening):
            rest = reason[len(opening) :].strip()
            return fate, (rest.split(" ")[0].strip('",') or None) if names and rest else None
    return "other", None


def build_trace(
    *,
    policy: str,
    image: str,
    source: str,
    now: datetime,
    tags: Sequence[TagInfo],
    decision: Decision | None,
    scanned_at: datetime | None = None,
    scan_error: str | None = None,
    hold_releases: bool = False,
    git: Sequence[MarkedValue] = (),
    planned: Sequence[PlannedChange] = (),
    notes: Sequence[str] = (),
) -> Trace:
    """The trace of ``decision`` (the policy's, after every gate) over ``tags``.

    ``decision`` is ``None`` when the repository has no good scan. ``git`` holds what the
    policy's markers hold now, ``planned`` what a dry edit to the gated winner changes."""
    decision = decision or Decision(policy=policy, tag=None)
    fates = _fates(decision, tags)
    trace = Trace(
        policy=policy, image=image, source=source, now=now, scanned_at=scanned_at,
        scan_error=scan_error, tags=fates, selected=decision.tag, digest=decision.digest,
        reasons=decision.reasons, hold=decision.hold, hold_releases=hold_releases,
        window=decision.window, git=tuple(git), next=tuple(planned), next_summary="",
        notes=tuple(notes),
    )  # fmt: skip
    return _with_summary(trace)


def _fates(decision: Decision, tags: Sequence[TagInfo]) -> tuple[TagFate, ...]:
    """Selected first, then the ranked losers, then the skipped, each in scan order."""
    infos = {t.name: t for t in tags}
    names = list(infos) or [*decision.lost, *decision.skipped]
    first: list[TagFate] = []
    ranked: list[TagFate] = []
    rest: list[TagFate] = []
    for name in names:
        info = infos.get(name, TagInfo(name))
        if name == decision.tag:
            hold = decision.hold
            why = f"kept by the hold ({hold.commit[:12]})" if hold and hold.tag == name else ""
            first.append(_fate(info, "selected", why, None))
            continue
        reason = decision.lost.get(name)
        into = ranked
        if reason is None:
            reason, into = decision.skipped.get(name), rest
        if reason is None:
            reason = "not ranked (no reason recorded)"
        fate, by = fate_of(reason)
        into.append(_fate(info, fate, reason, by))
    return (*first, *ranked, *rest)


def _fate(info: TagInfo, fate: str, reason: str, by: str | None) -> TagFate:
    return TagFate(info.name, fate, reason, by, info.digest, info.created, info.first_seen)


def _with_summary(trace: Trace) -> Trace:
    return dataclasses.replace(trace, next_summary=_summary(trace))


def _summary(trace: Trace) -> str:
    if trace.scanned_at is None and not trace.tags:
        why = f": {trace.scan_error}" if trace.scan_error else ""
        return f"nothing: {trace.image} has no good scan yet{why}"
    if trace.selected is None:
        return "nothing: no tag qualifies"
    if not trace.git:
        return "nothing: no marked value of this policy in Git"
    count = len(trace.next)
    values = f"{count} value{'s' if count != 1 else ''}"
    if trace.window is not None and count:
        return f"nothing now ({trace.window}); then change {values}"
    if trace.hold is not None and not trace.hold_releases and not count:
        return f"nothing: held at {trace.hold.tag}"
    if not count:
        return f"nothing: Git already has {trace.selected}"
    return f"change {values}"


# -- forms ----------------------------------------------------------------------------------


def _time(value: datetime | None) -> str | None:
    return value.isoformat() if value is not None else None


def trace_to_dict(trace: Trace) -> dict[str, Any]:
    """The JSON form (``explain --output json``): plain types, times in RFC 3339."""
    hold = trace.hold
    return {
        "policy": trace.policy,
        "image": trace.image,
        "source": trace.source,
        "now": _time(trace.now),
        "scan": {
            "at": _time(trace.scanned_at),
            "error": trace.scan_error,
            "tags": len(trace.tags),
        },
        "selected": trace.selected,
        "digest": trace.digest,
        "counts": trace.count(),
        "tags": [_fate_dict(t) for t in trace.tags],
        "reasons": list(trace.reasons),
        "hold": None if hold is None else _hold_dict(hold, releases=trace.hold_releases),
        "window": trace.window,
        "git": [_plain(m) for m in trace.git],
        "next": {"summary": trace.next_summary, "changes": [_plain(c) for c in trace.next]},
        "notes": list(trace.notes),
    }


def _fate_dict(fate: TagFate) -> dict[str, Any]:
    return {
        "tag": fate.tag, "fate": fate.fate, "reason": fate.reason, "by": fate.by,
        "digest": fate.digest, "created": _time(fate.created),
        "first_seen": _time(fate.first_seen),
    }  # fmt: skip


def _hold_dict(hold: Hold, *, releases: bool) -> dict[str, Any]:
    return {
        "tag": hold.tag, "rolled_back_from": hold.rolled_back_from, "commit": hold.commit,
        "author": hold.author, "since": _time(hold.since), "release": hold.release,
        "reason": hold.reason, "releases_next": releases,
    }  # fmt: skip


def _plain(value: MarkedValue | PlannedChange) -> Mapping[str, Any]:
    return dataclasses.asdict(value)


_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


def _safe(text: str) -> str:
    """``text`` with control characters escaped: a value read from Git or a registry
    cannot start a line of its own or move the terminal's cursor."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text)


def render_trace(trace: Trace, *, limit: int = 50) -> str:
    """The text form: a few headed sections; at most ``limit`` tags (0: all)."""
    lines = [f"policy {trace.policy} (image {trace.image})"]
    where = "scanned just now" if trace.source == "scan" else "from the state store"
    when = _time(trace.scanned_at) or "never"
    count = len(trace.tags)
    lines.append(f"scan: {when}, {count} tag{'s' if count != 1 else ''} ({where})")
    if trace.scan_error:
        lines.append(f"scan error: {trace.scan_error}")
    digest = f" ({trace.digest})" if trace.digest else ""
    lines.append(f"selected: {trace.selected or 'nothing'}{digest}")
    shown_elsewhere = {trace.window, trace.hold.reason if trace.hold else None}
    lines.extend(f"reason: {r}" for r in trace.reasons if r not in shown_elsewhere)
    if trace.hold is not None:
        then = "; the next reconcile releases it" if trace.hold_releases else ""
        lines.append(f"hold: {trace.hold.reason} (since {_time(trace.hold.since)}){then}")
    if trace.window is not None:
        lines.append(f"window: {trace.window}")
    if trace.tags:
        counts = ", ".join(f"{n} {fate}" for fate, n in trace.count().items())
        lines.append(f"tags: {counts}")
        lines.extend(_tag_lines(trace.tags, limit=limit))
    lines.append("git:" if trace.git else "git: no marked value of this policy")
    lines.extend(f"  {m.file}:{m.line}: {m.setter}: {m.value} ({m.automation})" for m in trace.git)
    lines.append(f"next reconcile: {trace.next_summary}")
    lines.extend(f"  {c.file}:{c.line}: {c.old} -> {c.new} ({c.automation})" for c in trace.next)
    lines.extend(f"note: {n}" for n in trace.notes)
    return "\n".join(_safe(line) for line in lines) + "\n"


def _tag_lines(fates: Sequence[TagFate], *, limit: int) -> list[str]:
    shown = fates if limit <= 0 else fates[:limit]
    width = min(max(len(f.tag) for f in shown), 40)
    lines = [f"  {f.tag:<{width}}  {f.fate:<12}  {f.reason}".rstrip() for f in shown]
    if len(shown) < len(fates):
        lines.append(f"  ... {len(fates) - len(shown)} more (--limit 0 shows all)")
    return lines


__all__ = [
    "FATES",
    "MarkedValue",
    "PlannedChange",
    "TagFate",
    "Trace",
    "build_trace",
    "fate_of",
    "render_trace",
    "trace_to_dict",
]
