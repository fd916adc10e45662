"""The gates after ranking, pure: a rollback hold, tags refused by a later gate.

Selection ranks; the engine finds out things selection cannot (a human rolled Git back, a
tag's signature is missing) and these functions fold them into the Decision, so every
surface shows one reason per tag. Comparisons use the policy's own ordering
(:func:`outranks`), so "newer" means what the policy means by it.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from datetime import datetime

from image_automation.domain import (
    Decision,
    Hold,
    ImageRef,
    InvalidReference,
    TagInfo,
    is_valid_tag,
)
from image_automation.policy._select import select
from image_automation.policy._spec import SelectionSpec

_FIELDS = ("tag", "name", "digest", "image")


def outranks(spec: SelectionSpec, a: str, b: str, *, infos: Sequence[TagInfo] = (),
             now: datetime) -> bool:  # fmt: skip
    """Whether the policy ranks tag ``a`` strictly above tag ``b`` (both must qualify; pins
    and follows rank nothing). Minimum age is ignored: it says when, not which is newer."""
    if a == b or spec.pin is not None or spec.ordering == "follow":
        return False
    plain = dataclasses.replace(spec, min_age=None)
    known = {t.name: t for t in infos}
    decision = select(plain, [known.get(a, TagInfo(a)), known.get(b, TagInfo(b))], now=now)
    return decision.tag == a and b in decision.lost


def tag_of(setter: str, value: str) -> str | None:
    """The tag a marked value holds: the value itself for a ``:tag`` setter, the reference's
    tag otherwise; ``None`` for ``:name``/``:digest`` setters or a value without a tag."""
    field = setter.rsplit(":", 1)[-1] if setter.count(":") >= 2 else "image"
    if field not in _FIELDS:
        field = "image"
    if field == "tag":
        return value if is_valid_tag(value) else None
    if field != "image":
        return None
    try:
        return ImageRef.parse(value).tag
    except InvalidReference:
        return None


def apply_hold(
    spec: SelectionSpec, decision: Decision, hold: Hold, *, infos: Sequence[TagInfo] = (),
    now: datetime,
) -> tuple[Decision, bool]:  # fmt: skip
    """``(decision, released)``: the decision kept at the hold's version, or — when the hold
    releases ``untilNewer`` and the winner is newer than the rolled-back-from version — the
    decision as it was and ``True``."""
    winner = decision.tag
    if (
        hold.release == "untilNewer"
        and winner is not None
        and outranks(spec, winner, hold.rolled_back_from, infos=infos, now=now)
    ):
        return decision, hold.active
    lost = dict(decision.lost)
    skipped = dict(decision.skipped)
    if winner is not None and winner != hold.tag:
        lost[winner] = f"held back: {hold.reason}"
    skipped.pop(hold.tag, None)
    lost.pop(hold.tag, None)
    digest = next((t.digest for t in infos if t.name == hold.tag), None)
    held = dataclasses.replace(
        decision, tag=hold.tag, digest=digest, lost=lost, skipped=skipped, hold=hold,
        reasons=(*decision.reasons, hold.reason),
    )  # fmt: skip
    return held, False


def refuse(decision: Decision, refused: Mapping[str, str]) -> Decision:
    """``decision`` with ``refused`` tags (tag → reason) among the skipped ones."""
    if not refused:
        return decision
    skipped = {**decision.skipped, **refused}
    lost = {t: r for t, r in decision.lost.items() if t not in refused}
    return dataclasses.replace(decision, skipped=skipped, lost=lost)


def deferred(decision: Decision, why: str) -> Decision:
    """``decision`` with the window or freeze that keeps its winner from being written."""
    return dataclasses.replace(decision, window=why, reasons=(*decision.reasons, why))
