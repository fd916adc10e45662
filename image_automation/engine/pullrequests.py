"""Delivery by pull request: the lifecycle that composes forge, git and state.

An automation whose plan has ``pull_request`` set never pushes to its checkout branch. Its
selected images are split into groups (one head branch each, see
:mod:`image_automation.engine._pr_groups`) and each group's pull request is taken one step
further per run (:mod:`image_automation.engine._pr_run`): opened, updated in place, re-created
on a moved base, held while a human's commits are on its branch, forgotten when merged,
refused versions when closed unmerged. Afterwards, an open pull request of ours that another
one now carries the same setters for (the grouping changed) is closed, linking the newer.

A forge's rate limit is sat out here when it asks for no more than ``rate_wait`` seconds,
and the group is run again from its first read (which finds anything the first try made);
longer, the group is deferred to the next run. Errors are per group: one failing never stops
another.

API (reconcile's ``run_automation`` calls it; ``reconcile --once`` and the daemon share it)::

    async with ForgePool() as forges:
        context = PullRequestContext(forges=forges, secrets_dir=..., access=RegistryAccess(...))
        done = await run_pull_requests(plan, images, workspace, context=context,
                                       store=store, clock=clock)
        done.outcomes, done.errors
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Decision, ImageRef, UpdateResult
from image_automation.engine._pr_content import RegistryAccess
from image_automation.engine._pr_forges import ForgePool, StoredResponses, forge_settings
from image_automation.engine._pr_groups import Group, groups_for
from image_automation.engine._pr_outcome import Action, PullRequestOutcome
from image_automation.engine._pr_run import HUMAN_NOTICE, Edit, GroupRun, Rollbacks, Shared
from image_automation.engine.automations import AutomationPlan
from image_automation.engine.updating import update_plan
from image_automation.errors import (
    ConfigError,
    ForgeNotFound,
    ForgeRateLimited,
    ImageAutomationError,
)
from image_automation.git import Workspace
from image_automation.state import StateStore

log = logging.getLogger(__name__)

RATE_LIMIT_TRIES = 3


@dataclass(frozen=True, slots=True)
class PullRequestContext:
    """What pull-request delivery needs beyond the plan: forge clients (kept open as long as
    ``forges`` lives), the secrets dir for forge tokens, registry access for OCI labels,
    and the longest forge rate limit (seconds) a run sits out itself."""

    forges: ForgePool
    secrets_dir: Path | None = None
    access: RegistryAccess | None = None
    rate_wait: float = 30.0


@dataclass(slots=True)
class PullRequestRun:
    """What one automation's pull requests came to."""

    outcomes: list[PullRequestOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)


async def run_pull_requests(
    plan: AutomationPlan,
    images: Mapping[str, ImageRef],
    workspace: Workspace,
    *,
    context: PullRequestContext,
    store: StateStore | None,
    clock: Callable[[], datetime],
    decisions: Mapping[str, Decision] | None = None,
    policies: Sequence[ResolvedPolicy] = (),
    dry_run: bool = False,
    edit: Edit | None = None,
    rollbacks: Rollbacks | None = None,
) -> PullRequestRun:
    """Run the lifecycle of every group of ``plan`` once; see the module docstring.

    ``images``: policy name → selected reference; ``workspace``: a checkout of
    ``plan.repo`` (its branch is the base); ``edit(root, images, dry_run)`` edits a checkout
    (default: the updater on the plan's ``update.path``); ``rollbacks``: the rollback gate
    (:data:`~image_automation.engine._pr_run.Rollbacks`), none by default.
    """
    pr = plan.pull_request
    if pr is None:
        raise ConfigError(f"{plan.key}: not a pull-request automation")
    if store is None:
        raise ConfigError("pull requests need a state store (--state)")
    settings = forge_settings(plan, secrets_dir=context.secrets_dir)
    settings = replace(settings, cache=StoredResponses.of(store, settings, clock=clock))

    async def update(root: Path, chosen: Mapping[str, ImageRef], dry: bool) -> UpdateResult:
        return await update_plan(root, plan, chosen, dry_run=dry)

    shared = Shared(
        plan=plan, pr=pr, provider=settings.provider, forge=context.forges.forge(settings),
        store=store, workspace=workspace, edit=edit or update, clock=clock,
        decisions=decisions if decisions is not None else {}, selected=frozenset(images),
        policies=policies, access=context.access, dry_run=dry_run, rollbacks=rollbacks,
    )  # fmt: skip
    out = PullRequestRun()
    groups = groups_for(pr, images)
    for group in groups:
        if group.head == plan.repo.branch:
            out.errors.append(f"{group.head}: the head branch is the base branch")
            continue
        outcome = await run_group(shared, group, context.rate_wait, out)
        if outcome is not None:
            out.outcomes.append(outcome)
            out.warnings.extend(w for w in outcome.warnings if w not in out.warnings)
            out.file_errors.extend(e for e in outcome.file_errors if e not in out.file_errors)
    try:
        out.outcomes.extend(await supersede(shared, out.outcomes, {g.head for g in groups}))
    except ImageAutomationError as exc:
        out.errors.append(f"closing superseded pull requests: {exc}")
    return out


