"""Promotion semantics, pure: may the image a stage follows move into it now, and if not, why.

A later stage never asks the registry: it follows the *Git state* of the stage before it —
the image its marked fields hold (name, tag, digest), and when that value landed there, from
the stage's own history (a human's commit counts as ours does). From that history comes
also what the stage *rolled back from*: a step to a value that ranks lower by the policy's
own ordering, or (where the ordering cannot tell) back to a value the stage held earlier.
An image rolled back from is never promoted, even when it comes back later.

:func:`judge` answers for one policy of one stage, in this order: the previous stage holds
no usable image → held; it has no digest → held (promotions are digest-pinned, so the next
stage runs the bits the previous one ran); this stage has it already → current; the
previous stage rolled back from it → held; it would move this stage backwards (unless the
promotion allows that) → held; not soaked long enough → waiting; the window is closed →
waiting; else ready — the commit-status and HTTP gates are the engine's to ask, and
:func:`gated` folds their answers in. No I/O, no clock: ``now`` is passed in.
"""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Literal

from image_automation.domain import ImageRef, InvalidReference
from image_automation.policy._select import format_duration, select
from image_automation.policy._spec import SelectionSpec

Verdict = Literal["current", "ready", "waiting", "held"]
Rank = Callable[[str, str], bool | None]
"""``rank(a, b)``: True when tag ``b`` ranks above ``a`` by the policy's ordering, False when
below, None when it cannot tell (equal, a tag the policy rejects, an ordering by time)."""

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
Part = tuple[str, str]
"""(setter field, value): field ``""`` for a whole reference, else ``tag``/``name``/``digest``."""


@dataclass(frozen=True, slots=True)
class Held:
    """An image as a stage's marked fields hold it; any part may be unknown."""

    name: str | None = None
    tag: str | None = None
    digest: str | None = None

    def same_bits(self, other: Held) -> bool:
        """The same image: the digest decides when both have one, else the tag."""
        if self.digest and other.digest:
            return self.digest == other.digest
        return self.tag is not None and self.tag == other.tag and not (self.digest or other.digest)

    def short(self) -> str:
        """``1.2.0@sha256:0123456789ab`` (what a reason line shows)."""
        tag = self.tag or "?"
        return f"{tag}@{self.digest[:19]}" if self.digest else tag

    def ref(self) -> ImageRef | None:
        """The full reference, when name and tag are known."""
        if not self.name or not self.tag:
            return None
        try:
            return ImageRef.parse(self.name).with_tag(self.tag, self.digest)
        except (InvalidReference, ValueError):
            return None


def held_from(parts: Iterable[Part]) -> Held | None:
    """One image from marked values (a whole reference, or a tag, name, digest each);
    ``None`` when two of them disagree (two tags, two digests) or a reference is invalid."""
    names: set[str] = set()
    tags: set[str] = set()
    digests: set[str] = set()
    for field, value in parts:
        if field == "":
            try:
                ref = ImageRef.parse(value)
            except InvalidReference:
                return None
            names.add(ref.name)
            if ref.tag:
                tags.add(ref.tag)
            if ref.digest:
                digests.add(ref.digest)
        elif field == "name":
            names.add(_normal_name(value))
        elif field == "tag":
            tags.add(value)
        elif field == "digest":
            digests.add(value)
    if len(names) > 1 or len(tags) > 1 or len(digests) > 1:
        return None
    return Held(next(iter(names), None), next(iter(tags), None), next(iter(digests), None))


def _normal_name(value: str) -> str:
    try:
        return ImageRef.parse(value).name
    except InvalidReference:
        return value


def ranker(spec: SelectionSpec) -> Rank:
    """The policy's ordering as a comparison of two tags (its pin and minimum age left out:
    they say which tag to take now, not which is newer)."""
    if spec.ordering in ("follow", "newest_build"):
        return lambda a, b: None
    plain = dataclasses.replace(spec, pin=None, min_age=None)

    @functools.lru_cache(maxsize=1024)
    def rank(a: str, b: str) -> bool | None:
        if a == b:
            return None
        decision = select(plain, [a, b], now=_EPOCH)
        if decision.tag == b and a in decision.lost:
            return True
        if decision.tag == a and b in decision.lost:
            return False
        return None

    return rank


def _ranks(rank: Rank, low: Held, high: Held) -> bool | None:
    """Does ``high`` rank above ``low``? None when a tag is missing or the order cannot tell."""
    if not low.tag or not high.tag:
        return None
    return rank(low.tag, high.tag)


# -- history ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Step:
    """One commit's change of one policy's marked values in one stage (first-parent order)."""

    sha: str
    at: datetime
    before: tuple[Part, ...]
    after: tuple[Part, ...]


@dataclass(frozen=True, slots=True)
class Rollback:
    """The stage went from ``image`` back to ``to`` in commit ``sha``."""

    image: Held
    to: Held
    sha: str
    at: datetime


def rollbacks(steps: Sequence[Step], *, rank: Rank) -> list[Rollback]:
    """Every step back in ``steps`` (oldest first): to a value that ranks lower, or — when the
    ordering cannot tell — to one the stage held before the value it left."""
    found: list[Rollback] = []
    held: list[Held] = []
    for step in steps:
        before, after = held_from(step.before), held_from(step.after)
        if after is None:
            continue
        if before is not None and step.before and not after.same_bits(before):
            above = _ranks(rank, before, after)
            earlier = any(after.same_bits(h) for h in held if not h.same_bits(before))
            if above is False or (above is None and earlier):
                found.append(Rollback(before, after, step.sha, step.at))
        if before is not None and step.before and not any(before.same_bits(h) for h in held):
            held.append(before)
        held.append(after)
    return found


