"""Coordination between replicas: leases with fencing tokens, scan slots, and wake-ups.

Several daemons on one PostgreSQL share the work through a :class:`Coordinator`:

- **Leases** (:mod:`image_automation.state._leases` has the rules): a named piece of work
  (``git`` + a repository URL, ``replica`` + a replica's id) is held by one holder until an
  expiry, under a fencing token that grows with every new tenure. The holder renews it; a
  dead holder's lease expires and another takes it over.
- **Scan slots**: a registry repository is scanned on a timer by whichever replica claims
  its slot first; the slot stays claimed for about one interval, so N replicas scan it about
  once per interval together, and the others read the tags it stored.
- **Wake-ups**: a webhook reaching a replica that does not hold an automation's repository is
  handed to the holder through the store (and a notification, so it acts at once).

The clock is the backend's own (PostgreSQL's ``clock_timestamp()``): replicas on different
machines compare expiries against one clock, never their own. :func:`open_coordinator` picks
the backend from the state URL: PostgreSQL's shares the tables between processes; SQLite's
store is one daemon's, so its coordinator is an in-memory table applying the same rules to a
single holder (:class:`MemoryCoordinator`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol, runtime_checkable

from image_automation.state import _leases
from image_automation.state._leases import Lease

WakeListener = Callable[[], None]
"""Called when another replica handed work over (check :meth:`Coordinator.take_wakeups`)."""


@dataclass(frozen=True, slots=True)
class LeaseTable:
    """Every stored lease of one kind, and the backend's time when it was read."""

    now: datetime
    leases: tuple[Lease, ...] = ()

    def held(self) -> list[Lease]:
        """The leases somebody holds now, by name."""
        return sorted((x for x in self.leases if not x.free(self.now)), key=lambda x: x.name)


@runtime_checkable
class Coordinator(Protocol):
    """What replicas share. Every method may raise ``StateError``."""

    @property
    def holder(self) -> str:
        """This process's holder id (unique per process, never reused)."""
        ...

    @property
    def shared(self) -> bool:
        """True when other processes may hold leases too (PostgreSQL)."""
        ...

    async def acquire(self, kind: str, names: Sequence[str], *, ttl: float) -> list[Lease]:
        """Acquire (or keep) each free lease of ``names``; the ones now held, by name."""
        ...

    async def renew(self, leases: Sequence[Lease], *, ttl: float) -> list[Lease]:
        """Extend the leases still held under their tokens; the others are not returned."""
        ...

    async def release(self, leases: Sequence[Lease]) -> None:
        """Give the leases back (those still held); they are free at once."""
        ...

    async def holds(self, lease: Lease, *, margin: float) -> bool:
        """The fencing check: ``lease`` is still the current tenure with ``margin`` seconds
        to spare."""
        ...

    async def table(self, kind: str) -> LeaseTable:
        """Every lease of ``kind`` and the backend's time."""
        ...

    async def prune(self, kind: str, *, older_than: float) -> None:
        """Forget leases of ``kind`` free for longer than ``older_than`` seconds."""
        ...

    async def claim_scan(self, repository: str, *, every: float) -> bool:
        """Claim the scheduled scan of ``repository``: True when nobody claimed it in the
        last ``every`` seconds (the caller scans), else False (the tags come from the store)."""
        ...

    async def wake(self, unit: str, automations: Sequence[str]) -> None:
        """Ask the holder of ``unit`` to reconcile ``automations`` soon."""
        ...

    async def take_wakeups(self, units: Sequence[str]) -> list[tuple[str, str]]:
        """Remove and return the pending (unit, automation) wake-ups of ``units``."""
        ...

    def listen(self, listener: WakeListener) -> None:
        """Call ``listener`` whenever a wake-up may be waiting or another holder asked the
        others to look at the leases again (best effort: also poll)."""
        ...

    async def poke(self) -> None:
        """Ask every listener to look again (a holder joined, or gave leases back)."""
        ...

    async def close(self) -> None: ...