async def run_group(
    shared: Shared, group: Group, wait: float, out: PullRequestRun
) -> PullRequestOutcome | None:
    """One group, its rate limits sat out (or deferred); ``None`` when it failed."""
    for attempt in range(1, RATE_LIMIT_TRIES + 1):
        try:
            return await GroupRun(shared, group).run()
        except ForgeRateLimited as exc:
            if attempt == RATE_LIMIT_TRIES or exc.delay > wait:
                detail = f"the forge's rate limit: try again in {exc.delay:.0f}s"
                return PullRequestOutcome(group.head, "deferred", detail=detail)
            log.info("%s: forge rate limit, waiting %.1fs: %s", group.head, exc.delay, exc)
            await asyncio.sleep(exc.delay)
        except ImageAutomationError as exc:
            out.errors.append(f"pull request {group.head}: {exc}")
            return None
    raise AssertionError("unreachable")  # pragma: no cover


_LIVE: frozenset[Action] = frozenset({"opened", "updated", "unchanged", "held"})


async def supersede(
    shared: Shared, outcomes: Sequence[PullRequestOutcome], heads: set[str]
) -> list[PullRequestOutcome]:
    """Close our open pull requests under other heads whose setters a live one now carries."""
    live = [o for o in outcomes if o.action in _LIVE and o.number is not None and o.changes]
    if not live:
        return []
    closed: list[PullRequestOutcome] = []
    for record in await shared.store.pull_requests(shared.plan.key):
        if record.head in heads or record.state != "open":
            continue
        setters = {c.setter for c in record.changes}
        newer = next((o for o in live if setters & {c.setter for c in o.changes}), None)
        if newer is None:
            continue
        detail = f"superseded by #{newer.number}"
        if shared.dry_run:
            closed.append(PullRequestOutcome(record.head, "would-close", record.number,
                                             record.url, detail=detail))  # fmt: skip
            continue
        try:
            current = await shared.forge.get_pull_request(record.number)
        except ForgeNotFound:
            current = None
        if current is not None and current.state == "open":
            comment = f"Superseded by #{newer.number} ({newer.url}), which carries these updates."
            await shared.forge.close_pull_request(record.number, comment=comment)
        await shared.store.forget_pull_request(shared.plan.key, record.head)
        if record.pushed_sha:
            await shared.workspace.delete_branch(record.head, expect=record.pushed_sha)
        closed.append(PullRequestOutcome(record.head, "closed", record.number, record.url,
                                         detail=detail))  # fmt: skip
    return closed


__all__ = [
    "HUMAN_NOTICE",
    "Edit",
    "ForgePool",
    "PullRequestContext",
    "PullRequestOutcome",
    "PullRequestRun",
    "RegistryAccess",
    "forge_settings",
    "run_group",
    "run_pull_requests",
    "supersede",
]
