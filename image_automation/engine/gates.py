"""The gates that need Git and the state store: rollback holds and update windows.

Rollback awareness: the store remembers what each automation wrote per setter and in which
commit (its pushes). When the checkout holds, at a marked line, a value the policy ranks
below the one we last wrote there, and the commit that put it there is not ours (no
``Image-Automation`` trailer, neither author nor committer is our e-mail) — or our commit
is gone from the branch (history rewritten) — a human rolled back: the policy is *held* at
their version. A hold lives in the store (it survives restarts) until it is released:
``untilNewer`` (default) when a version newer than the rolled-back-from one wins,
``manual`` only by ``image-automation hold release``. A released hold is kept (marked
released), so the same human commit never holds the policy again.

Windows: outside an automation's windows (or in a freeze) nothing is committed or opened,
but selection and a dry edit still run, so the outcome shows what would change and when.
A policy's own windows keep only that policy's values back.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Change, Decision, Hold, ImageRef, TagInfo
from image_automation.engine._pr_groups import policy_of
from image_automation.engine.automations import AutomationPlan
from image_automation.git import Workspace
from image_automation.policy import apply_hold, deferred, outranks, tag_of
from image_automation.state import StateStore

log = logging.getLogger(__name__)

PUSHES_READ = 200
"""How many of an automation's latest pushes are read to know what it last wrote."""


@dataclass(frozen=True, slots=True)
class Written:
    """The last value we wrote for a setter, and the commit that carried it."""

    value: str
    commit: str


@dataclass(slots=True)
class Gated:
    """What the gates did in one run: policy key → why its value is held back."""

    held: dict[str, str] = field(default_factory=dict)
    new_holds: list[Hold] = field(default_factory=list)
    released: list[Hold] = field(default_factory=list)


async def is_rolled_back_from(store: StateStore, policy: str, tag: str) -> bool:
    """Whether ``tag`` is a version a human rolled ``policy`` back from (a hold names it,
    in force or released): promotions never promote it."""
    hold = await store.hold(policy)
    return hold is not None and hold.rolled_back_from == tag


async def written_values(store: StateStore, automation: str) -> dict[str, Written]:
    """Setter → the last value ``automation`` pushed for it (newest push wins)."""
    written: dict[str, Written] = {}
    for push in await store.pushes(automation, limit=PUSHES_READ):
        for change in push.changes:
            written.setdefault(change.setter, Written(change.new, push.commit))
    return written


async def hold_back(
    images: Mapping[str, ImageRef],
    *,
    policies: Sequence[ResolvedPolicy],
    decisions: dict[str, Decision],
    store: StateStore,
    now: datetime,
    gated: Gated,
) -> dict[str, ImageRef]:
    """Apply the holds in force: held policies leave ``images``; holds whose release came
    are released. Decisions are updated in place."""
    kept = dict(images)
    for policy in policies:
        hold = await store.hold(policy.key)
        if hold is None or not hold.active:
            continue
        decision = decisions.get(policy.key) or Decision(policy=policy.key, tag=None)
        infos = await _infos(store, policy)
        held, released = apply_hold(policy.spec, decision, hold, infos=infos, now=now)
        if released:
            await store.release_hold(policy.key, now=now)
            gated.released.append(hold)
            log.info("hold of %s released: %s is newer than %s", policy.key, decision.tag,
                     hold.rolled_back_from)  # fmt: skip
            continue
        decisions[policy.key] = held
        gated.held[policy.key] = hold.reason
        kept.pop(policy.name, None)
    return kept


async def detect_rollbacks(
    plan: AutomationPlan,
    changes: Sequence[Change],
    *,
    policies: Sequence[ResolvedPolicy],
    decisions: dict[str, Decision],
    store: StateStore,
    workspace: Workspace,
    now: datetime,
    gated: Gated,
    save: bool = True,
) -> set[str]:
    """Find human rollbacks among the lines a dry edit would change; store a hold for each
    (unless ``save`` is false: a dry run) and return the names of the policies now held."""
    written = await written_values(store, plan.key)
    by_name = {p.name: p for p in policies}
    held: set[str] = set()
    for change in changes:
        policy = by_name.get(policy_of(change.setter))
        ours = written.get(change.setter)
        if policy is None or ours is None or policy.name in held or change.old == ours.value:
            continue
        hold = await _rollback(plan, change, policy, ours, workspace=workspace, store=store,
                               now=now)  # fmt: skip
        if hold is None:
            continue
        decision = decisions.get(policy.key) or Decision(policy=policy.key, tag=None)
        infos = await _infos(store, policy)
        kept, released = apply_hold(policy.spec, decision, hold, infos=infos, now=now)
        if released:  # a newer version than the rolled-back one is already out
            continue
        if save:
            await store.save_hold(hold)
        log.warning("policy %s held: %s", policy.key, hold.reason,
                    extra={"policy": policy.key, "commit": hold.commit})  # fmt: skip
        decisions[policy.key] = kept
        gated.held[policy.key] = hold.reason
        gated.new_holds.append(hold)
        held.add(policy.name)
    return held


async def _rollback(
    plan: AutomationPlan, change: Change, policy: ResolvedPolicy, ours: Written, *,
    workspace: Workspace, store: StateStore, now: datetime,
) -> Hold | None:  # fmt: skip
    now_tag, our_tag = tag_of(change.setter, change.old), tag_of(change.setter, ours.value)
    if now_tag is None or our_tag is None:
        return None
    infos = await _infos(store, policy)
    if not outranks(policy.spec, our_tag, now_tag, infos=infos, now=now):
        return None  # the same, a human upgrade, or a value the policy does not rank
    origin = await workspace.line_origin(change.file, change.line)
    if origin is None:
        return None
    if origin.is_ours(plan.commit.author_email):
        if await workspace.contains(ours.commit):
            return None  # an older commit of ours, and ours is still there: not a rollback
        author = f"history rewritten (our {ours.commit[:12]} is gone), last by {origin.author}"
    else:
        author = origin.author
    before = await store.hold(policy.key)
    if before is not None and before.commit == origin.commit:
        return None  # this rollback was held and released already
    return Hold(
        policy=policy.key, tag=now_tag, rolled_back_from=our_tag, commit=origin.commit,
        author=author, since=now, release=policy.release, automation=plan.key,
        setter=change.setter,
    )  # fmt: skip


def window_gate(
    plan: AutomationPlan,
    images: Mapping[str, ImageRef],
    *,
    policies: Sequence[ResolvedPolicy],
    decisions: dict[str, Decision],
    now: datetime,
    gated: Gated,
) -> tuple[dict[str, ImageRef], str | None]:
    """``(images that may be written now, why the whole automation is closed or None)``."""
    closed = plan.windows.closed_because(now)
    kept = dict(images)
    for policy in policies:
        why = closed or policy.windows.closed_because(now)
        if why is None:
            continue
        decision = decisions.get(policy.key)
        if decision is not None and decision.window is None:
            decisions[policy.key] = deferred(decision, why)
        if policy.name in kept:
            gated.held.setdefault(policy.key, why)
            if closed is None:
                kept.pop(policy.name)
    return kept, closed


async def _infos(store: StateStore, policy: ResolvedPolicy) -> list[TagInfo]:
    """Stored tag details when the ordering needs them (newest build); names do otherwise."""
    return await store.tags(policy.image.name) if policy.spec.needs_tag_info else []


__all__ = [
    "Gated",
    "Written",
    "detect_rollbacks",
    "hold_back",
    "is_rolled_back_from",
    "window_gate",
    "written_values",
]
