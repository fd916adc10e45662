"""The real :class:`~image_automation.daemon.service.Engine`: one Git repository's policies.

Binds the engine's functions to production adapters for ``image-automation run --repo``: the
state store (``--state``; by default SQLite under the data dir) and the replicas'
coordinator that goes with it, the registry client (its requests counted into the
metrics by host and status), the clone cache under the data dir, and the policy files of the
repository read with :class:`~image_automation.config.lastgood.LastGoodFiles` (a broken file
keeps its last good version). Scans store tags in the state store; reconciles select from the
stored tags, so a repository shared by many policies is listed once per scan interval, and
publish through :func:`~image_automation.engine.reconcile.run_automation`, the same step as
``reconcile --once`` (both automation kinds, message templates, signing, push settings).
"""

from __future__ import annotations

import asyncio
import dataclasses
import functools
import logging
import ssl
from collections.abc import Awaitable, Callable, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, AsyncExitStack
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from image_automation.config.lastgood import LastGoodFiles
from image_automation.config.loading import LoadResult
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.daemon._read_cache import ReadCache, secrets_fingerprint
from image_automation.daemon.logs import REDACTOR
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig, automation_key, build_config
from image_automation.daemon.replicas import PushGuard, replica_id
from image_automation.daemon.service import ReconcileResult, ScanResult
from image_automation.daemon.status.model import Quota, StageRecord
from image_automation.daemon.status.source import QuotaBook
from image_automation.domain import Decision, ImageRef, TagInfo
from image_automation.domain.events import Event
from image_automation.engine.automations import (
    AutomationPlan,
    PlanContext,
    RepoTarget,
    plan_automations,
)
from image_automation.engine.deciding import Gate, decide_from_state
from image_automation.engine.eventing import EventBus, FailureTracker, store_recorder
from image_automation.engine.notifications import plan_notifications
from image_automation.engine.outcome_events import OutcomeEvents
from image_automation.engine.promotion import (
    Checkouts,
    PromotionPlan,
    StageContext,
    plan_promotions,
    run_promotion,
)
from image_automation.engine.pullrequests import ForgePool, PullRequestContext, RegistryAccess
from image_automation.engine.reconcile import (
    AutomationOutcome,
    image_for,
    policies_for,
    run_automation,
    workspace_for,
)
from image_automation.engine.registry_lister import UnreachableApis, open_registry_lister
from image_automation.engine.scanning import ScanTarget, TagListing, scan_repositories
from image_automation.engine.signatures import decide_gated, open_checker
from image_automation.engine.status_inputs import StatusInputs, read_status_inputs, read_trace
from image_automation.engine.targets import targets_from_config
from image_automation.errors import ImageAutomationError, StateError
from image_automation.git import GitAuth, RepoSpec, Workspace, cache_key
from image_automation.notify import Notifier
from image_automation.policy import Trace
from image_automation.registry import (
    DockerConfig,
    RegistrySettings,
    SecretsDir,
    default_transport,
)
from image_automation.state import StateStore, open_store
from image_automation.state.leases import Coordinator, open_coordinator

log = logging.getLogger(__name__)


