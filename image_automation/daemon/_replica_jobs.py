"""The daemon's jobs that depend on which replica holds what (a mixin of ``Daemon``).

Apart from :mod:`image_automation.daemon.service` so that module keeps to the jobs
themselves: here are the requests (a scan: scheduled or a webhook's; a reconcile: only where
the repository is held), the routing of webhooks (reconcile here, or hand over to the replica
holding the repository), the timers a replica keeps (every scan, the reconciles it holds),
what happens when a repository comes or goes, the scan slots, and the lease a reconcile runs
under (checked again when its turn comes, held busy while it selects, commits and pushes).
With ``replicas`` ``None`` (unit tests of the jobs) this process holds everything.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Awaitable, Callable, Sequence
from contextlib import AsyncExitStack

from image_automation.daemon.logs import log_context
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.replicas import PushGuard, Replicas
from image_automation.daemon.scheduler import Plan, Scheduler, WorkQueue
from image_automation.domain import redact
from image_automation.errors import LeaseLost, StateError
from image_automation.state.leases import Lease

log = logging.getLogger("image_automation.daemon.service")


class GivenAway(LeaseLost):
    """The repository went to another replica before this run started its work."""


def scan_key(repository: str) -> str:
    """The work queue's key for scans of ``repository`` (one runs, one waits, per key)."""
    return f"scan:{repository}"