@dataclass(slots=True)
class MemoryCoordinator:
    """A coordinator for one process: the lease rules over a dict, with an injectable clock.

    What a single daemon on SQLite uses (it holds every lease it asks for, since nobody else
    asks), and what unit tests drive with a test clock to play several holders at once:
    :meth:`as_holder` gives another holder's view of the same tables.
    """

    holder: str = "local"
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
    _leases: dict[tuple[str, str], Lease] = field(default_factory=dict)
    _slots: dict[str, datetime] = field(default_factory=dict)
    _wakeups: dict[tuple[str, str], None] = field(default_factory=dict)
    _listeners: list[WakeListener] = field(default_factory=list)

    @property
    def shared(self) -> bool:
        return False

    def as_holder(self, holder: str) -> MemoryCoordinator:
        """Another holder sharing these very tables (tests of contention)."""
        return MemoryCoordinator(
            holder, self.clock, self._leases, self._slots, self._wakeups, self._listeners
        )

    async def acquire(self, kind: str, names: Sequence[str], *, ttl: float) -> list[Lease]:
        now, out = self.clock(), []
        for name in sorted(set(names)):
            key = (kind, name)
            got = _leases.acquire(
                self._leases.get(key), kind=kind, name=name, holder=self.holder, now=now, ttl=ttl
            )
            if got is not None:
                self._leases[key] = got
                out.append(got)
        return out

    async def renew(self, leases: Sequence[Lease], *, ttl: float) -> list[Lease]:
        now, out = self.clock(), []
        for lease in leases:
            key = (lease.kind, lease.name)
            renewed = _leases.renew(self._leases.get(key), lease, now=now, ttl=ttl)
            if renewed is not None:
                self._leases[key] = renewed
                out.append(renewed)
        return sorted(out, key=lambda x: (x.kind, x.name))

    async def release(self, leases: Sequence[Lease]) -> None:
        now = self.clock()
        for lease in leases:
            key = (lease.kind, lease.name)
            released = _leases.release(self._leases.get(key), lease, now=now)
            if released is not None:
                self._leases[key] = released

    async def holds(self, lease: Lease, *, margin: float) -> bool:
        current = self._leases.get((lease.kind, lease.name))
        return _leases.holds(current, lease, now=self.clock(), margin=margin)

    async def table(self, kind: str) -> LeaseTable:
        rows = tuple(v for (k, _), v in sorted(self._leases.items()) if k == kind)
        return LeaseTable(self.clock(), rows)

    async def prune(self, kind: str, *, older_than: float) -> None:
        cutoff = self.clock() - timedelta(seconds=older_than)
        for key, lease in list(self._leases.items()):
            if key[0] == kind and lease.free(cutoff):
                del self._leases[key]

    async def claim_scan(self, repository: str, *, every: float) -> bool:
        now = self.clock()
        if not _leases.slot_free(self._slots.get(repository), now=now, every=every):
            return False
        self._slots[repository] = now
        return True

    async def wake(self, unit: str, automations: Sequence[str]) -> None:
        for automation in automations:
            self._wakeups[(unit, automation)] = None
        for listener in list(self._listeners):
            listener()

    async def take_wakeups(self, units: Sequence[str]) -> list[tuple[str, str]]:
        wanted = set(units)
        taken = sorted(key for key in self._wakeups if key[0] in wanted)
        for key in taken:
            del self._wakeups[key]
        return taken

    def listen(self, listener: WakeListener) -> None:
        self._listeners.append(listener)

    async def poke(self) -> None:
        for listener in list(self._listeners):
            listener()

    async def close(self) -> None:
        self._listeners.clear()


async def open_coordinator(url: str | Path, *, holder: str) -> Coordinator:
    """The coordinator that goes with the state store at ``url``: PostgreSQL's tables for a
    ``postgresql://`` URL (importing psycopg only then), else one process's own."""
    text = str(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else "sqlite"
    if scheme in ("postgresql", "postgres"):
        from image_automation.state._leases_postgres import PostgresCoordinator

        return await PostgresCoordinator.open(text, holder=holder)
    return MemoryCoordinator(holder)


__all__ = [
    "Coordinator",
    "Lease",
    "LeaseTable",
    "MemoryCoordinator",
    "WakeListener",
    "open_coordinator",
]