@dataclass(frozen=True, slots=True)
class RepoSettings:
    """What ``run --repo`` works on. Durations in seconds."""

    repo: str
    """URL of the Git repository holding policies, automations, receivers and manifests."""
    data_dir: Path
    """State store (``state.db``) and clone cache (``git/``) live here."""
    branch: str = "main"
    git_secret: str | None = None
    """Name of the git credentials in ``secrets_dir`` (``NAME/username``, ...)."""
    secrets_dir: Path | None = None
    docker_config: Path | None = None
    registries: Path | None = None
    """Registry settings file (TLS, plain HTTP, politeness per host)."""
    interval: float = 300.0
    """Reconcile interval when the repository declares no automation."""
    lock_timeout: float | None = 600.0
    state: str | None = None
    """State store URL or path (``postgresql://...`` for replicas); ``None``:
    ``data_dir/state.db``."""
    replica: str | None = None
    """This process's holder id in the lease tables; ``None``: :func:`replica_id`."""


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts every registry request into the metrics by host and status (``error`` if none)."""

    def __init__(
        self, inner: httpx.AsyncBaseTransport, metrics: Metrics, quotas: QuotaBook | None = None
    ) -> None:
        self._inner = inner
        self._metrics = metrics
        self._quotas = quotas

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode("ascii", "replace")
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            self._metrics.registry_requests.labels(host=host, status="error").inc()
            raise
        self._metrics.registry_requests.labels(host=host, status=str(response.status_code)).inc()
        if self._quotas is not None:
            self._quotas.saw(host, response.headers, now=datetime.now(UTC))
        return response

    async def aclose(self) -> None:
        await self._inner.aclose()


class RegistryLister:
    """The engine's ``RegistryTagLister`` set up per scan from the target's own hints
    (``secretRef``, ``certSecretRef``, ``insecure``), so a configuration reload applies to
    the next scan; every request is counted into the metrics by host and status."""

    def __init__(
        self,
        *,
        settings: RegistrySettings,
        docker_config: DockerConfig | None,
        secrets_dir: Path | None,
        metrics: Metrics,
        quotas: QuotaBook | None = None,
    ) -> None:
        self._settings = settings
        self._quotas = quotas
        self._docker_config = docker_config
        self._secrets = SecretsDir(secrets_dir) if secrets_dir else None
        self._metrics = metrics
        self._unreachable = UnreachableApis()
        """Push-time APIs that failed to answer, shared by all scans (skipped for an hour)."""

    def _transport(self, verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport:
        return CountingTransport(default_transport(verify), self._metrics, self._quotas)

    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        async with open_registry_lister(
            [target],
            settings=self._settings,
            secrets=self._secrets,
            docker_config=self._docker_config,
            transport_factory=self._transport,
            unreachable=self._unreachable,
        ) as lister:
            return await lister.list_tags(target, known=known)


@dataclass(slots=True)
class _Loaded:
    targets: dict[str, ScanTarget] = field(default_factory=dict)
    plans: dict[str, AutomationPlan] = field(default_factory=dict)
    promotions: dict[str, PromotionPlan] = field(default_factory=dict)


class RepoEngine:
    """Engine for one repository. Use ``async with RepoEngine(settings, metrics=...)``."""

    def __init__(self, settings: RepoSettings, *, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._files = LastGoodFiles()
        self._loaded = _Loaded()
        self._reads: ReadCache[tuple[DaemonConfig, _Loaded]] = ReadCache()
        self._stack = AsyncExitStack()
        self._store: StateStore | None = None
        self._coordinator: Coordinator | None = None
        self._lister: RegistryLister | None = None
        self._auth: GitAuth | None = None
        self._pull_requests: PullRequestContext | None = None
        self._quotas = QuotaBook()
        self.bus = EventBus(on_drop=lambda name: metrics.events_dropped.labels(name).inc())
        """Where reconciles' events go; the state store subscribes, alerts may too."""
        self.events = OutcomeEvents(_CountingSink(self.bus, metrics))
        self._labels: dict[str, dict[str, str]] = {}
        self.notifier = Notifier(
            on_result=lambda provider, result: metrics.notifications.labels(provider, result).inc(),
            labels=lambda event: self._labels.get(event.involved.key, {}),
        )
        """Alerts from the repository's Provider/Alert/Notification documents."""

    async def __aenter__(self) -> Self:
        s = self.settings
        if s.git_secret:
            if s.secrets_dir is None:
                raise ImageAutomationError("a git secret needs --secrets-dir")
            self._auth = GitAuth.from_secrets_dir(s.secrets_dir, s.git_secret)
            REDACTOR.add(*self._auth.secrets())
        registry = RegistrySettings.load(s.registries) if s.registries else RegistrySettings()
        docker_config = DockerConfig.load(s.docker_config) if s.docker_config else None
        state = s.state or s.data_dir / "state.db"
        self._store = await self._stack.enter_async_context(await open_store(state))
        self._coordinator = await open_coordinator(state, holder=s.replica or replica_id())
        self._stack.push_async_callback(self._coordinator.close)
        # Entered after the store and the notifier, so it drains into both before they close.
        await self._stack.enter_async_context(self.notifier)
        self.bus.subscribe("state", store_recorder(self._store))
        self.bus.subscribe("notifications", self.notifier.handle)
        await self._stack.enter_async_context(self.bus)
        tracker = FailureTracker()
        await tracker.restore(self._store)  # an alert open before a restart stays open
        self.events.tracker = tracker
        self._lister = RegistryLister(
            settings=registry,
            docker_config=docker_config,
            secrets_dir=s.secrets_dir,
            metrics=self.metrics,
            quotas=self._quotas,
        )
        # Forge clients live as long as the daemon: their ETag caches make a steady-state
        # pull-request read a 304, and their rate-limit windows carry over between runs.
        forges = await self._stack.enter_async_context(ForgePool(on_token=REDACTOR.add))
        secrets = SecretsDir(s.secrets_dir) if s.secrets_dir else None
        self._pull_requests = PullRequestContext(
            forges=forges,
            secrets_dir=s.secrets_dir,
            access=RegistryAccess(registry, secrets, docker_config),
        )
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self._stack.aclose()

    @property
    def store(self) -> StateStore:
        if self._store is None:
            raise StateError("the engine is not open")
        return self._store

    @property
    def coordinator(self) -> Coordinator:
        """The replicas' leases, scan slots and wake-ups, on the state store's database."""
        if self._coordinator is None:
            raise StateError("the engine is not open")
        return self._coordinator

    @property
    def work_dir(self) -> Path:
        return self.settings.data_dir / "git"

    def repo_spec(self) -> RepoSpec:
        return RepoSpec(url=self.settings.repo, branch=self.settings.branch)

    def _open_workspace(self) -> AbstractAsyncContextManager[Workspace]:
        return Workspace.open(
            self.repo_spec(),
            work_dir=self.work_dir,
            auth=self._auth,
            lock_timeout=self.settings.lock_timeout,
        )

    async def load(self) -> DaemonConfig:
        """Fetch the repository, re-read its policy files, plan the daemon's work."""
        async with self._open_workspace() as workspace:
            head = await workspace.prepare()
            return await self._read(workspace.path, head)

    async def _read(self, root: Path, head: str) -> DaemonConfig:
        """The files of the checkout at ``root`` (commit ``head``) planned; the last plan
        again when neither the commit nor the secrets dir changed (:mod:`._read_cache`)."""
        key = (head, await asyncio.to_thread(secrets_fingerprint, self.settings.secrets_dir))
        cached = self._reads.get(key)
        if cached is not None:
            self._loaded = cached[1]
            return cached[0]
        config = await self._plan(root)
        self._reads.put(key, (config, self._loaded))
        return config

    async def _plan(self, root: Path) -> DaemonConfig:
        result = await asyncio.to_thread(self._files.load, root)
        resolved = resolve(result)
        targets = targets_from_config(result, resolved.policies)
        s = self.settings
        planned = plan_automations(
            result,
            PlanContext(
                repo=RepoTarget(s.repo, s.branch, s.git_secret), secrets_dir=s.secrets_dir,
                root=root,
            ),
        )  # fmt: skip
        plans = {automation_key(p): p for p in planned.plans if not p.suspended}
        own = [p for plan in plans.values() for p in plan.policies or ()]  # Image Updater images
        own_targets = targets_from_config(LoadResult(documents=[p.repository for p in own]), own)
        found = {t.repository: t for t in [*targets.targets, *own_targets.targets]}
        context = PlanContext(repo=RepoTarget(s.repo, s.branch, s.git_secret),
                              secrets_dir=s.secrets_dir, root=root)  # fmt: skip
        promoted = plan_promotions(result, context, resolved.policies)
        promotions = {p.key: p for p in promoted.plans if not p.suspended}
        self._loaded = _Loaded(found, plans, promotions)
        config = build_config(
            result, plans=planned.plans, default_interval=s.interval, resolved=resolved,
            promotions=promoted.plans,
        )  # fmt: skip
        scans = dict(config.scans)
        for policy in own:  # each at the shortest interval of the images sharing it
            seconds = max(policy.scan_interval.total_seconds(), 1.0)
            scans[policy.image.name] = min(scans.get(policy.image.name, seconds), seconds)
        config = dataclasses.replace(config, scans=scans)
        broken = [f"{key}: {error}" for key, error in planned.errors]
        broken += [f"{key}: {e}" for key, problems in promoted.errors for e in problems]
        notifications = plan_notifications(result, secrets_dir=s.secrets_dir)
        for provider in notifications.settings.providers:
            REDACTOR.add(provider.address, *provider.secrets.values())
        self.notifier.configure(notifications.settings)
        self._labels = notifications.labels
        extra = [*result.warnings, *targets.problems, *planned.warnings, *broken,
                 *notifications.problems, *notifications.warnings]  # fmt: skip
        return dataclasses.replace(config, errors=[*config.errors, *extra])

    async def scan(self, repository: str) -> ScanResult:
        target = self._loaded.targets.get(repository)
        if target is None or self._lister is None:
            return ScanResult(ok=False, error=f"{repository} is not configured")
        [report] = await scan_repositories(
            [target], lister=self._lister, store=self.store, clock=lambda: datetime.now(UTC)
        )
        return ScanResult(ok=report.ok, tags=report.tag_count, error=report.error)

    async def reconcile(
        self,
        automation: str,
        on_config: Callable[[DaemonConfig], None],
        before_select: Callable[[], Awaitable[None]],
        guard: PushGuard | None = None,
    ) -> ReconcileResult | None:
        """:meth:`_reconcile`, whose outcome is reported as events, failures included."""
        try:
            return await self._reconcile(automation, on_config, before_select, guard)
        except Exception as exc:
            plan = self._loaded.plans.get(automation)
            if plan is not None:
                failed = AutomationOutcome(key=plan.key, errors=[str(exc) or type(exc).__name__])
                self.events.report(failed, now=datetime.now(UTC))
            raise

    async def _reconcile(
        self,
        automation: str,
        on_config: Callable[[DaemonConfig], None],
        before_select: Callable[[], Awaitable[None]],
        guard: PushGuard | None,
    ) -> ReconcileResult | None:
        """In one checkout: fetch, re-read the files, select from the stored tags, and for a
        declared automation run the reconcile engine's step (the fresh checkout serves the
        first try when the automation writes to it). ``guard`` fences every push.

        Without automation documents (the ``default`` automation) decisions are made and
        stored, and nothing is written: like ``reconcile --repo`` on such a repository.
        """
        async with self._open_workspace() as workspace:
            # The heads of the pull requests as last planned come with the same fetch.
            known = self._loaded.plans.get(automation)
            pr = known.pull_request if known is not None else None
            head = await workspace.prepare(prefixes=(pr.branch,) if pr is not None else ())
            config = await self._read(workspace.path, head)
            on_config(config)
            if automation not in config.automations:
                return None
            promotion = self._loaded.promotions.get(automation)
            if promotion is not None:
                return await self._promote(promotion, workspace, head)
            await before_select()
            plan = self._loaded.plans.get(automation)
            chosen = config.policies if plan is None else policies_for(plan, config.policies)
            keep = plan is not None and plan.pull_request is not None  # for the PR's text
            gated = await _gated(self.store, chosen, plan)  # holds and windows need theirs
            access = self._pull_requests.access if self._pull_requests else None
            opened = open_checker(access, chosen, store=self.store,
                                  secrets_dir=self.settings.secrets_dir)  # fmt: skip
            async with opened as checker:
                gate = functools.partial(decide_gated, checker)
                stored = await _select_stored(self.store, chosen, now=datetime.now(UTC),
                                              keep=keep, keep_for=gated, gate=gate)  # fmt: skip
            if plan is None:
                return ReconcileResult(selections=stored.selections)
            out = AutomationOutcome(
                key=plan.key, errors=list(stored.errors), decisions=stored.decisions
            )
            async with workspace_for(
                plan,
                workspace,
                work_dir=self.work_dir,
                secrets_dir=self.settings.secrets_dir,
                lock_timeout=self.settings.lock_timeout,
            ) as target:
                if guard is not None:
                    target.guard_pushes(guard)
                # The checkout just prepared serves the first attempt when it is the target.
                prepared = target is workspace and plan.push.branch in (None, plan.repo.branch)
                await run_automation(
                    plan,
                    stored.images,
                    target,
                    prepared=prepared,
                    store=self.store,
                    clock=lambda: datetime.now(UTC),
                    out=out,
                    pull_requests=self._pull_requests,
                    policies=chosen,
                )
            for policy in chosen:  # what the gates made of them, for status and explain
                if policy.key in out.held and policy.key in out.decisions:
                    await self.store.save_decision(
                        policy.key, out.decisions[policy.key], repository=policy.image.name,
                        now=datetime.now(UTC),
                    )  # fmt: skip
        self.events.report(out, now=datetime.now(UTC))
        return ReconcileResult(
            commits=1 if out.commit else 0,
            push_retries=max(out.attempts - 1, 0),
            selections=stored.selections,
            error="; ".join(out.errors) or None,
            file_errors=tuple(out.file_errors),
            warnings=tuple(out.warnings),
            commit=out.commit,
            changes=out.changes if out.commit else (),
            pull_requests=tuple(out.pull_requests),
            held=dict(out.held),
        )

    async def status_inputs(self) -> StatusInputs:
        """The status page's records: the store's, and Git's values in the clone cache."""
        s = self.settings
        checkout = self.work_dir / cache_key(s.repo, s.branch)
        return await read_status_inputs(
            self.store, checkout=checkout, ref=f"refs/remotes/origin/{s.branch}"
        )

    async def status_trace(self, inputs: StatusInputs, policy: str) -> Trace | None:
        return await read_trace(self.store, inputs, policy, now=datetime.now(UTC))

    def quotas(self) -> dict[str, Quota]:
        return self._quotas.snapshot()

    async def _promote(self, plan: PromotionPlan, home: Workspace, head: str) -> ReconcileResult:
        """One evaluation of a promotion, in the checkout just prepared when it is a stage's."""
        assert self._pull_requests is not None
        s = self.settings
        ctx = StageContext(forges=self._pull_requests.forges, store=self.store,
                           clock=lambda: datetime.now(UTC), secrets_dir=s.secrets_dir)  # fmt: skip
        checkouts = Checkouts(self.work_dir, s.secrets_dir, s.lock_timeout, home, head)
        done = await run_promotion(plan, ctx=ctx, checkouts=checkouts)
        self.events.report_promotion(done, now=datetime.now(UTC))
        errors = [*done.errors, *(f"{st.stage}: {e}" for st in done.stages for e in st.errors)]
        return ReconcileResult(
            error="; ".join(errors) or None,
            warnings=tuple(w for st in done.stages for w in st.warnings),
            pull_requests=tuple(  # a stage with nothing to move and nothing open says nothing
                pr
                for st in done.stages
                for pr in st.pull_requests
                if pr.number is not None or pr.changes or pr.detail or pr.action != "unchanged"
            ),
            promotion=tuple(j for st in done.stages for j in st.judgements),
            stages=tuple(
                StageRecord(st.stage, tuple(st.judgements), tuple(st.pull_requests))
                for st in done.stages
            ),
        )

    async def check(self) -> str | None:
        try:
            await self.store.scan_statuses()
        except StateError as exc:
            return str(exc)
        return None


