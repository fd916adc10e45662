"""The shared state store: PostgreSQL through psycopg 3 and an async connection pool.

Why PostgreSQL: several replicas (and ``status`` from anywhere) share one store over the
network, which a SQLite file cannot offer. It keeps the SQLite store's semantics exactly
(the same protocol, the same contract tests): a scan replaces a repository's tags in one
transaction that first locks the repository's row, so concurrent writers of one repository
take turns and a reader's single statement sees the old set or the new one; times are
``timestamptz`` read back in UTC; JSON columns hold the same text as SQLite's.

Opening migrates the schema on a connection of its own (see ``_postgres_schema``), which is
also where a wrong host or password shows first, as one clear line; then the pool opens.
Chosen by ``--state postgresql://…`` (or ``postgres://``) and imported only then, so the
SQLite default never loads psycopg.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from types import TracebackType
from typing import Any, Self

import psycopg
from psycopg import AsyncConnection
from psycopg_pool import AsyncConnectionPool

from image_automation.domain import Decision, TagInfo
from image_automation.errors import StateError
from image_automation.state import _codec
from image_automation.state._postgres_dsn import PostgresSettings, Target, parse_url
from image_automation.state._postgres_errors import translated
from image_automation.state._postgres_events import EventTables
from image_automation.state._postgres_forge import ForgeResponseTables
from image_automation.state._postgres_gates import GateTables
from image_automation.state._postgres_prs import PullRequestTables
from image_automation.state._postgres_schema import migrate
from image_automation.state.base import PushRecord, ScanStatus, StoredDecision, TagDiff

__all__ = ["PostgresSettings", "PostgresStore"]

Conn = AsyncConnection[Any]


async def _configure(conn: Conn) -> None:
    # Timestamps come back in UTC whatever the server's or role's TimeZone says.
    await conn.execute("SET TIME ZONE 'UTC'")


class PostgresStore(PullRequestTables, GateTables, EventTables, ForgeResponseTables):
    """:class:`~image_automation.state.base.StateStore` on PostgreSQL. Open with :meth:`open`.

    The pull-request methods live in :class:`PullRequestTables`, the forge responses in
    :class:`ForgeResponseTables`; both borrow connections
    through :meth:`_connection`, which translates every error.
    """

    def __init__(self, target: Target, pool: AsyncConnectionPool[Conn]) -> None:
        self._target = target
        self._pool: AsyncConnectionPool[Conn] | None = pool

    @property
    def description(self) -> str:
        """Which database this is, for messages: host, port, database and user only."""
        return self._target.description

    @property
    def settings(self) -> PostgresSettings:
        return self._target.settings

    @classmethod
    async def open(cls, url: str) -> PostgresStore:
        """Connect, migrate to the latest schema, and open the pool.

        ``url`` is ``postgresql://[user[:password]@][host][:port][/dbname][?param=value&…]``.
        """
        target = parse_url(str(url))
        await _migrate(target)
        settings = target.settings
        pool: AsyncConnectionPool[Conn] = AsyncConnectionPool(
            target.conninfo,
            min_size=settings.min_size,
            max_size=settings.max_size,
            timeout=settings.pool_timeout,
            open=False,
            kwargs={"autocommit": True},
            configure=_configure,
            check=AsyncConnectionPool.check_connection,
            name="image-automation-state",
        )
        try:
            with translated(target, "open the connection pool"):
                await pool.open(wait=True, timeout=float(settings.connect_timeout))
        except BaseException:
            await pool.close()
            raise
        return cls(target, pool)

    async def close(self) -> None:
        pool, self._pool = self._pool, None
        if pool is not None:
            with translated(self._target, "close"):
                await pool.close()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    @asynccontextmanager
    async def _connection(self, action: str) -> AsyncIterator[Conn]:
        pool = self._pool
        if pool is None:
            raise StateError(f"{self._target.description}: {action}: store is closed")
        with translated(self._target, action):
            async with pool.connection() as conn:
                yield conn

    @asynccontextmanager
    async def _transaction(self, action: str) -> AsyncIterator[Conn]:
        """A pooled connection inside one transaction, committed when the block ends."""
        async with self._connection(action) as conn, conn.transaction():
            yield conn

    # -- scans -------------------------------------------------------------------------------

    async def replace_tags(
        self,
        repository: str,
        tags: Sequence[TagInfo],
        *,
        now: datetime,
        requests: int = 0,
    ) -> TagDiff:
        latest = {tag.name: tag for tag in tags}  # a repeated name: last wins
        columns = (
            list(latest),
            [t.digest for t in latest.values()],
            [_optional_utc(t.created) for t in latest.values()],
            [_optional_utc(t.pushed) for t in latest.values()],
        )
        when = _codec.utc(now)
        async with self._transaction(f"store tags of {repository}") as conn:
            await _lock_repository(conn, repository)
            cur = await conn.execute("SELECT name FROM tags WHERE repository = %s", (repository,))
            stored = {row[0] for row in await cur.fetchall()}
            removed = sorted(stored - latest.keys())
            if removed:
                await conn.execute(
                    "DELETE FROM tags WHERE repository = %s AND name = ANY(%s)",
                    (repository, removed),
                )
            await conn.execute(_UPSERT_TAGS, (repository, when, *columns))
            await conn.execute(
                "UPDATE repositories SET last_attempt = %s, last_success = %s,"
                " last_error = NULL, tag_count = %s, requests = %s WHERE name = %s",
                (when, when, len(latest), requests, repository),
            )
        return TagDiff(
            added=tuple(sorted(latest.keys() - stored)), removed=tuple(removed), count=len(latest)
        )

    async def record_failure(
        self, repository: str, error: str, *, now: datetime, requests: int = 0
    ) -> None:
        params = (_codec.utc(now), _codec.error_text(error), requests, repository)
        async with self._transaction(f"record failed scan of {repository}") as conn:
            await _lock_repository(conn, repository)
            await conn.execute(
                "UPDATE repositories SET last_attempt = %s, last_error = %s, requests = %s"
                " WHERE name = %s",
                params,
            )

    async def tags(self, repository: str) -> list[TagInfo]:
        async with self._connection(f"read tags of {repository}") as conn:
            cur = await conn.execute(
                "SELECT name, digest, created, pushed, first_seen FROM tags"
                " WHERE repository = %s ORDER BY name",
                (repository,),
            )
            rows = await cur.fetchall()
        return [
            TagInfo(
                name=row[0],
                digest=row[1],
                created=_optional_utc(row[2]),
                pushed=_optional_utc(row[3]),
                first_seen=_optional_utc(row[4]),
            )
            for row in rows
        ]

    async def scan_status(self, repository: str) -> ScanStatus | None:
        async with self._connection(f"read scan status of {repository}") as conn:
            cur = await conn.execute(_STATUS_SELECT + " WHERE name = %s", (repository,))
            row = await cur.fetchone()
        return None if row is None else _status_from_row(row)

    async def scan_statuses(self) -> list[ScanStatus]:
        async with self._connection("read scan statuses") as conn:
            cur = await conn.execute(_STATUS_SELECT + " ORDER BY name")
            rows = await cur.fetchall()
        return [_status_from_row(row) for row in rows]

    # -- decisions -------------------------------------------------------------------------

    async def save_decision(
        self, policy: str, decision: Decision, *, repository: str, now: datetime
    ) -> None:
        params = (
            policy,
            repository,
            _codec.utc(now),
            decision.tag,
            decision.digest,
            _codec.decision_to_json(decision),
        )
        async with self._connection(f"store decision of {policy}") as conn:
            await conn.execute(
                "INSERT INTO decisions (policy, repository, decided_at, tag, digest, decision)"
                " VALUES (%s, %s, %s, %s, %s, %s) ON CONFLICT (policy) DO UPDATE SET"
                " repository = excluded.repository, decided_at = excluded.decided_at,"
                " tag = excluded.tag, digest = excluded.digest, decision = excluded.decision",
                params,
            )

    async def decision(self, policy: str) -> StoredDecision | None:
        async with self._connection(f"read decision of {policy}") as conn:
            cur = await conn.execute(_DECISION_SELECT + " WHERE policy = %s", (policy,))
            row = await cur.fetchone()
        return None if row is None else _decision_from_row(row)

    async def decisions(self) -> list[StoredDecision]:
        async with self._connection("read decisions") as conn:
            cur = await conn.execute(_DECISION_SELECT + " ORDER BY policy")
            rows = await cur.fetchall()
        return [_decision_from_row(row) for row in rows]

    # -- pushes ----------------------------------------------------------------------------

    async def record_push(self, record: PushRecord) -> None:
        params = (
            record.automation,
            record.commit,
            _codec.utc(record.pushed_at),
            _codec.changes_to_json(record.changes),
        )
        async with self._connection(f"record push of {record.automation}") as conn:
            await conn.execute(
                "INSERT INTO pushes (automation, commit_sha, pushed_at, changes)"
                " VALUES (%s, %s, %s, %s)",
                params,
            )

    async def last_push(self, automation: str) -> PushRecord | None:
        async with self._connection(f"read last push of {automation}") as conn:
            cur = await conn.execute(
                "SELECT automation, commit_sha, pushed_at, changes FROM pushes"
                " WHERE automation = %s ORDER BY pushed_at DESC, id DESC LIMIT 1",
                (automation,),
            )
            row = await cur.fetchone()
        return None if row is None else _push(row)

    async def recent_pushes(self, *, limit: int = 100) -> list[PushRecord]:
        async with self._connection("read recent pushes") as conn:
            cur = await conn.execute(
                "SELECT automation, commit_sha, pushed_at, changes FROM pushes"
                " ORDER BY pushed_at DESC, id DESC LIMIT %s",
                (max(limit, 0),),
            )
            rows = await cur.fetchall()
        return [_push(row) for row in rows]

    async def pushes(self, automation: str, *, limit: int = 100) -> list[PushRecord]:
        async with self._connection(f"read pushes of {automation}") as conn:
            cur = await conn.execute(
                "SELECT automation, commit_sha, pushed_at, changes FROM pushes"
                " WHERE automation = %s ORDER BY pushed_at DESC, id DESC LIMIT %s",
                (automation, max(limit, 0)),
            )
            rows = await cur.fetchall()
        return [_push(row) for row in rows]


def _push(row: Any) -> PushRecord:
    return PushRecord(row[0], row[1], row[2].astimezone(UTC), _codec.changes_from_json(row[3]))


async def _migrate(target: Target) -> None:
    """Bring the schema up to date on a connection of our own, closed again afterwards."""
    with translated(target, "connect"):
        conn = await psycopg.AsyncConnection.connect(target.conninfo, autocommit=True)
    try:
        with translated(target, "migrate the schema"):
            await migrate(conn)
    finally:
        with translated(target, "close"):
            await conn.close()


async def _lock_repository(conn: Conn, repository: str) -> None:
    """Create the repository's row if needed and lock it until the transaction ends, so
    writers of one repository run one after the other and each sees the other's tags."""
    await conn.execute(
        "INSERT INTO repositories (name) VALUES (%s) ON CONFLICT (name) DO NOTHING",
        (repository,),
    )
    await conn.execute("SELECT 1 FROM repositories WHERE name = %s FOR UPDATE", (repository,))


