"""The main job, once: policies + registries + a Git checkout → one commit per automation.

API (the CLI and the daemon call this)::

    report = await reconcile_once(
        ReconcileRequest(repo=RepoTarget(url, branch, secret), config_paths=(...,),
                         work_dir=Path(...), secrets_dir=None, dry_run=False),
        tags=TagSource, store=StateStore | None, clock=lambda: datetime.now(UTC),
    )
    report.ok; report.automations -> [AutomationOutcome]; report.errors -> [str]

Per automation (:func:`run_automation`, which the daemon calls too with tags from its state
store): the policies of its namespace that its ``policySelector`` picks select
from the scanned tags; ``update_tree`` runs on ``update.path`` inside
``Workspace.publish(apply=...)`` — so a rejected push fetches and re-applies from scratch —
and the pushed commit (old → new per setter) and every decision are recorded in the
state store. Nothing changed → no commit. One automation failing is
recorded in its outcome and never stops the others.

Only the repositories the automations' policies need are scanned, once per run.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from image_automation.config.loading import LoadResult, load_paths
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import Change, Decision, ImageRef, TagInfo, UpdateResult, redact
from image_automation.engine.automations import (
    AutomationPlan,
    PlanContext,
    RepoTarget,
    auth_for,
    plan_automations,
    selects,
)
from image_automation.engine.coverage import coverage_warnings
from image_automation.engine.discovery import discover
from image_automation.engine.gates import Gated, detect_rollbacks, hold_back, window_gate
from image_automation.engine.gates import written_values as _written
from image_automation.engine.hold_annotations import release_deleted, sync_annotations
from image_automation.engine.outcome_events import OutcomeEvents
from image_automation.engine.pullrequests import (
    ForgePool,
    PullRequestContext,
    PullRequestOutcome,
    PullRequestRun,
    run_pull_requests,
)
from image_automation.engine.signatures import SignatureChecker, decide_gated, open_checker
from image_automation.engine.updating import update_plan as _update
from image_automation.errors import ConfigError, ImageAutomationError
from image_automation.git import RepoSpec, Workspace
from image_automation.state import PushRecord, SetterChange, StateStore

log = logging.getLogger(__name__)


# -- what reconcile needs from the outside --------------------------------------------------


@dataclass(frozen=True, slots=True)
class FoundTags:
    """Tags per repository name (``ImageRef.name``) and, for failed scans, the error text."""

    tags: Mapping[str, Sequence[TagInfo]] = field(default_factory=dict)
    errors: Mapping[str, str] = field(default_factory=dict)


class TagSource(Protocol):
    """Scans the repositories of ``policies`` (each once) and returns their tags."""

    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags: ...


@dataclass(frozen=True, slots=True)
class ReconcileRequest:
    """One run. ``repo``: the ``--repo`` repository, whose checkout is searched for policy
    and automation documents; ``config_paths``: extra files or directories of documents."""

    work_dir: Path
    repo: RepoTarget | None = None
    config_paths: tuple[Path, ...] = ()
    secrets_dir: Path | None = None
    dry_run: bool = False
    lock_timeout: float | None = None


# -- what it reports ------------------------------------------------------------------------


@dataclass(slots=True)
class AutomationOutcome:
    """What happened to one automation. ``ok`` is False when ``errors`` is not empty.

    ``file_errors`` are files the update could not edit (invalid YAML, unreadable): the
    automation still ran, committed and pushed the rest, so they are not ``errors``. Paths in
    changes, warnings and file errors are relative to the repository root.
    """

    key: str
    repo: str = ""
    commit: str | None = None
    changes: tuple[Change, ...] = ()
    decisions: dict[str, Decision] = field(default_factory=dict)
    errors: list[str] = field(default_factory=list)
    file_errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    diff: str = ""
    refs: tuple[str, ...] = ()
    attempts: int = 0
    skipped: str = ""
    pull_requests: list[PullRequestOutcome] = field(default_factory=list)
    """Pull-request delivery: what happened to each head branch's pull request."""
    mode: str = "push"
    """``push`` or ``pull-request`` (how the automation delivers)."""
    held: dict[str, str] = field(default_factory=dict)
    """Policy key → why its value is held back (a rollback hold, a window or freeze)."""
    annotation_commit: str | None = None
    """The commit of ours that wrote or removed hold annotations in this run, if any."""
    deferred: str = ""
    """Why nothing was committed or opened although there was something to (a closed
    update window or a freeze, with its opening); the changes are what it would do."""

    @property
    def ok(self) -> bool:
        return not self.errors