class _CountingSink:
    """Emits to the bus and counts each event by kind."""

    def __init__(self, bus: EventBus, metrics: Metrics) -> None:
        self._bus = bus
        self._metrics = metrics

    def emit(self, event: Event) -> None:
        self._metrics.events.labels(event.kind).inc()
        self._bus.emit(event)


@dataclass(slots=True)
class _Stored:
    selections: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Policy key → (repository, selected tag or None)."""
    images: dict[str, ImageRef] = field(default_factory=dict)
    """Policy name → the reference to write."""
    errors: list[str] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)
    """Policy key → its decision, kept only when asked (a pull request's body explains it)."""


async def _gated(
    store: StateStore, policies: Sequence[ResolvedPolicy], plan: AutomationPlan | None
) -> frozenset[str]:
    """Policies whose full decision the gates need: a hold in force, or windows."""
    held = {h.policy for h in await store.holds() if h.active}
    windowed = plan is not None and bool(plan.windows)
    return frozenset(p.key for p in policies if p.key in held or windowed or bool(p.windows))


async def _select_stored(
    store: StateStore,
    policies: Sequence[ResolvedPolicy],
    *,
    now: datetime,
    keep: bool = False,
    keep_for: frozenset[str] = frozenset(),
    gate: Gate | None = None,
) -> _Stored:
    """``decide_from_state`` one policy at a time, keeping only the winners.

    Each full Decision (a reason for every tag) is stored and then dropped, so memory stays
    flat with a thousand policies over a thousand tags each — unless ``keep`` (one
    pull-request automation's policies, whose body shows why each version won). A policy
    whose repository has no good scan yet is an error.
    """
    out = _Stored()
    for policy in policies:
        decision = (await decide_from_state(store, [policy], now=now, gate=gate)).get(policy.key)
        if decision is None:
            out.errors.append(f"policy {policy.key}: {policy.image.name} has no good scan yet")
            continue
        out.selections[policy.key] = (policy.image.name, decision.tag)
        if keep or policy.key in keep_for:
            out.decisions[policy.key] = decision
        image = image_for(policy, decision)
        if image is not None:
            out.images[policy.name] = image
    return out


__all__ = ["CountingTransport", "RegistryLister", "RepoEngine", "RepoSettings"]
