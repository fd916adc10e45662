"""The daemon's jobs that depend on which replica holds what (a mixin of ``Daemon``).

Apart from :mod:`image_automation.daemon.service` so that module keeps to the jobs
themselves: here are the routing of webhooks (reconcile here, or hand over to the replica
holding the repository), the timers a replica keeps (every scan, the reconciles it holds),
what happens when a repository comes or goes, and the scan slots. With ``replicas`` ``None``
(unit tests of the jobs) this process holds everything.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import time
from collections.abc import Sequence

from image_automation.daemon.logs import log_context
from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.replicas import Replicas
from image_automation.daemon.scheduler import Plan, Scheduler, WorkQueue
from image_automation.errors import StateError

log = logging.getLogger("image_automation.daemon.service")


class ReplicaJobs:
    """Routing by lease; :class:`~image_automation.daemon.service.Daemon` has the rest."""

    queue: WorkQueue
    scheduler: Scheduler
    replicas: Replicas | None
    config: DaemonConfig | None
    _refreshed: float
    starting: bool
    """Until start-up has scanned and queued its reconciles, a repository gained only gets
    its timers (start-up reconciles it after the scans, not before)."""

    def request_reconcile(self, automation: str) -> asyncio.Task[None] | None:
        raise NotImplementedError

    async def refresh(self) -> DaemonConfig | None:
        raise NotImplementedError

    async def _scans_of(self, automation: str) -> None:
        raise NotImplementedError

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
        if self.config is not None:
            self.scheduler.apply(self._plan(self.config))

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


__all__ = ["ReplicaJobs"]