def _optional_utc(when: datetime | None) -> datetime | None:
    return None if when is None else _codec.utc(when)


_UPSERT_TAGS = (
    "INSERT INTO tags (repository, name, digest, created, pushed, first_seen)"
    " SELECT %s, t.name, t.digest, t.created, t.pushed, %s"
    " FROM unnest(%s::text[], %s::text[], %s::timestamptz[], %s::timestamptz[])"
    " AS t (name, digest, created, pushed)"
    " ON CONFLICT (repository, name) DO UPDATE SET"
    " digest = excluded.digest, created = excluded.created, pushed = excluded.pushed"
)

_STATUS_SELECT = (
    "SELECT name, last_attempt, last_success, last_error, tag_count, requests FROM repositories"
)


def _status_from_row(row: Any) -> ScanStatus:
    return ScanStatus(
        repository=row[0],
        last_attempt=_optional_utc(row[1]),
        last_success=_optional_utc(row[2]),
        last_error=row[3],
        tag_count=int(row[4]),
        requests=int(row[5]),
    )


_DECISION_SELECT = "SELECT policy, repository, decided_at, decision FROM decisions"


def _decision_from_row(row: Any) -> StoredDecision:
    return StoredDecision(
        policy=row[0],
        repository=row[1],
        decided_at=row[2].astimezone(UTC),
        decision=_codec.decision_from_json(row[3]),
    )
