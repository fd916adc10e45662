"""The daemon's jobs: what a scan, a reconcile and a webhook do, measured and logged.

The work itself is the engine's, reached through the :class:`Engine` protocol (the CLI wires
the real one; tests pass fakes). This module keeps the daemon's bookkeeping: the current
:class:`~image_automation.daemon.plan.DaemonConfig`, the served hooks, metrics and log context.
Every reconcile first re-reads the policy files (``Engine.load``), so an edit in the repository
takes effect on the next run without a restart.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Protocol

from image_automation.config.receivers import SECRET_FIELDS, Receiver, webhook_path
from image_automation.daemon._replica_jobs import GivenAway, ReplicaJobs, scan_key
from image_automation.daemon.forge_hooks import ForgeEvent
from image_automation.daemon.forge_wake import automations_for_event, promotions_for_event
from image_automation.daemon.logs import REDACTOR, log_context
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.replicas import PushGuard, Replicas
from image_automation.daemon.scheduler import Scheduler, WorkQueue
from image_automation.daemon.server import Hook
from image_automation.daemon.status.model import RunRecord, StageRecord, next_run
from image_automation.domain import Change, redact
from image_automation.engine.pullrequests import PullRequestOutcome
from image_automation.errors import ImageAutomationError, LeaseLost
from image_automation.policy._promote import Judgement

log = logging.getLogger(__name__)


_SECRET_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
"""A secret's directory name (a Kubernetes Secret name, or a plain one): never a path."""


@dataclass(frozen=True, slots=True)
class ScanResult:
    ok: bool
    tags: int = 0
    error: str | None = None


@dataclass(frozen=True, slots=True)
class ReconcileResult:
    """What one reconcile did. ``selections``: policy → (image, selected tag or None).

    ``error``: the run failed. ``file_errors``: files it could not edit while the rest went
    through (counted apart). ``warnings``: the update's warnings (markers naming unknown
    policies, skipped values). ``commit`` and ``changes``: what was pushed.
    """

    commits: int = 0
    push_retries: int = 0
    selections: Mapping[str, tuple[str, str | None]] = field(default_factory=dict)
    error: str | None = None
    file_errors: tuple[str, ...] = ()
    warnings: tuple[str, ...] = ()
    commit: str | None = None
    changes: tuple[Change, ...] = ()
    pull_requests: tuple[PullRequestOutcome, ...] = ()
    """Pull-request delivery: what happened to each head branch's pull request."""
    held: Mapping[str, str] = field(default_factory=dict)
    """Policy key → why its value is held back (rollback hold, window, freeze)."""
    promotion: tuple[Judgement, ...] = ()
    """A promotion's evaluation: why each image of each stage moves, waits or is held."""
    stages: tuple[StageRecord, ...] = ()
    """The same evaluation by stage, with each stage's pull requests (the status page's)."""


class Engine(Protocol):
    """What the daemon needs from the engine. Methods raise ``ImageAutomationError``."""

    async def load(self) -> DaemonConfig:
        """Fetch the repository and read its policy files (a broken file keeps its last good
        version; the problem is listed in ``errors``)."""
        ...

    async def scan(self, repository: str) -> ScanResult: ...

    async def reconcile(
        self,
        automation: str,
        on_config: Callable[[DaemonConfig], None],
        before_select: Callable[[], Awaitable[None]],
        guard: PushGuard | None = None,
    ) -> ReconcileResult | None:
        """Re-read the policy files (passing the new config to ``on_config`` before any other
        work), await ``before_select`` (scans in flight), then run ``automation``; ``None``
        when it is no longer configured. ``guard`` is awaited right before every push (it
        raises :class:`LeaseLost` when this replica may no longer push there)."""
        ...

    async def check(self) -> str | None:
        """``None`` when the state store answers, else why not."""
        ...


def read_token(secrets_dir: Path | None, name: str, key: str = "token") -> str:
    """``secrets_dir/name/key``, trailing newline removed. Raises ``ImageAutomationError``."""
    if secrets_dir is None:
        raise ImageAutomationError(f"secret {name!r}: no --secrets-dir given")
    if not name or "/" in name or name in {".", ".."}:
        raise ImageAutomationError(f"secret name {name!r} is not a plain directory name")
    path = secrets_dir / name / key
    try:
        token = path.read_text(encoding="utf-8").rstrip("\r\n")
    except OSError as exc:
        raise ImageAutomationError(f"secret {name!r}: cannot read {path}: {exc.strerror}") from exc
    if not token:
        raise ImageAutomationError(f"secret {name!r}: {path} is empty")
    return token


