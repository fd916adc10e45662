"""The real :class:`~image_automation.daemon.service.Engine`: one Git repository's policies.

Binds the engine's functions to production adapters for ``image-automation run --repo``: the
SQLite state store under the data dir, the registry client (its requests counted into the
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
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.daemon.logs import REDACTOR
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig, automation_key, build_config
from image_automation.daemon.service import ReconcileResult, ScanResult
from image_automation.domain import Decision, ImageRef, TagInfo
from image_automation.engine.automations import (
    AutomationPlan,
    PlanContext,
    RepoTarget,
    plan_automations,
)
from image_automation.engine.deciding import decide_from_state
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
from image_automation.engine.targets import targets_from_config
from image_automation.errors import ImageAutomationError, StateError
from image_automation.git import GitAuth, RepoSpec, Workspace
from image_automation.registry import (
    DockerConfig,
    RegistrySettings,
    SecretsDir,
    default_transport,
)
from image_automation.state import StateStore, open_store

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


class CountingTransport(httpx.AsyncBaseTransport):
    """Counts every registry request into the metrics by host and status (``error`` if none)."""

    def __init__(self, inner: httpx.AsyncBaseTransport, metrics: Metrics) -> None:
        self._inner = inner
        self._metrics = metrics

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        host = request.url.netloc.decode("ascii", "replace")
        try:
            response = await self._inner.handle_async_request(request)
        except Exception:
            self._metrics.registry_requests.labels(host=host, status="error").inc()
            raise
        self._metrics.registry_requests.labels(host=host, status=str(response.status_code)).inc()
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
    ) -> None:
        self._settings = settings
        self._docker_config = docker_config
        self._secrets = SecretsDir(secrets_dir) if secrets_dir else None
        self._metrics = metrics
        self._unreachable = UnreachableApis()
        """Push-time APIs that failed to answer, shared by all scans (skipped for an hour)."""

    def _transport(self, verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport:
        return CountingTransport(default_transport(verify), self._metrics)

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


class RepoEngine:
    """Engine for one repository. Use ``async with RepoEngine(settings, metrics=...)``."""

    def __init__(self, settings: RepoSettings, *, metrics: Metrics) -> None:
        self.settings = settings
        self.metrics = metrics
        self._files = LastGoodFiles()
        self._loaded = _Loaded()
        self._stack = AsyncExitStack()
        self._store: StateStore | None = None
        self._lister: RegistryLister | None = None
        self._auth: GitAuth | None = None
        self._pull_requests: PullRequestContext | None = None

    async def __aenter__(self) -> Self:
        s = self.settings
        if s.git_secret:
            if s.secrets_dir is None:
                raise ImageAutomationError("a git secret needs --secrets-dir")
            self._auth = GitAuth.from_secrets_dir(s.secrets_dir, s.git_secret)
            REDACTOR.add(*self._auth.secrets())
        registry = RegistrySettings.load(s.registries) if s.registries else RegistrySettings()
        docker_config = DockerConfig.load(s.docker_config) if s.docker_config else None
        self._store = await open_store(s.data_dir / "state.db")
        self._stack.push_async_callback(self._store.close)
        self._lister = RegistryLister(
            settings=registry,
            docker_config=docker_config,
            secrets_dir=s.secrets_dir,
            metrics=self.metrics,
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
            await workspace.prepare()
            return await self._read(workspace.path)

    async def _read(self, root: Path) -> DaemonConfig:
        result = await asyncio.to_thread(self._files.load, root)
        resolved = resolve(result)
        targets = targets_from_config(result, resolved.policies)
        s = self.settings
        planned = plan_automations(
            result,
            PlanContext(repo=RepoTarget(s.repo, s.branch, s.git_secret), secrets_dir=s.secrets_dir),
        )
        plans = {automation_key(p): p for p in planned.plans if not p.suspended}
        self._loaded = _Loaded({t.repository: t for t in targets.targets}, plans)
        config = build_config(
            result, plans=planned.plans, default_interval=s.interval, resolved=resolved
        )
        broken = [f"{key}: {error}" for key, error in planned.errors]
        extra = [*result.warnings, *targets.problems, *broken]
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
    ) -> ReconcileResult | None:
        """In one checkout: fetch, re-read the files, select from the stored tags, and for a
        declared automation run the reconcile engine's step (the fresh checkout serves the
        first try when the automation writes to it).

        Without automation documents (the ``default`` automation) decisions are made and
        stored, and nothing is written: like ``reconcile --repo`` on such a repository.
        """
        async with self._open_workspace() as workspace:
            # The heads of the pull requests as last planned come with the same fetch.
            known = self._loaded.plans.get(automation)
            pr = known.pull_request if known is not None else None
            await workspace.prepare(prefixes=(pr.branch,) if pr is not None else ())
            config = await self._read(workspace.path)
            on_config(config)
            if automation not in config.automations:
                return None
            await before_select()
            plan = self._loaded.plans.get(automation)
            chosen = config.policies if plan is None else policies_for(plan, config.policies)
            keep = plan is not None and plan.pull_request is not None  # for the PR's text
            stored = await _select_stored(self.store, chosen, now=datetime.now(UTC), keep=keep)
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
        )

    async def check(self) -> str | None:
        try:
            await self.store.scan_statuses()
        except StateError as exc:
            return str(exc)
        return None


@dataclass(slots=True)
class _Stored:
    selections: dict[str, tuple[str, str | None]] = field(default_factory=dict)
    """Policy key → (repository, selected tag or None)."""
    images: dict[str, ImageRef] = field(default_factory=dict)
    """Policy name → the reference to write."""
    errors: list[str] = field(default_factory=list)
    decisions: dict[str, Decision] = field(default_factory=dict)
    """Policy key → its decision, kept only when asked (a pull request's body explains it)."""


async def _select_stored(
    store: StateStore, policies: Sequence[ResolvedPolicy], *, now: datetime, keep: bool = False
) -> _Stored:
    """``decide_from_state`` one policy at a time, keeping only the winners.

    Each full Decision (a reason for every tag) is stored and then dropped, so memory stays
    flat with a thousand policies over a thousand tags each — unless ``keep`` (one
    pull-request automation's policies, whose body shows why each version won). A policy
    whose repository has no good scan yet is an error.
    """
    out = _Stored()
    for policy in policies:
        decision = (await decide_from_state(store, [policy], now=now)).get(policy.key)
        if decision is None:
            out.errors.append(f"policy {policy.key}: {policy.image.name} has no good scan yet")
            continue
        out.selections[policy.key] = (policy.image.name, decision.tag)
        if keep:
            out.decisions[policy.key] = decision
        image = image_for(policy, decision)
        if image is not None:
            out.images[policy.name] = image
    return out


__all__ = ["CountingTransport", "RegistryLister", "RepoEngine", "RepoSettings"]
