"""``explain``: gather what one policy's decision depends on and build its trace, read-only.

The tags come from the state store (the daemon's last good scan) or, with ``scan``, from a
scan made now (stored like any scan). Selection, the signature gate, a hold in force and
the windows are applied as a reconcile would, without changing the store: holds are not
released, a rollback the next reconcile would detect is shown but not saved, and from the
store alone signature verdicts come only from the store. Git is read from a checkout of each
automation covering the policy: the values its markers hold (a dry edit to a probe
reference reports every one of them as an old value) and what a dry edit to the gated
winner would change. The trace itself is built by the pure
:func:`image_automation.policy.build_trace`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from contextlib import AsyncExitStack
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from image_automation.config.loading import load_paths
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import Change, Decision, ImageRef, TagInfo
from image_automation.engine._pr_content import RegistryAccess
from image_automation.engine._pr_groups import policy_of
from image_automation.engine.automations import AutomationPlan, PlanContext, RepoTarget, auth_for
from image_automation.engine.automations import plan_automations as _plan_automations
from image_automation.engine.discovery import discover
from image_automation.engine.gates import Gated, detect_rollbacks
from image_automation.engine.reconcile import TagSource, image_for, policies_for, workspace_for
from image_automation.engine.signatures import decide_gated, open_checker
from image_automation.engine.updating import update_plan
from image_automation.errors import ConfigError, ImageAutomationError
from image_automation.git import RepoSpec, Workspace
from image_automation.policy import (
    MarkedValue,
    PlannedChange,
    Trace,
    apply_hold,
    build_trace,
    deferred,
)
from image_automation.state import StateStore

PROBE = ImageRef.parse("explain.invalid/probe:explain-probe@sha256:" + "0" * 64)
"""What the probing dry edit writes: a reference no marker holds, so every marker of the
policy reports its current value."""


@dataclass(frozen=True, slots=True)
class ExplainRequest:
    """Which policy (``namespace/name``), where its documents and Git are, and whether to
    scan its repository now instead of reading the last stored scan."""

    policy: str
    work_dir: Path
    repo: RepoTarget | None = None
    config_paths: tuple[Path, ...] = ()
    secrets_dir: Path | None = None
    scan: bool = False


@dataclass(slots=True)
class _Seen:
    git: list[MarkedValue] = field(default_factory=list)
    planned: list[PlannedChange] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)


async def explain_policy(
    request: ExplainRequest,
    *,
    store: StateStore,
    tags: TagSource | None,
    access: RegistryAccess | None,
    now: datetime,
) -> Trace:
    """The decision trace of ``request.policy``; raises ``ConfigError`` when no document
    defines it, ``GitError``/``StateError`` when Git or the store cannot be read."""
    loaded = await asyncio.to_thread(load_paths, request.config_paths)
    async with AsyncExitStack() as stack:
        home: Workspace | None = None
        if request.repo is not None:
            home = await stack.enter_async_context(
                Workspace.open(
                    RepoSpec(url=request.repo.url, branch=request.repo.branch),
                    work_dir=request.work_dir,
                    auth=auth_for(request.repo, request.secrets_dir),
                )
            )
            await home.prepare()
            loaded.extend(await discover(home))
        resolved = resolve(loaded)
        found = [p for p in resolved.policies if p.key == request.policy]
        if not found:
            raise ConfigError(f"no policy {request.policy} in the documents read")
        policy = found[0]
        plans = _plan_automations(
            loaded, PlanContext(repo=request.repo, secrets_dir=request.secrets_dir)
        ).plans
        covering = [p for p in plans if policy.key in {q.key for q in policies_for(p, found)}]
        return await _trace(request, policy, covering, home=home, store=store, tags=tags,
                            access=access, now=now)  # fmt: skip


async def _trace(
    request: ExplainRequest, policy: ResolvedPolicy, plans: Sequence[AutomationPlan], *,
    home: Workspace | None, store: StateStore, tags: TagSource | None,
    access: RegistryAccess | None, now: datetime,
) -> Trace:  # fmt: skip
    scan_error = None
    if request.scan and tags is not None:
        scanned = await tags.scan([policy], now=now)
        scan_error = scanned.errors.get(policy.image.name)
    status = await store.scan_status(policy.image.name)
    stored: list[TagInfo] = []
    decision: Decision | None = None
    if status is not None and status.last_success is not None:
        stored = await store.tags(policy.image.name)
        async with open_checker(access, [policy], store=store, secrets_dir=request.secrets_dir,
                                offline=not request.scan) as checker:  # fmt: skip
            decision = await decide_gated(checker, policy, stored, now=now)
    scan_error = scan_error or (status.last_error if status is not None else None)
    releases = False
    hold = await store.hold(policy.key)
    if decision is not None and hold is not None and hold.active:
        decision, releases = apply_hold(policy.spec, decision, hold, infos=stored, now=now)
    seen = _Seen()
    if not plans:
        seen.notes.append("no automation of the policy's namespace selects it")
    for plan in plans:
        try:
            decision = await _in_git(plan, policy, decision, home=home, request=request,
                                     store=store, now=now, seen=seen)  # fmt: skip
        except ImageAutomationError as exc:  # one automation's Git: the trace goes on
            seen.notes.append(f"{plan.key}: Git not read: {exc}")
    return build_trace(
        policy=policy.key, image=policy.image.name, source="scan" if request.scan else "state",
        now=now, tags=stored, decision=decision,
        scanned_at=status.last_success if status is not None else None, scan_error=scan_error,
        hold_releases=releases, git=seen.git, planned=seen.planned, notes=seen.notes,
    )  # fmt: skip


async def _in_git(
    plan: AutomationPlan, policy: ResolvedPolicy, decision: Decision | None, *,
    home: Workspace | None, request: ExplainRequest, store: StateStore, now: datetime,
    seen: _Seen,
) -> Decision | None:  # fmt: skip
    """Read the plan's checkout into ``seen``; the decision, with this plan's window or a
    rollback its next reconcile would detect."""
    closed = plan.windows.closed_because(now) or policy.windows.closed_because(now)
    if decision is not None and closed is not None and decision.window is None:
        decision = deferred(decision, closed)
    async with workspace_for(
        plan, home, work_dir=request.work_dir, secrets_dir=request.secrets_dir, lock_timeout=None
    ) as workspace:
        await workspace.prepare(plan.push)
        probed = await _dry(workspace, plan, policy, PROBE)
        seen.git.extend(MarkedValue(plan.key, c.file, c.line, c.setter, c.old) for c in probed)
        image = image_for(policy, decision) if decision is not None else None
        if image is None:
            return decision
        changes = await _dry(workspace, plan, policy, image)
        if changes and decision is not None and decision.hold is None:
            decisions = {policy.key: decision}
            held = await detect_rollbacks(
                plan, changes, policies=[policy], decisions=decisions, store=store,
                workspace=workspace, now=now, gated=Gated(), save=False,
            )  # fmt: skip
            if held:
                decision = decisions[policy.key]
                seen.notes.append(f"the next reconcile of {plan.key} holds the policy")
                held_image = image_for(policy, decision)
                changes = await _dry(workspace, plan, policy, held_image) if held_image else []
    seen.planned.extend(
        PlannedChange(plan.key, c.file, c.line, c.setter, c.old, c.new) for c in changes
    )
    return decision


async def _dry(
    workspace: Workspace, plan: AutomationPlan, policy: ResolvedPolicy, image: ImageRef
) -> list[Change]:
    result = await update_plan(workspace.path, plan, {policy.name: image}, dry_run=True)
    return [c for c in result.changes if policy_of(c.setter) == policy.name]


__all__ = ["PROBE", "ExplainRequest", "explain_policy"]