def build_hooks(
    config: DaemonConfig, *, secrets_dir: Path | None
) -> tuple[dict[str, Hook], list[str]]:
    """Serve each receiver whose token can be read; only repositories that are configured."""
    hooks: dict[str, Hook] = {}
    problems: list[str] = []
    for receiver in config.receivers:
        if not receiver.targets():  # only kinds we never act on: Flux's own business
            continue
        name, namespace = receiver.metadata.name, receiver.metadata.namespace
        try:
            token, secret = _receiver_secret(receiver, secrets_dir)
        except ImageAutomationError as exc:
            problems.append(f"receiver {receiver.key}: {exc}")
            continue
        repositories = []
        for target in receiver.targets():
            repository = config.objects.get(target)
            if repository is None:
                problems.append(f"receiver {receiver.key}: {'/'.join(target)} is not configured")
            elif repository not in repositories:
                repositories.append(repository)
        path = webhook_path(token, name=name, namespace=namespace)
        hooks[path] = Hook(
            path=path,
            receiver=receiver.key,
            kind=receiver.spec.type,
            token=token,
            events=tuple(receiver.spec.events),
            repositories=tuple(repositories),
            secret=secret,
        )
    return hooks, problems


def _receiver_secret(receiver: Receiver, secrets_dir: Path | None) -> tuple[str, dict[str, str]]:
    """The receiver's token and the other keys its type needs (``gcr``: email, audience)."""
    name = receiver.spec.secret_ref.name
    token = read_token(secrets_dir, name)
    REDACTOR.add(token)
    secret = {key: read_token(secrets_dir, name, key) for key in SECRET_FIELDS.get(
        receiver.spec.type, ())}  # fmt: skip
    return token, secret


class _Seen:
    """The last set of messages logged per subject, so the same set is logged only once."""

    def __init__(self) -> None:
        self._last: dict[str, frozenset[str]] = {}

    def changed(self, subject: str, messages: Sequence[str]) -> bool:
        """Remember ``messages`` for ``subject``; True when they differ from the last ones."""
        now = frozenset(messages)
        if self._last.get(subject, frozenset()) == now:
            return False
        self._last[subject] = now
        return True


def _utcnow() -> datetime:
    return datetime.now(UTC)