class ReplicaJobs:
    """Routing by lease; :class:`~image_automation.daemon.service.Daemon` has the rest."""

    queue: WorkQueue
    scheduler: Scheduler
    replicas: Replicas | None
    config: DaemonConfig | None
    metrics: Metrics
    _forced: set[str]
    _refreshed: float
    starting: bool
    """Until start-up has scanned and queued its reconciles, a repository gained only gets
    its timers (start-up reconciles it after the scans, not before)."""

    def request_scan(self, repository: str, *, forced: bool = False) -> asyncio.Task[None] | None:
        """Queue a scan; its task (or the queued one it joined), None once the queue closed.

        A scheduled scan runs only if this replica claims the repository's slot (no replica
        scanned it this interval); a ``forced`` one (a webhook's) always runs.
        """
        if forced:
            self._forced.add(repository)
        return self.queue.submit(scan_key(repository), functools.partial(self.scan, repository))

    def request_reconcile(self, automation: str) -> asyncio.Task[None] | None:
        """Queue a reconcile; its task as :meth:`request_scan` returns one. None, too, when
        another replica holds the automation's repository (it reconciles it)."""
        if self.replicas is not None and not self.replicas.owns(automation):
            return None
        return self.queue.submit(
            f"reconcile:{automation}", functools.partial(self.reconcile, automation)
        )

    async def refresh(self) -> DaemonConfig | None:
        raise NotImplementedError

    async def scan(self, repository: str) -> None:
        raise NotImplementedError

    async def _scans_of(self, automation: str) -> None:
        raise NotImplementedError

    async def _reconcile(
        self, automation: str, guard: PushGuard | None, ready: Callable[[], Awaitable[None]]
    ) -> None:
        raise NotImplementedError

    async def reconcile(self, automation: str) -> None:
        """Re-read the policy files (every time, so edits apply), then run the automation.

        Only under this replica's lease on the automation's repository, every push fenced by
        that very lease."""
        replicas = self.replicas
        lease = replicas.lease_of(automation) if replicas else None
        if replicas is not None and lease is None:
            log.info("not reconciled here: another replica holds its repository",
                     extra={"automation": automation})  # fmt: skip
            return
        guard = replicas.fence(lease) if replicas and lease else None
        async with AsyncExitStack() as held:
            ready = functools.partial(self._scans_settled, automation, lease, held)
            await self._reconcile(automation, guard, ready)

    async def _scans_settled(
        self, automation: str, lease: Lease | None = None, held: AsyncExitStack | None = None
    ) -> None:
        await self._scans_of(automation)
        if self.replicas is not None and lease is not None and held is not None:
            # Rounds may have given the repository away while this run waited its turn.
            current = self.replicas.lease_of(automation)
            if current is None or current.token != lease.token:
                raise GivenAway(f"{redact(lease.name)} went to another replica meanwhile")
            await held.enter_async_context(self.replicas.working(automation))
        # From here on it selects, edits, commits and pushes: a stop lets that finish (and a
        # round does not give the repository away).
        self.queue.protect_current()

    def bind_replicas(self) -> None:
        """Hear from the replicas' rounds: repositories gained or lost, work handed over."""
        if self.replicas is not None:
            self.replicas.hooks.gained = self._gained
            self.replicas.hooks.lost = self._lost
            self.replicas.hooks.woken = self._woken
            self.replicas.hooks.round = self._refresh_if_old

    def wake(self, automations: Sequence[str]) -> int:
        """Reconcile ``automations`` soon: here when this replica holds the repository, else by
        handing them to the replica that does, once this replica's scans for them are done.
        Returns how many were queued or handed over."""
        woken = 0
        for automation in automations:
            if self.replicas is None or self.replicas.owns(automation):
                woken += self.request_reconcile(automation) is not None
            else:
                job = functools.partial(self._hand_off, automation)
                woken += self.queue.submit(f"handoff:{automation}", job) is not None
        return woken

    async def _hand_off(self, automation: str) -> None:
        await self._scans_of(automation)
        if self.replicas is None:  # pragma: no cover - only queued with replicas
            return
        if self.replicas.owns(automation):  # it came here meanwhile
            self.request_reconcile(automation)
            return
        with log_context(automation=automation):
            try:
                await self.replicas.hand_off([automation])
            except StateError as exc:
                log.warning("could not hand the reconcile over: %s", exc)

    def _plan(self, config: DaemonConfig) -> Plan:
        """Timers: every scan (the slots pick one replica), the reconciles held here."""
        owned = {a: i for a, i in config.automations.items()
                 if self.replicas is None or self.replicas.owns(a)}  # fmt: skip
        return Plan(scans=config.scans, reconciles=owned)

    def _gained(self, automations: list[str]) -> None:
        """A repository came to this replica: its automations run now, then on their timers."""
        if self.config is not None:
            self.scheduler.apply(self._plan(self.config))
        if self.starting:
            return
        for automation in automations:
            self.request_reconcile(automation)

    def _lost(self, automations: list[str]) -> None:
        """A repository went elsewhere: its timers stop, and its reconciles still waiting
        their turn are withdrawn (each would fetch the policy repository only to find the
        repository gone; the replica that took over reconciles it at once)."""
        if self.config is not None:
            self.scheduler.apply(self._plan(self.config))
        withdrawn = sum(self.queue.withdraw(f"reconcile:{a}") for a in automations)
        if withdrawn:
            log.info("withdrew %d reconcile(s) of repositories now held elsewhere", withdrawn)

    def _woken(self, automations: list[str]) -> None:
        for automation in automations:
            self.request_reconcile(automation)

    def _refresh_if_old(self) -> None:
        """Keep this replica's view of the files fresh even when it reconciles nothing."""
        every = self.replicas.settings.refresh_every if self.replicas else 0.0
        if self.config is not None and time.monotonic() - self._refreshed >= every:
            self.queue.submit("refresh", self._refresh_job)

    async def _refresh_job(self) -> None:
        await self.refresh()

    async def _scan_here(self, repository: str) -> bool:
        """Whether this replica runs this scan: a webhook's always, a scheduled one if this
        replica claims the repository's slot (else it is counted and left out)."""
        forced = repository in self._forced
        self._forced.discard(repository)
        if forced or await self._claim_scan(repository):
            return True
        self.metrics.scans_skipped.labels(repository=repository).inc()
        log.debug("scan left out: another replica scanned %s this interval", repository)
        return False

    async def _claim_scan(self, repository: str) -> bool:
        """True when this replica should run the scheduled scan of ``repository`` now."""
        interval = self.config.scans.get(repository) if self.config else None
        if self.replicas is None or interval is None:
            return True
        # The slot lasts a little less than the shortest gap between two timer runs here,
        # so a lone daemon never skips its own scan, and one replica in N scans each interval.
        every = (interval - self.scheduler.jitter(interval)) * 0.95
        try:
            return await self.replicas.claim_scan(repository, every=every)
        except StateError as exc:
            log.warning("scan slot of %s unknown, scanning: %s", repository, exc)
            return True


__all__ = ["GivenAway", "ReplicaJobs", "scan_key"]
