"""Replicas sharing one fleet: which git repositories this process holds, kept so in rounds.

Every git repository an automation writes to (its URL, see :func:`unit_for`) is one unit of
work, leased (kind ``git``) to one replica at a time. Each replica also holds a lease on its
own id (kind ``replica``): the live ones are the unexpired ``replica`` leases. A *round*, every
third of the lease duration, renews what this replica holds, computes who should hold what
(:func:`~image_automation.daemon.sharding.assign` over the live replicas), gives back what
another replica should have (unless a job on it is running) and acquires what it should
have and is free. A repository whose holder died is free once its lease expires, and the
round that notices is scheduled for that moment: it is taken over within one lease duration.

The daemon asks :meth:`Replicas.owns` before reconciling, runs the job under the lease it had
when it started and fences every push with :meth:`Replicas.fence` (the database confirms
that very tenure, with a third of the lease duration to spare). Work for a repository held
elsewhere is handed over with :meth:`Replicas.hand_off` (a wake-up row and a notification
the holder acts on). On a single daemon with SQLite the coordinator is in memory: it holds
every lease it asks for, and the same code runs.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import secrets
import socket
import time
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.sharding import assign
from image_automation.domain import redact
from image_automation.errors import LeaseLost, StateError
from image_automation.state.leases import Coordinator, Lease, LeaseTable

log = logging.getLogger(__name__)

GIT = "git"
REPLICA = "replica"
_QUICKEST = 0.2
"""Seconds between two rounds at least, however often the others announce something."""
PushGuard = Callable[[], Awaitable[None]]
"""Awaited right before a push; raises :class:`LeaseLost` when the push must not happen."""
Notify = Callable[[list[str]], None]


@dataclass(frozen=True, slots=True)
class ReplicaSettings:
    """How replicas share the work. Durations in seconds."""

    lease_duration: float = 30.0
    """How long a lease lasts without renewal: a dead replica's repositories are taken over
    within it. Rounds run every third of it; a push needs a third of it left."""
    refresh_every: float = 60.0
    """Re-read the policy files at least this often, even with nothing to reconcile here
    (new repositories must reach every replica's view)."""
    forget_after: float = 3600.0
    """Drop the ``replica`` lease rows of processes gone longer than this."""

    @property
    def round_every(self) -> float:
        return self.lease_duration / 3

    @property
    def fence_margin(self) -> float:
        return self.lease_duration / 3


def replica_id() -> str:
    """This process's holder id: host name (the pod's name in Kubernetes), pid, random part
    (a restarted process never passes for its predecessor)."""
    return f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"


def unit_for(url: str) -> str:
    """The lease name of a git repository: its URL without a trailing ``/`` or ``.git``."""
    return url.strip().rstrip("/").removesuffix(".git").rstrip("/")


@dataclass(slots=True)
class _Held:
    lease: Lease
    deadline: float
    """Local monotonic time by which the lease has surely expired unless renewed."""


@dataclass(slots=True)
class _Hooks:
    gained: Notify = field(default=lambda automations: None)
    lost: Notify = field(default=lambda automations: None)
    woken: Notify = field(default=lambda automations: None)
    round: Callable[[], None] = field(default=lambda: None)


class Replicas:
    """This replica's leases and the rounds that keep them. See the module docstring."""

    def __init__(
        self,
        coordinator: Coordinator,
        *,
        home: str,
        metrics: Metrics,
        settings: ReplicaSettings | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._co = coordinator
        self.settings = settings or ReplicaSettings()
        self._metrics = metrics
        self._clock = clock
        self._home = unit_for(home)
        self._unit_of: dict[str, str] = {}
        self._owned: dict[str, _Held] = {}
        self._member: _Held | None = None
        self._busy: Counter[str] = Counter()
        self._live: tuple[str, ...] = (coordinator.holder,)
        self._lock = asyncio.Lock()
        self._settled = asyncio.Event()
        self._poked = asyncio.Event()
        self.hooks = _Hooks()
        self.problem: str | None = None
        """Why the last round failed (the database is unreachable, ...), for /readyz."""
        coordinator.listen(self._poked.set)

    @property
    def holder(self) -> str:
        return self._co.holder

    @property
    def shared(self) -> bool:
        return self._co.shared

    # -- what the daemon asks ----------------------------------------------------------------

    def update(self, config: DaemonConfig) -> None:
        """Take the automations and the repositories they write to from ``config``."""
        units = {a: unit_for(config.push_targets[a].repo_url) if a in config.push_targets
                 else self._home for a in config.automations}  # fmt: skip
        if set(units.values()) != set(self._unit_of.values()):
            self._poked.set()  # new or removed repositories: balance now
        self._unit_of = units

    def unit_of(self, automation: str) -> str:
        return self._unit_of.get(automation, self._home)

    def lease_of(self, automation: str) -> Lease | None:
        """The lease of ``automation``'s repository if this replica holds it now."""
        held = self._owned.get(self.unit_of(automation))
        if held is None or held.deadline <= self._clock():
            return None
        return held.lease

    def owns(self, automation: str) -> bool:
        return self.lease_of(automation) is not None

    def automations(self, units: Sequence[str]) -> list[str]:
        wanted = set(units)
        return sorted(a for a, u in self._unit_of.items() if u in wanted)

    @contextlib.asynccontextmanager
    async def working(self, automation: str) -> AsyncIterator[None]:
        """While a job runs on the automation's repository, a round does not give it away."""
        unit = self.unit_of(automation)
        self._busy[unit] += 1
        try:
            yield
        finally:
            self._busy[unit] -= 1
            if not self._busy[unit]:
                del self._busy[unit]

    def fence(self, lease: Lease) -> PushGuard:
        """The check run right before each push of a job started under ``lease``."""

        async def guard() -> None:
            where = redact(lease.name)
            try:
                held = await self._co.holds(lease, margin=self.settings.fence_margin)
            except StateError as exc:
                raise LeaseLost(f"{where}: cannot confirm the lease, not pushing: {exc}") from exc
            if not held:
                raise LeaseLost(
                    f"{where}: the lease (token {lease.token}) is no longer this replica's; "
                    "not pushing"
                )

        return guard

    async def hand_off(self, automations: Sequence[str]) -> None:
        """Ask the holders of the automations' repositories to reconcile them."""
        by_unit: dict[str, list[str]] = {}
        for automation in automations:
            by_unit.setdefault(self.unit_of(automation), []).append(automation)
        for unit, names in sorted(by_unit.items()):
            await self._co.wake(unit, names)
            self._metrics.handoffs.inc(len(names))
            log.info("handed %d reconcile(s) to the holder of %s", len(names), redact(unit))

    async def claim_scan(self, repository: str, *, every: float) -> bool:
        return await self._co.claim_scan(repository, every=every)

    async def settled(self) -> None:
        """Wait for the first round (what this replica holds is known from then on)."""
        await self._settled.wait()

    def status(self) -> list[str]:
        """Lines for /readyz: this replica, the live ones, and what it holds."""
        held = sorted(self._owned.items())
        units = len(set(self._unit_of.values()))
        lines = [
            f"replica {self.holder} ({len(self._live)} live): holds {len(held)} of {units} "
            "git repositories"
        ]
        lines += [f"  {GIT} {redact(unit)} token {h.lease.token}" for unit, h in held]
        return lines

    # -- rounds ------------------------------------------------------------------------------

    async def round(self) -> float:
        """Renew, rebalance, take wake-ups; seconds until the next round is due."""
        async with self._lock:
            try:
                delay = await self._round()
                self.problem = None
            except StateError as exc:
                self.problem = f"leases: {exc}"
                log.warning("lease round failed: %s", exc)
                self._drop_expired()
                delay = self.settings.round_every
            finally:
                self._settled.set()
                self._report()
            self.hooks.round()
            return delay

    async def _round(self) -> float:
        s = self.settings
        joined = await self._keep_membership()
        started = self._clock()
        kept = {x.name: x for x in await self._co.renew(
            [h.lease for h in self._owned.values()], ttl=s.lease_duration)}  # fmt: skip
        lost = sorted(set(self._owned) - set(kept))
        for name, lease in kept.items():
            self._owned[name] = _Held(lease, started + s.lease_duration)
        self._forget(lost, change="lost")
        members = await self._co.table(REPLICA)
        self._live = tuple(sorted({x.holder for x in members.held() if x.holder}
                                  | {self.holder}))  # fmt: skip
        git = await self._co.table(GIT)
        holders = {x.name: x.holder for x in git.held() if x.holder}
        holders.update(dict.fromkeys(self._owned, self.holder))
        plan = assign(set(self._unit_of.values()), self._live, holders)
        mine = {unit for unit, replica in plan.items() if replica == self.holder}
        surplus = [u for u in self._owned if u not in mine and not self._busy[u]]
        await self._give_back(surplus)
        await self._acquire(sorted(mine - set(self._owned)))
        await self._drain()
        if joined or surplus:  # the others balance now rather than at their next round
            await self._co.poke()
        return self._next_round(members, git, mine - set(self._owned))

    async def _keep_membership(self) -> bool:
        """Renew this replica's own lease (acquire it anew if lost); True when it joined."""
        s = self.settings
        started = self._clock()
        member = self._member
        renewed = await self._co.renew([member.lease], ttl=s.lease_duration) if member else []
        joined = not renewed
        if joined:
            renewed = await self._co.acquire(REPLICA, [self.holder], ttl=s.lease_duration)
            await self._co.prune(REPLICA, older_than=s.forget_after)
        self._member = _Held(renewed[0], started + s.lease_duration) if renewed else None
        return joined

    async def _acquire(self, units: Sequence[str]) -> None:
        if not units:
            return
        started = self._clock()
        got = await self._co.acquire(GIT, units, ttl=self.settings.lease_duration)
        for lease in got:
            self._owned[lease.name] = _Held(lease, started + self.settings.lease_duration)
        if got:
            names = [x.name for x in got]
            self._metrics.lease_changes.labels(kind=GIT, change="gained").inc(len(got))
            log.info("now holding %s", ", ".join(redact(n) for n in names))
            self.hooks.gained(self.automations(names))

    async def _give_back(self, units: Sequence[str]) -> None:
        if not units:
            return
        await self._co.release([self._owned[u].lease for u in units])
        self._forget(units, change="released")

    def _forget(self, units: Sequence[str], *, change: str) -> None:
        if not units:
            return
        for unit in units:
            self._owned.pop(unit, None)
        self._metrics.lease_changes.labels(kind=GIT, change=change).inc(len(units))
        log.info("%s %s", "gave back" if change == "released" else "lost",
                 ", ".join(redact(u) for u in units))  # fmt: skip
        self.hooks.lost(self.automations(units))

    def _drop_expired(self) -> None:
        """A round failed: leases whose time has surely run out are not ours any more."""
        now = self._clock()
        self._forget([u for u, h in self._owned.items() if h.deadline <= now], change="lost")

    async def _drain(self) -> None:
        """Reconcile what other replicas handed to this one."""
        woken = await self._co.take_wakeups(sorted(self._owned))
        if woken:
            self.hooks.woken(sorted({automation for _, automation in woken}))

    def _next_round(self, members: LeaseTable, git: LeaseTable, waiting: set[str]) -> float:
        """The regular delay, or sooner: when another replica's membership would expire (it
        died if it did not renew it: its repositories are to be shared out) or a lease this
        replica waits for does."""
        others = [x for x in members.held() if x.holder != self.holder]
        awaited = [x for x in git.held() if x.name in waiting]
        return min([
            self.settings.round_every,
            *(_left(x, members.now) for x in others),
            *(_left(x, git.now) for x in awaited),
        ])  # fmt: skip

    def _report(self) -> None:
        self._metrics.leases_held.labels(kind=GIT).set(len(self._owned))
        self._metrics.leases_held.labels(kind=REPLICA).set(1 if self._member else 0)
        self._metrics.replicas.set(len(self._live))

    async def run(self, stop: asyncio.Event) -> None:
        """Rounds until ``stop``, and one whenever another replica announces something (work
        handed over, a replica joined, leases given back), at most every ``_QUICKEST``."""
        settled = asyncio.ensure_future(self._settled.wait())
        stopped = asyncio.ensure_future(stop.wait())
        try:
            await asyncio.wait({settled, stopped}, return_when=asyncio.FIRST_COMPLETED)
        finally:
            settled.cancel()
            stopped.cancel()
        due = self._clock() + self.settings.round_every
        while not stop.is_set():
            if self._poked.is_set() or self._clock() >= due:
                self._poked.clear()
                try:
                    due = self._clock() + await self.round()
                except Exception:  # a bug: keep the leases renewed rather than die silently
                    log.exception("lease round failed unexpectedly")
                    due = self._clock() + self.settings.round_every
            await _wait_any(stop, timeout=min(_QUICKEST, max(due - self._clock(), 0.0)))
            if not self._poked.is_set():
                await _wait_any(stop, self._poked, timeout=max(due - self._clock(), 0.0))

    async def close(self) -> None:
        """Give back every lease (the others take over at once rather than at expiry)."""
        leases = [h.lease for h in self._owned.values()]
        if self._member is not None:
            leases.append(self._member.lease)
        with contextlib.suppress(StateError):
            await self._co.release(leases)
            await self._co.poke()  # the others take over now, not at their next round
        self._owned.clear()
        self._member = None
        self._report()


def _left(lease: Lease, now: datetime) -> float:
    """Seconds until ``lease`` expires, plus a little (so it surely has by then)."""
    return max((lease.expires - now).total_seconds(), 0.0) + 0.05


async def _wait_any(*events: asyncio.Event, timeout: float) -> None:
    waits = [asyncio.ensure_future(e.wait()) for e in events]
    try:
        await asyncio.wait(waits, timeout=timeout, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for task in waits:
            task.cancel()
        await asyncio.gather(*waits, return_exceptions=True)


__all__ = [
    "GIT",
    "REPLICA",
    "PushGuard",
    "ReplicaSettings",
    "Replicas",
    "replica_id",
    "unit_for",
]
