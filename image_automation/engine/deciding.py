"""Run policies over the tags in the state store and remember their decisions.

Selection itself is pure (``image_automation.policy.select``); this module feeds it the last
good scan of each policy's repository and stores the resulting ``Decision`` so ``status``, the
status page and PR bodies can show why a tag won.
"""

from __future__ import annotations

from collections.abc import Awaitable, Iterable, Sequence
from datetime import datetime
from typing import Protocol

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Decision, TagInfo
from image_automation.errors import PolicyError
from image_automation.policy import SelectionSpec, select
from image_automation.state import StateStore


class Gate(Protocol):
    """Selection with the gates that need I/O (the signature gate)."""

    def __call__(
        self, policy: ResolvedPolicy, tags: Sequence[TagInfo | str], *, now: datetime
    ) -> Awaitable[Decision]: ...


def decide(spec: SelectionSpec, tags: Iterable[TagInfo | str], *, now: datetime) -> Decision:
    """``select``, with a policy that cannot select (e.g. a bad range) as a Decision saying why."""
    try:
        return select(spec, tags, now=now)
    except PolicyError as exc:
        return Decision(policy=spec.name, tag=None, reasons=(str(exc),))


async def decide_from_state(
    store: StateStore,
    policies: Sequence[ResolvedPolicy],
    *,
    now: datetime,
    gate: Gate | None = None,
) -> dict[str, Decision]:
    """Select for each policy from its repository's stored tags; store and return decisions.

    Keyed by policy key (``namespace/name``). A policy whose repository has no successful
    scan gets no decision (nothing is stored for it): "not scanned" is not "nothing fits".
    """
    decisions: dict[str, Decision] = {}
    for policy in policies:
        repository = policy.image.name
        status = await store.scan_status(repository)
        if status is None or status.last_success is None:
            continue
        tags = await store.tags(repository)
        decision = await gate(policy, tags, now=now) if gate else decide(policy.spec, tags, now=now)
        await store.save_decision(policy.key, decision, repository=repository, now=now)
        decisions[policy.key] = decision
    return decisions
