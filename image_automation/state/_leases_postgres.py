"""The replicas' coordinator on PostgreSQL: leases, scan slots and wake-ups in shared tables.

Each lease operation is one transaction that locks the rows it names (``FOR UPDATE``; an
acquisition skips rows another replica is locking right now, which it could not get anyway),
reads the database's clock *after* the locks, applies the pure rules of
:mod:`image_automation.state._leases` to each row and writes the results back: the same rules
as the in-memory coordinator, with PostgreSQL's clock as the one clock of every replica.

Its own small pool, apart from the state store's: a renewal must never queue behind a slow
scan write, or a busy replica would lose its leases. Wake-ups are rows (nothing is lost while
the holder restarts) plus a ``NOTIFY`` on one channel, which a dedicated ``LISTEN``
connection turns into a call of the registered listener; a dropped listening connection is
reopened with backoff, and the listener is called once after every reconnection (the daemon
also polls its wake-ups on every lease round).
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from image_automation.errors import StateError
from image_automation.state import _leases
from image_automation.state._leases import Lease
from image_automation.state._postgres_dsn import Target, parse_url
from image_automation.state._postgres_errors import translated
from image_automation.state._postgres_schema import migrate
from image_automation.state.leases import LeaseTable, WakeListener

log = logging.getLogger(__name__)

Conn = AsyncConnection[Any]
CHANNEL = "image_automation_wake"
_NEVER = datetime(1970, 1, 1, tzinfo=UTC)
"""Expiry of a placeholder row: long past, so the row is free."""
_COLUMNS = "kind, name, holder, token, expires_at"


class PostgresCoordinator:
    """:class:`~image_automation.state.leases.Coordinator` on PostgreSQL. Use :meth:`open`."""

    def __init__(self, target: Target, pool: AsyncConnectionPool[Conn], *, holder: str) -> None:
        self._target = target
        self._pool: AsyncConnectionPool[Conn] | None = pool
        self._holder = holder
        self._listeners: list[WakeListener] = []
        self._listening: asyncio.Task[None] | None = None

    @property
    def holder(self) -> str:
        return self._holder

    @property
    def shared(self) -> bool:
        return True

    @classmethod
    async def open(cls, url: str, *, holder: str) -> Self:
        target = parse_url(url)
        with translated(target, "connect"):
            conn = await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True)
        try:
            with translated(target, "migrate the schema"):
                await migrate(conn)
        finally:
            with translated(target, "close"):
                await conn.close()
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            target.conninfo, min_size=1, max_size=2, timeout=target.settings.pool_timeout,
            open=False, kwargs={"autocommit": True}, check=AsyncConnectionPool.check_connection,
            name="image-automation-leases",
        )  # fmt: skip
        try:
            with translated(target, "open the lease pool"):
                await pool.open(wait=True, timeout=float(target.settings.connect_timeout))
        except BaseException:
            await pool.close()
            raise
        return cls(target, pool, holder=holder)

    async def close(self) -> None:
        task, self._listening = self._listening, None
        if task is not None:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        pool, self._pool = self._pool, None
        if pool is not None:
            with translated(self._target, "close"):
                await pool.close()

    @asynccontextmanager
    async def _transaction(self, action: str) -> AsyncIterator[Conn]:
        pool = self._pool
        if pool is None:
            raise StateError(f"{self._target.description}: {action}: coordinator is closed")
        with translated(self._target, action):
            async with pool.connection() as conn, conn.transaction():
                yield conn

    # -- leases ------------------------------------------------------------------------------

    async def acquire(self, kind: str, names: Sequence[str], *, ttl: float) -> list[Lease]:
        wanted = sorted(set(names))
        if not wanted:
            return []
        async with self._transaction(f"acquire {kind} leases") as conn:
            await conn.execute(
                "INSERT INTO leases (kind, name, holder, token, expires_at)"
                " SELECT %s, n, NULL, 0, %s FROM unnest(%s::text[]) AS n"
                " ON CONFLICT (kind, name) DO NOTHING",
                (kind, _NEVER, wanted),
            )
            rows = await _locked(conn, [(kind, n) for n in wanted], skip_locked=True)
            now = await _now(conn)
            got = [
                _leases.acquire(row, kind=kind, name=row.name, holder=self._holder, now=now,
                                ttl=ttl)
                for row in rows
            ]  # fmt: skip
            held = [lease for lease in got if lease is not None]
            await _write(conn, held)
        return held

    async def renew(self, leases: Sequence[Lease], *, ttl: float) -> list[Lease]:
        if not leases:
            return []
        async with self._transaction("renew leases") as conn:
            rows = {(r.kind, r.name): r for r in await _locked(conn, _keys(leases))}
            now = await _now(conn)
            renewed = [
                x for lease in leases
                if (x := _leases.renew(rows.get((lease.kind, lease.name)), lease, now=now,
                                       ttl=ttl)) is not None
            ]  # fmt: skip
            await _write(conn, renewed)
        return sorted(renewed, key=lambda x: (x.kind, x.name))

    async def release(self, leases: Sequence[Lease]) -> None:
        if not leases:
            return
        async with self._transaction("release leases") as conn:
            rows = {(r.kind, r.name): r for r in await _locked(conn, _keys(leases))}
            now = await _now(conn)
            released = [
                x for lease in leases
                if (x := _leases.release(rows.get((lease.kind, lease.name)), lease, now=now))
                is not None
            ]  # fmt: skip
            await _write(conn, released)

    async def holds(self, lease: Lease, *, margin: float) -> bool:
        async with self._transaction(f"check the {lease.kind} lease") as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM leases WHERE kind = %s AND name = %s",
                (lease.kind, lease.name),
            )
            row = await cur.fetchone()
            now = await _now(conn)
        current = None if row is None else _lease(row)
        return _leases.holds(current, lease, now=now, margin=margin)

    async def table(self, kind: str) -> LeaseTable:
        async with self._transaction(f"read {kind} leases") as conn:
            cur = await conn.execute(
                f"SELECT {_COLUMNS} FROM leases WHERE kind = %s ORDER BY name", (kind,)
            )
            rows = await cur.fetchall()
            now = await _now(conn)
        return LeaseTable(now, tuple(_lease(row) for row in rows))

    async def prune(self, kind: str, *, older_than: float) -> None:
        async with self._transaction(f"prune {kind} leases") as conn:
            await conn.execute(
                "DELETE FROM leases WHERE kind = %s"
                " AND expires_at < clock_timestamp() - make_interval(secs => %s)",
                (kind, older_than),
            )

    # -- scan slots and wake-ups ---------------------------------------------------------

    async def claim_scan(self, repository: str, *, every: float) -> bool:
        async with self._transaction(f"claim the scan of {repository}") as conn:
            cur = await conn.execute(
                "INSERT INTO scan_slots AS s (repository, claimed_at, holder)"
                " VALUES (%s, clock_timestamp(), %s) ON CONFLICT (repository) DO UPDATE"
                " SET claimed_at = excluded.claimed_at, holder = excluded.holder"
                " WHERE s.claimed_at <= excluded.claimed_at - make_interval(secs => %s)"
                " RETURNING 1",
                (repository, self._holder, every),
            )
            return await cur.fetchone() is not None

    async def wake(self, unit: str, automations: Sequence[str]) -> None:
        async with self._transaction(f"hand over work on {unit}") as conn:
            await conn.execute(
                "INSERT INTO wakeups (unit, automation, requested_at)"
                " SELECT %s, a, clock_timestamp() FROM unnest(%s::text[]) AS a"
                " ON CONFLICT (unit, automation) DO NOTHING",
                (unit, sorted(set(automations))),
            )
            await conn.execute(f"NOTIFY {CHANNEL}")  # delivered when this commits

    async def take_wakeups(self, units: Sequence[str]) -> list[tuple[str, str]]:
        if not units:
            return []
        async with self._transaction("take wake-ups") as conn:
            cur = await conn.execute(
                "DELETE FROM wakeups WHERE unit = ANY(%s) RETURNING unit, automation",
                (sorted(set(units)),),
            )
            rows = await cur.fetchall()
        return sorted((str(r[0]), str(r[1])) for r in rows)

    async def poke(self) -> None:
        async with self._transaction("notify the other replicas") as conn:
            await conn.execute(f"NOTIFY {CHANNEL}")

    def listen(self, listener: WakeListener) -> None:
        self._listeners.append(listener)
        if self._listening is None:
            self._listening = asyncio.create_task(self._listen(), name="lease wake-ups")

    async def _listen(self) -> None:
        delay = 1.0
        while True:
            try:
                with translated(self._target, "listen for wake-ups"):
                    async with await psycopg.AsyncConnection.connect(
                        self._target.conninfo, autocommit=True
                    ) as conn:
                        await conn.execute(f"LISTEN {CHANNEL}")
                        delay = 1.0
                        self._notify()  # anything sent while we were not listening
                        async for _ in conn.notifies():
                            self._notify()
            except StateError as exc:
                log.warning("wake-up listener: %s; again in %.0fs", exc, delay)
            await asyncio.sleep(delay)
            delay = min(delay * 2, 30.0)

    def _notify(self) -> None:
        for listener in list(self._listeners):
            listener()


def _keys(leases: Sequence[Lease]) -> list[tuple[str, str]]:
    return sorted({(x.kind, x.name) for x in leases})


async def _locked(
    conn: Conn, keys: Sequence[tuple[str, str]], *, skip_locked: bool = False
) -> list[Lease]:
    """The rows of ``keys``, locked until the transaction ends (in name order: no deadlock
    between two replicas locking overlapping sets)."""
    skip = " SKIP LOCKED" if skip_locked else ""
    cur = await conn.execute(
        f"SELECT {_COLUMNS} FROM leases WHERE (kind, name) IN"
        " (SELECT * FROM unnest(%s::text[], %s::text[]))"
        f" ORDER BY kind, name FOR UPDATE{skip}",
        ([k for k, _ in keys], [n for _, n in keys]),
    )
    return [_lease(row) for row in await cur.fetchall()]


async def _write(conn: Conn, leases: Sequence[Lease]) -> None:
    if not leases:
        return
    await conn.execute(
        "UPDATE leases AS l SET holder = u.holder, token = u.token, expires_at = u.expires"
        " FROM unnest(%s::text[], %s::text[], %s::text[], %s::bigint[], %s::timestamptz[])"
        " AS u (kind, name, holder, token, expires)"
        " WHERE l.kind = u.kind AND l.name = u.name",
        (
            [x.kind for x in leases],
            [x.name for x in leases],
            [x.holder for x in leases],
            [x.token for x in leases],
            [x.expires for x in leases],
        ),
    )


async def _now(conn: Conn) -> datetime:
    cur = await conn.execute("SELECT clock_timestamp()")
    row = await cur.fetchone()
    assert row is not None
    return _utc(row[0])


def _utc(when: datetime) -> datetime:
    return when.astimezone(UTC)


def _lease(row: Any) -> Lease:
    return Lease(
        kind=str(row[0]), name=str(row[1]), holder=row[2], token=int(row[3]),
        expires=_utc(row[4]),
    )  # fmt: skip


__all__ = ["CHANNEL", "PostgresCoordinator"]