@dataclass(slots=True)
class ReconcileReport:
    automations: list[AutomationOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    """Problems outside any one automation (broken documents, the --repo clone failing)."""
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        """Nothing failed and every file could be edited."""
        return not self.errors and all(a.ok and not a.file_errors for a in self.automations)


# -- the run --------------------------------------------------------------------------------


async def reconcile_once(
    request: ReconcileRequest,
    *,
    tags: TagSource,
    store: StateStore | None = None,
    clock: Callable[[], datetime],
    pull_requests: PullRequestContext | None = None,
    events: OutcomeEvents | None = None,
) -> ReconcileReport:
    """Run every automation found once; see the module docstring. ``pull_requests``: forge
    clients and registry access for pull-request automations (default: a pool for this run);
    ``events``: where each automation's outcome is reported (pushes, pull requests, holds,
    failures), never blocking the run."""
    report = ReconcileReport()
    loaded = await asyncio.to_thread(load_paths, request.config_paths)
    async with AsyncExitStack() as stack:
        if pull_requests is None:
            pool = await stack.enter_async_context(ForgePool())
            pull_requests = PullRequestContext(forges=pool, secrets_dir=request.secrets_dir)
        home: Workspace | None = None
        if request.repo is not None:
            try:
                auth = auth_for(request.repo, request.secrets_dir)
                home = await stack.enter_async_context(
                    Workspace.open(
                        RepoSpec(url=request.repo.url, branch=request.repo.branch),
                        work_dir=request.work_dir,
                        auth=auth,
                        lock_timeout=request.lock_timeout,
                    )
                )
                await home.prepare(prefixes=await _recorded_heads(store))
            except ImageAutomationError as exc:
                where = f"{redact(request.repo.url)} ({request.repo.branch})"
                report.errors.append(f"{where}: {exc}")
                return report
            loaded.extend(await discover(home))
            log.info("found %d documents in %s", len(loaded.documents), request.repo.url)
        await _run_plans(request, loaded, home, tags=tags, store=store, clock=clock,
                         into=report, pull_requests=pull_requests,
                         events=None if request.dry_run else events)  # fmt: skip
    return report


async def _recorded_heads(store: StateStore | None) -> list[str]:
    """The head branches of the pull requests the store knows: fetched with the base, so a
    pull-request run re-creates its head without a second fetch (the plans, and so their
    heads, are only known from the files this fetch brings)."""
    if store is None:
        return []
    return sorted({record.head for record in await store.pull_requests()})


async def _run_plans(
    request: ReconcileRequest,
    loaded: LoadResult,
    home: Workspace | None,
    *,
    tags: TagSource,
    store: StateStore | None,
    clock: Callable[[], datetime],
    into: ReconcileReport,
    pull_requests: PullRequestContext,
    events: OutcomeEvents | None,
) -> None:
    resolved = resolve(loaded)
    into.errors.extend(str(e) for e in resolved.errors)
    into.warnings.extend(resolved.warnings)
    root = home.path if home is not None else None
    plans = plan_automations(
        loaded, PlanContext(repo=request.repo, secrets_dir=request.secrets_dir, root=root)
    )
    into.warnings.extend(plans.warnings)
    for key, error in plans.errors:
        into.automations.append(AutomationOutcome(key=key, errors=[str(error)]))
        if events is not None:
            events.report(into.automations[-1], now=clock())
    if home is not None and request.repo is not None:
        here = (request.repo.url, request.repo.branch)
        ours = [p for p in plans.plans if (p.repo.url, p.repo.branch) == here and p.argocd is None]
        into.warnings.extend(await asyncio.to_thread(coverage_warnings, home.path, ours, loaded))
    if not plans.plans and not plans.errors:
        into.warnings.append("no automation documents found")
    active = [p for p in plans.plans if not p.suspended]
    for plan in plans.plans:
        if plan.suspended:
            into.automations.append(AutomationOutcome(key=plan.key, skipped="suspended"))
    chosen = {plan.key: policies_for(plan, resolved.policies) for plan in active}
    wanted = list({p.key: p for ps in chosen.values() for p in ps}.values())
    found = await tags.scan(wanted, now=clock()) if wanted else FoundTags()
    log.info("scanned %d repositories, %d failed", len(found.tags), len(found.errors))
    opened = open_checker(pull_requests.access, wanted, store=store,
                          secrets_dir=request.secrets_dir)  # fmt: skip
    async with opened as checker:
        await _run_active(request, active, chosen, found, home, checker=checker, store=store,
                          clock=clock, into=into, pull_requests=pull_requests,
                          events=events)  # fmt: skip


async def _run_active(
    request: ReconcileRequest,
    active: Sequence[AutomationPlan],
    chosen: Mapping[str, list[ResolvedPolicy]],
    found: FoundTags,
    home: Workspace | None,
    *,
    checker: SignatureChecker | None,
    store: StateStore | None,
    clock: Callable[[], datetime],
    into: ReconcileReport,
    pull_requests: PullRequestContext,
    events: OutcomeEvents | None = None,
) -> None:
    fresh = home is not None  # home was just prepared (checkout branch) and is untouched
    for plan in active:
        where = f"{redact(plan.repo.url)} ({plan.repo.branch})"
        outcome = AutomationOutcome(key=plan.key, repo=where)
        into.automations.append(outcome)
        images = await _select(
            chosen[plan.key], found, now=clock(), outcome=outcome, checker=checker
        )
        if store is not None:
            await _save_decisions(store, chosen[plan.key], outcome, now=clock())
        try:
            async with workspace_for(
                plan,
                home,
                work_dir=request.work_dir,
                secrets_dir=request.secrets_dir,
                lock_timeout=request.lock_timeout,
            ) as workspace:
                uses_home = workspace is home
                prepared = fresh and uses_home and plan.push.branch in (None, plan.repo.branch)
                fresh = fresh and not uses_home
                await run_automation(
                    plan,
                    images,
                    workspace,
                    prepared=prepared,
                    dry_run=request.dry_run,
                    store=store,
                    clock=clock,
                    out=outcome,
                    pull_requests=pull_requests,
                    policies=chosen[plan.key],
                )
            if store is not None and outcome.held:  # holds and windows changed decisions
                await _save_decisions(store, chosen[plan.key], outcome, now=clock())
        except ImageAutomationError as exc:
            outcome.errors.append(str(exc))
        except Exception as exc:  # a bug must not stop the other automations
            log.exception("automation %s failed unexpectedly", plan.key)
            outcome.errors.append(f"unexpected {type(exc).__name__}: {exc}")
        if events is not None:
            events.report(outcome, now=clock())


def _same_repo(workspace: Workspace, plan: AutomationPlan) -> bool:
    return (workspace.spec.url, workspace.spec.branch) == (plan.repo.url, plan.repo.branch)


def policies_for(plan: AutomationPlan, policies: Sequence[ResolvedPolicy]) -> list[ResolvedPolicy]:
    """Policies of the automation's namespace that its selector picks (Flux semantics); an
    Image Updater plan's own policies."""
    if plan.policies is not None:
        return list(plan.policies)
    return [
        p
        for p in policies
        if p.namespace == plan.namespace and selects(plan.selector, p.source.obj.metadata.labels)
    ]


async def _select(
    policies: Sequence[ResolvedPolicy],
    found: FoundTags,
    *,
    now: datetime,
    outcome: AutomationOutcome,
    checker: SignatureChecker | None = None,
) -> dict[str, ImageRef]:
    images: dict[str, ImageRef] = {}
    for policy in policies:
        name = policy.image.name
        if name in found.errors:
            outcome.errors.append(
                f"policy {policy.key}: scan of {name} failed: {found.errors[name]}"
            )
            continue
        decision = await decide_gated(checker, policy, found.tags.get(name, ()), now=now)
        outcome.decisions[policy.key] = decision
        image = image_for(policy, decision)
        if image is not None:
            images[policy.name] = image
    return images


def image_for(policy: ResolvedPolicy, decision: Decision) -> ImageRef | None:
    """The reference ``decision`` writes for ``policy`` (``None``: nothing selected)."""
    if decision.tag is None:
        return None
    digest = decision.digest if policy.digest_reflection != "Never" else None
    return policy.image.with_tag(decision.tag, digest)


async def _save_decisions(
    store: StateStore,
    policies: Sequence[ResolvedPolicy],
    outcome: AutomationOutcome,
    *,
    now: datetime,
) -> None:
    for policy in policies:
        decision = outcome.decisions.get(policy.key)
        if decision is not None:
            await store.save_decision(policy.key, decision, repository=policy.image.name, now=now)


@asynccontextmanager
async def workspace_for(
    plan: AutomationPlan,
    home: Workspace | None,
    *,
    work_dir: Path,
    secrets_dir: Path | None,
    lock_timeout: float | None,
) -> AsyncIterator[Workspace]:
    """``home`` when the plan writes to it, else a checkout of the plan's own repository."""
    if home is not None and _same_repo(home, plan):
        yield home
        return
    async with Workspace.open(
        RepoSpec(url=plan.repo.url, branch=plan.repo.branch),
        work_dir=work_dir,
        auth=auth_for(plan.repo, secrets_dir),
        lock_timeout=lock_timeout,
    ) as workspace:
        yield workspace


async def run_automation(
    plan: AutomationPlan,
    images: Mapping[str, ImageRef],
    workspace: Workspace,
    *,
    prepared: bool,
    store: StateStore | None,
    clock: Callable[[], datetime],
    out: AutomationOutcome,
    dry_run: bool = False,
    pull_requests: PullRequestContext | None = None,
    policies: Sequence[ResolvedPolicy] = (),
) -> None:
    """Edit, commit and push one automation in ``workspace`` (a checkout of ``plan.repo``).

    ``images``: policy name → the reference its decision selected. ``prepared``: the
    checkout was just prepared at the push branch's remote head, so the first attempt uses it
    as is. The result goes into ``out``; a pushed commit is recorded in ``store``. A plan
    with ``pull_request`` goes through :func:`run_pull_requests` instead (``pull_requests``
    is then required; ``out.decisions`` and ``policies`` feed the pull request's text).

    The gates run first (:mod:`image_automation.engine.gates`): holds in force and policy
    windows keep values back; outside the automation's windows the run is a dry run whose
    changes show what the window's opening will bring (``out.deferred``); in push delivery
    the lines a dry edit would change are checked for human rollbacks before the real edit
    (in pull-request delivery, the dry edit of the base each group's branch starts from).
    """
    now = clock()
    gated = Gated()
    if store is not None and not dry_run and policies:
        gated.released.extend(await release_deleted(workspace, policies, store=store, now=now))
    if store is not None:
        images = await hold_back(images, policies=policies, decisions=out.decisions,
                                 store=store, now=now, gated=gated)  # fmt: skip
    images, closed = window_gate(plan, images, policies=policies, decisions=out.decisions,
                                 now=now, gated=gated)  # fmt: skip
    out.held = gated.held
    if closed is not None:
        out.deferred, dry_run = closed, True
    if plan.pull_request is not None:
        out.mode = "pull-request"
        if pull_requests is None:
            raise ConfigError(f"{plan.key}: pull-request delivery is not set up here")

        async def rollbacks(changes: Sequence[Change]) -> set[str]:
            if store is None or not policies:
                return set()
            return await detect_rollbacks(
                plan, changes, policies=policies, decisions=out.decisions, store=store,
                workspace=workspace, now=now, gated=gated, save=not dry_run,
            )  # fmt: skip

        done = await run_pull_requests(
            plan, images, workspace, context=pull_requests, store=store, clock=clock,
            decisions=out.decisions, policies=policies, dry_run=dry_run, rollbacks=rollbacks,
        )  # fmt: skip
        _take_pull_requests(out, done)
        return

    written = await _written(store, plan.key) if store is not None and policies else {}

    async def apply(root: Path) -> UpdateResult:
        chosen = dict(images)
        if written and store is not None:
            dry = await _update(root, plan, chosen, dry_run=True)
            if dry.changes:
                held = await detect_rollbacks(
                    plan, dry.changes, policies=policies, decisions=out.decisions,
                    store=store, workspace=workspace, now=now, gated=gated, save=not dry_run,
                )  # fmt: skip
                for name in held:
                    chosen.pop(name, None)
        return await _update(root, plan, chosen, dry_run=dry_run)

    if dry_run:
        if not prepared:
            await workspace.prepare(plan.push)
        result = await apply(workspace.path)
        _take(out, result)
        out.diff = result.diff
        return
    push = plan.push
    if plan.argocd is not None and plan.argocd.branch_template is not None:
        from image_automation.engine.argocd_writing import write_branch

        push = await write_branch(plan.argocd, images, workspace, prepared=prepared)
        prepared = False  # the write branch may exist on the remote: publish starts from it
    published = await workspace.publish(
        apply,
        commit=plan.commit,
        push=push,
        automation=plan.object_name,
        values=plan.values,
        prepared=prepared,
    )
    _take(out, published.result)
    out.commit, out.refs, out.attempts = published.commit, published.refs, published.attempts
    if published.commit is not None and store is not None:
        changes = tuple(
            SetterChange(setter=c.setter, old=c.old, new=c.new) for c in published.result.changes
        )
        record = PushRecord(plan.key, published.commit, pushed_at=clock(), changes=changes)
        await store.record_push(record)
    if store is not None and policies:
        await _annotate(plan, workspace, policies, store=store, out=out)


async def _annotate(
    plan: AutomationPlan, workspace: Workspace, policies: Sequence[ResolvedPolicy], *,
    store: StateStore, out: AutomationOutcome,
) -> None:  # fmt: skip
    """The hold annotations in Git follow the store; failing to write them fails nothing."""
    try:
        sha = await sync_annotations(plan, workspace, policies, store=store)
    except ImageAutomationError as exc:
        out.warnings.append(f"hold annotations not written: {exc}")
        return
    if sha is not None:
        out.annotation_commit = sha


def _take_pull_requests(out: AutomationOutcome, done: PullRequestRun) -> None:
    out.pull_requests = done.outcomes
    out.changes = tuple(c for o in done.outcomes for c in o.changes)
    out.warnings.extend(done.warnings)
    out.file_errors.extend(done.file_errors)
    out.errors.extend(done.errors)


def _take(out: AutomationOutcome, result: UpdateResult) -> None:
    out.changes = result.changes
    out.warnings.extend(result.warnings)
    out.file_errors.extend(result.errors)


__all__ = [
    "AutomationOutcome",
    "FoundTags",
    "ReconcileReport",
    "ReconcileRequest",
    "TagSource",
    "discover",
    "image_for",
    "policies_for",
    "reconcile_once",
    "run_automation",
    "workspace_for",
]