class Daemon(ReplicaJobs):
    """Binds engine, queue, scheduler and metrics. Jobs never raise; they log and count."""

    def __init__(
        self,
        *,
        engine: Engine,
        metrics: Metrics,
        queue: WorkQueue,
        secrets_dir: Path | None = None,
        jitter_fraction: float = 0.1,
        scan_concurrency: int = 8,
        replicas: Replicas | None = None,
    ) -> None:
        self.engine = engine
        self.replicas = replicas
        """Which git repositories this replica holds; ``None``: all of them (tests)."""
        self._forced: set[str] = set()
        """Repositories whose next scan a webhook asked for (not subject to scan slots)."""
        self._refreshed = 0.0
        self.starting = True
        # Bounds memory as much as registry load: a finished listing holds its tags until the
        # store has them, so a thousand scans at once would hold a thousand tag lists.
        self._scan_slots = asyncio.Semaphore(scan_concurrency)
        self.metrics = metrics
        self.queue = queue
        self.secrets_dir = secrets_dir
        self.config: DaemonConfig | None = None
        self.load_problem: str | None = None
        """Why the policy files could not be read at the last try (redacted), for /readyz."""
        self.hooks: dict[str, Hook] = {}
        self.runs: dict[str, RunRecord] = {}
        """Each automation's last reconcile, for the status page."""
        self._warned = _Seen()
        self.scheduler = Scheduler(
            scan=self.request_scan,
            reconcile=self.request_reconcile,
            jitter_fraction=jitter_fraction,
        )
        self.bind_replicas()

    # -- requests (cheap, synchronous: they only enqueue) ----------------------------------

    def on_hook(self, hook: Hook) -> None:
        """Scan what the hook names (configured repositories only) and reconcile their users.

        Both start at once: the reconcile fetches the git repository while the scans run, and
        waits for them only before it selects (:meth:`_scans_settled`). A reconcile for a
        repository another replica holds is handed over after the scans.
        """
        for repository in hook.repositories:
            self.request_scan(repository, forced=True)
        config = self.config
        self.wake(config.automations_using(hook.repositories) if config else [])

    async def forge_secret(self, name: str) -> str | None:
        """``secrets_dir/name/token`` for a forge hook, read per request so that a rotated
        secret applies at once; ``None`` for a name that is no readable secret."""
        if not _SECRET_NAME.fullmatch(name):
            return None
        try:
            token = await asyncio.to_thread(read_token, self.secrets_dir, name)
        except ImageAutomationError:
            return None
        REDACTOR.add(token)
        return token

    async def on_forge_event(self, event: ForgeEvent) -> int:
        """Reconcile the automations pushing to the event's repository and head branch (no
        scan: a pull request brings no new tags), and evaluate the promotions with a stage
        where it happened (a merge or push into a stage, a commit status). Returns how many
        were queued."""
        config = self.config
        targets = config.push_targets if config else {}
        wanted = automations_for_event(event, targets) if event.number else []
        wanted += promotions_for_event(event, config.promotions if config else {})
        return self.wake(list(dict.fromkeys(wanted)))

    async def _scans_of(self, automation: str) -> None:
        """Wait for running or queued scans of the repositories ``automation`` uses."""
        config = self.config
        used = config.uses.get(automation, frozenset()) if config else frozenset()
        tasks = [t for r in sorted(used) for t in self.queue.active(scan_key(r))]
        if tasks:
            await asyncio.wait(tasks)

    # -- jobs -------------------------------------------------------------------------------

    async def refresh(self) -> DaemonConfig | None:
        """Re-read the policy files; apply the new plan and hooks. Keeps the old on failure."""
        try:
            config = await self.engine.load()
        except ImageAutomationError as exc:
            return self._load_failed(str(exc))
        except Exception as exc:  # a bug: say so, but keep retrying rather than hang unready
            log.exception("reading the policy files failed unexpectedly")
            return self._load_failed(f"unexpected {type(exc).__name__}: {exc}")
        self.load_problem = None
        self.apply(config)
        return config

    def _load_failed(self, problem: str) -> DaemonConfig | None:
        log.error("cannot read the policy files: %s", problem)
        self.metrics.config_errors.set(1)
        self.load_problem = REDACTOR(redact(problem))
        return self.config

    def apply(self, config: DaemonConfig) -> None:
        hooks, problems = build_hooks(config, secrets_dir=self.secrets_dir)
        found = [*config.errors, *problems]
        if self._warned.changed("policy files", found):  # every reconcile re-reads them
            for problem in found:
                log.warning("policy files: %s", problem)
        self.metrics.config_errors.set(len(config.errors) + len(problems))
        self.config = config
        self.hooks = hooks
        self._refreshed = time.monotonic()
        if self.replicas is not None:
            self.replicas.update(config)
        self.scheduler.apply(self._plan(config))

    async def scan(self, repository: str) -> None:
        if not await self._scan_here(repository):
            return
        async with self._scan_slots:
            await self._scan(repository)

    async def _scan(self, repository: str) -> None:
        with log_context(repository=repository):
            started = time.perf_counter()
            self.metrics.scans.labels(repository=repository).inc()
            try:
                result = await self.engine.scan(repository)
            except ImageAutomationError as exc:
                result = ScanResult(ok=False, error=str(exc))
            self.metrics.scan_duration.labels(repository=repository).observe(
                time.perf_counter() - started
            )
            if result.ok:
                self.metrics.tags.labels(repository=repository).set(result.tags)
                log.info("scanned: %d tags", result.tags)
            else:
                self.metrics.scan_errors.labels(repository=repository).inc()
                log.warning("scan failed: %s", result.error)

    async def _reconcile(
        self, automation: str, guard: PushGuard | None, ready: Callable[[], Awaitable[None]]
    ) -> None:
        with log_context(automation=automation):
            started = time.perf_counter()
            try:
                result = await self.engine.reconcile(automation, self.apply, ready, guard=guard)
            except GivenAway as exc:
                log.info("not reconciled here: %s", exc)
                return
            except LeaseLost as exc:
                self.metrics.reconciles.labels(automation=automation, result="lease_lost").inc()
                log.warning("reconcile stopped before pushing: %s", exc)
                return
            except ImageAutomationError as exc:
                result = ReconcileResult(error=str(exc))
            if result is None:
                log.info("automation no longer configured; nothing to do")
                return
            self.metrics.reconcile_duration.labels(automation=automation).observe(
                time.perf_counter() - started
            )
            self._record(automation, result)

    def _record(self, automation: str, result: ReconcileResult) -> None:
        outcome = "error" if result.error else ("committed" if result.commits else "unchanged")
        self.runs[automation] = next_run(self.runs.get(automation), automation, now=_utcnow(),
                                         error=result.error, commit=result.commit,
                                         stages=result.stages)  # fmt: skip
        self.metrics.reconciles.labels(automation=automation, result=outcome).inc()
        if result.commits:
            self.metrics.commits.labels(automation=automation).inc(result.commits)
        if result.push_retries:
            self.metrics.push_retries.labels(automation=automation).inc(result.push_retries)
        if result.file_errors:
            self.metrics.file_errors.labels(automation=automation).inc(len(result.file_errors))
        if not result.error:
            self.metrics.last_success.labels(automation=automation).set(time.time())
        for policy, (image, tag) in result.selections.items():
            self.metrics.record_selection(policy, image=image, tag=tag)
            self.metrics.policy_held.labels(policy=policy).set(1 if policy in result.held else 0)
        for pr in result.pull_requests:
            self.metrics.pull_requests.labels(automation=automation, action=pr.action).inc()
        self._log_result(automation, result, outcome)

    def _log_result(self, automation: str, result: ReconcileResult, outcome: str) -> None:
        verdicts = [f"{j.policy} {j.verdict}: {j.note or j.reason}" for j in result.promotion]
        if self._warned.changed(f"{automation} verdicts", verdicts):  # once per change
            for j in result.promotion:
                said = {"policy": j.policy, "verdict": j.verdict}
                log.info("promotion %s: %s: %s", j.policy, j.verdict, j.reason, extra=said)
        if self._warned.changed(automation, result.warnings):
            for warning in result.warnings:  # once per change of the set, not every interval
                log.warning("update: %s", warning)
        if result.commit:
            log.info("committed %s", result.commit[:12], extra={"commit": result.commit})
            for change in result.changes:
                fields = {"commit": result.commit, "file": change.file, "line": change.line,
                          "old": change.old, "new": change.new}  # fmt: skip
                log.info("changed %s:%d: %s -> %s", change.file, change.line, change.old,
                         change.new, extra=fields)  # fmt: skip
        for pr in result.pull_requests:
            fields = {"head": pr.head, "action": pr.action, "pull_request": pr.number,
                      "url": pr.url or None}  # fmt: skip
            level = logging.WARNING if pr.action == "held" else logging.INFO
            log.log(level, "pull request %s: %s", pr.head, pr.summary(), extra=fields)
        if self._warned.changed(f"{automation} held", list(result.held.values())):
            for policy, why in sorted(result.held.items()):
                log.warning("policy %s held back: %s", policy, why, extra={"policy": policy})
        for error in result.file_errors:
            log.warning("file error: %s", error)
        if result.error:
            log.warning("reconcile failed: %s", result.error)
            return
        errors = len(result.file_errors)
        file_errors = f", {errors} file error{'s' if errors > 1 else ''}" if errors else ""
        if result.pull_requests:
            actions = ", ".join(f"{pr.action} {pr.head}" for pr in result.pull_requests)
            log.info("reconciled: pull requests: %s%s", actions, file_errors)
            return
        log.info("reconciled: %s, %d commit(s)%s", outcome, result.commits, file_errors)

    async def ready(self) -> str | None:
        if self.config is None:
            why = f": {self.load_problem}" if self.load_problem else ""
            return f"policies not loaded yet{why}"
        if self.replicas is not None and self.replicas.problem:
            return self.replicas.problem
        try:
            return await self.engine.check()
        except ImageAutomationError as exc:
            return f"state store: {exc}"


__all__ = [
    "Daemon",
    "Engine",
    "ReconcileResult",
    "ScanResult",
    "build_hooks",
    "read_token",
]