def rolled_back(image: Held, found: Iterable[Rollback]) -> Rollback | None:
    """The newest rollback away from ``image`` (its digest, or its tag without one)."""
    hits = [r for r in found if image.same_bits(r.image) or _same_tag_only(image, r.image)]
    return max(hits, key=lambda r: r.at) if hits else None


def _same_tag_only(image: Held, gone: Held) -> bool:
    """A rollback seen on a tag line alone (split markers) refuses that tag, whatever digest."""
    return gone.digest is None and gone.tag is not None and gone.tag == image.tag


@dataclass(frozen=True, slots=True)
class Landing:
    """The commit that set a stage's current value, and when it landed on the branch.
    ``exact`` is False when the history read ended first: it landed no later than that."""

    sha: str
    at: datetime
    exact: bool = True


# -- the verdict -----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class StageView:
    """One policy in one stage: what it holds, why not (``problem``), since when, what it
    rolled back from, and every value it held before (oldest first)."""

    name: str
    image: Held | None
    problem: str = ""
    landing: Landing | None = None
    rollbacks: tuple[Rollback, ...] = ()
    earlier: tuple[Held, ...] = ()


@dataclass(frozen=True, slots=True)
class Judgement:
    """Whether ``image`` (what the previous stage holds) moves into the stage now."""

    policy: str
    verdict: Verdict
    reason: str
    image: Held | None = None
    since: datetime | None = None
    soaked: timedelta | None = None
    note: str = ""
    """The reason without durations that change as time passes (what a pull request's body
    says, so the body of an unchanged one stays the same); "" when ``reason`` is that."""


@dataclass(frozen=True, slots=True)
class Rules:
    """What the stage asks: soak time, the window's verdict at ``now``, backwards moves."""

    soak: timedelta = timedelta(0)
    closed: str | None = None
    """Why the promotion window is closed now (``None``: open)."""
    backwards: bool = False


def judge(
    policy: str,
    *,
    source: StageView,
    target: StageView,
    current: bool,
    rules: Rules,
    now: datetime,
    rank: Rank,
) -> Judgement:
    """See the module docstring. ``current``: writing the source's image into the target's
    markers would change nothing."""
    image = source.image
    if image is None or not image.tag:
        why = source.problem or f"{source.name} holds no tag"
        return Judgement(policy, "held", why)
    if not image.digest:
        why = (
            f"{source.name} holds {image.tag} without a digest: a promotion pins the digest "
            f"{source.name} runs (let its policy write digests: digestReflectionPolicy)"
        )
        return Judgement(policy, "held", why, image)
    since = source.landing.at if source.landing else None
    soaked = max(now - since, timedelta(0)) if since else None
    out = functools.partial(Judgement, policy, image=image, since=since, soaked=soaked)
    if current:
        return out("current", f"{target.name} has {image.short()}")
    back = rolled_back(image, source.rollbacks)
    if back is not None:
        why = (
            f"{source.name} rolled back from {back.image.short()} to {back.to.short()} in "
            f"{back.sha[:12]}: it is never promoted"
        )
        return out("held", why)
    if not rules.backwards and moves_back(image, target, rank):
        assert target.image is not None
        why = (
            f"{image.short()} would move {target.name} back from {target.image.short()} "
            "(the stage does not allow backwards moves)"
        )
        return out("held", why)
    if soaked is None or soaked < rules.soak:
        have = format_duration(soaked) if soaked is not None else "an unknown time"
        left = f" ({format_duration(rules.soak - soaked)} to go)" if soaked is not None else ""
        why = f"soak {format_duration(rules.soak)}: {source.name} has had it for {have}{left}"
        stamp = since.strftime("%Y-%m-%d %H:%M UTC") if since else "an unknown time"
        note = f"soak {format_duration(rules.soak)}: {source.name} has had it since {stamp}"
        return out("waiting", why, note=note)
    if rules.closed is not None:
        return out("waiting", f"promotion window closed: {rules.closed}")
    return out("ready", f"{source.name} has had it for {format_duration(soaked)}")


def moves_back(image: Held, target: StageView, rank: Rank) -> bool:
    """Would ``image`` move ``target`` back: it ranks below what the stage holds, or (when
    the ordering cannot tell) the stage held it before."""
    current = target.image
    if current is None or current.same_bits(image):
        return False
    above = _ranks(rank, current, image)
    if above is not None:
        return not above
    return any(image.same_bits(h) for h in target.earlier)


GateState = Literal["success", "pending", "failure"]


@dataclass(frozen=True, slots=True)
class GateResult:
    """One gate's answer: a named check on a commit, or an HTTP URL."""

    name: str
    state: GateState
    detail: str = ""
    url: str = ""


def gated(judgement: Judgement, results: Sequence[GateResult]) -> Judgement:
    """A ready judgement with its gates' answers: a failed one holds it, an unfinished one
    makes it wait; the others leave it ready."""
    if judgement.verdict != "ready":
        return judgement
    failed = [r for r in results if r.state == "failure"]
    if failed:
        why = "; ".join(f"{r.name}: {r.detail or 'failed'}" for r in failed)
        return dataclasses.replace(judgement, verdict="held", reason=f"gate failed: {why}")
    pending = [r for r in results if r.state == "pending"]
    if pending:
        why = "; ".join(f"{r.name}: {r.detail or 'pending'}" for r in pending)
        return dataclasses.replace(judgement, verdict="waiting", reason=f"gate pending: {why}")
    return judgement


__all__ = [
    "GateResult",
    "GateState",
    "Held",
    "Judgement",
    "Landing",
    "Part",
    "Rank",
    "Rollback",
    "Rules",
    "StageView",
    "Step",
    "Verdict",
    "gated",
    "held_from",
    "judge",
    "moves_back",
    "ranker",
    "rollbacks",
    "rolled_back",
]
