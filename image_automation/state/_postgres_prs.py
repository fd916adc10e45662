"""The pull-request part of the PostgreSQL store: records, ignored versions, the opened log.

A mixin of :class:`~image_automation.state.postgres.PostgresStore`, the counterpart of
``_sqlite_prs``: the same rows and rules (a record per (automation, head) replaced whole,
ignores that keep their first entry, an opened log pruned on write), written with
``ON CONFLICT`` so concurrent writers from several replicas need no locks of ours.
"""

from __future__ import annotations

from collections.abc import Sequence
from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from image_automation.state import _codec
from image_automation.state.base import (
    OPENED_LOG_KEPT,
    PULL_REQUEST_STATES,
    IgnoredVersion,
    PullRequestRecord,
    SetterChange,
)

Conn = AsyncConnection[Any]

_COLUMNS = (
    "automation, head, provider, number, url, state, base, pushed_sha, changes,"
    " opened_at, updated_at, human_sha, notice_posted"
)
_SELECT = f"SELECT {_COLUMNS} FROM pull_requests"
_UPSERT = (
    f"INSERT INTO pull_requests ({_COLUMNS})"
    " VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    " ON CONFLICT (automation, head) DO UPDATE SET provider = excluded.provider,"
    " number = excluded.number, url = excluded.url, state = excluded.state,"
    " base = excluded.base, pushed_sha = excluded.pushed_sha, changes = excluded.changes,"
    " opened_at = excluded.opened_at, updated_at = excluded.updated_at,"
    " human_sha = excluded.human_sha, notice_posted = excluded.notice_posted"
)
# One statement for any number of changes: the arrays are unnested server-side.
_IGNORE = (
    "INSERT INTO ignored_versions (automation, head, setter, value, number, reason, ignored_at)"
    " SELECT %s, %s, v.setter, v.value, %s, %s, %s"
    " FROM unnest(%s::text[], %s::text[]) WITH ORDINALITY AS v (setter, value, position)"
    " ORDER BY v.position"
    " ON CONFLICT (automation, head, setter, value) DO NOTHING"
)
_IGNORED_SELECT = (
    "SELECT automation, head, setter, value, number, reason, ignored_at FROM ignored_versions"
    " WHERE automation = %s ORDER BY head, setter, value"
)


class PullRequestTables:
    """The pull-request methods of the :class:`~image_automation.state.base.StateStore`."""

    if TYPE_CHECKING:

        def _connection(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

        def _transaction(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

    async def pull_request(self, automation: str, head: str) -> PullRequestRecord | None:
        async with self._connection(f"read pull request of {automation} {head}") as conn:
            cur = await conn.execute(
                _SELECT + " WHERE automation = %s AND head = %s", (automation, head)
            )
            row = await cur.fetchone()
        return None if row is None else _record_from_row(row)

    async def pull_requests(self, automation: str | None = None) -> list[PullRequestRecord]:
        action = f"read pull requests of {automation or 'every automation'}"
        async with self._connection(action) as conn:
            if automation is None:
                cur = await conn.execute(_SELECT + " ORDER BY automation, head")
            else:
                cur = await conn.execute(
                    _SELECT + " WHERE automation = %s ORDER BY head", (automation,)
                )
            rows = await cur.fetchall()
        return [_record_from_row(row) for row in rows]

    async def save_pull_request(self, record: PullRequestRecord) -> None:
        params = _record_to_row(record)
        async with self._connection(
            f"store pull request of {record.automation} {record.head}"
        ) as conn:
            await conn.execute(_UPSERT, params)

    async def forget_pull_request(self, automation: str, head: str) -> None:
        async with self._connection(f"forget pull request of {automation} {head}") as conn:
            await conn.execute(
                "DELETE FROM pull_requests WHERE automation = %s AND head = %s",
                (automation, head),
            )

    async def ignore_versions(
        self,
        automation: str,
        head: str,
        changes: Sequence[SetterChange],
        *,
        number: int | None,
        reason: str,
        now: datetime,
    ) -> None:
        when = _codec.utc(now)
        setters = [c.setter for c in changes]
        values = [c.new for c in changes]
        params = (automation, head, number, reason, when, setters, values)
        async with self._connection(f"ignore versions for {automation} {head}") as conn:
            await conn.execute(_IGNORE, params)

    async def ignored_versions(self, automation: str) -> list[IgnoredVersion]:
        async with self._connection(f"read ignored versions of {automation}") as conn:
            cur = await conn.execute(_IGNORED_SELECT, (automation,))
            rows = await cur.fetchall()
        return [_ignored_from_row(row) for row in rows]

    async def unignore_pull_request(self, automation: str, number: int) -> None:
        async with self._connection(
            f"lift ignores of pull request {number} of {automation}"
        ) as conn:
            await conn.execute(
                "DELETE FROM ignored_versions WHERE automation = %s AND number = %s",
                (automation, number),
            )

    async def record_pull_request_opened(
        self, automation: str, number: int, *, now: datetime
    ) -> None:
        when = _codec.utc(now)
        cutoff = _codec.utc(now - OPENED_LOG_KEPT)
        async with self._transaction(f"log pull request {number} opened by {automation}") as conn:
            # Pruned here rather than by a job, as in SQLite: the log never outgrows a
            # day of openings, and the store needs no clock of its own.
            await conn.execute("DELETE FROM pull_requests_opened WHERE opened_at < %s", (cutoff,))
            await conn.execute(
                "INSERT INTO pull_requests_opened (automation, number, opened_at)"
                " VALUES (%s, %s, %s) ON CONFLICT (automation, number) DO NOTHING",
                (automation, number, when),
            )

    async def pull_requests_opened_since(self, automation: str, since: datetime) -> int:
        start = _codec.utc(since)
        async with self._connection(f"count pull requests opened by {automation}") as conn:
            cur = await conn.execute(
                "SELECT count(*) FROM pull_requests_opened"
                " WHERE automation = %s AND opened_at >= %s",
                (automation, start),
            )
            row = await cur.fetchone()
        return int(row[0]) if row is not None else 0


def _record_to_row(record: PullRequestRecord) -> tuple[object, ...]:
    if record.state not in PULL_REQUEST_STATES:
        raise ValueError(
            f"unknown pull request state {record.state!r} (want one of {PULL_REQUEST_STATES})"
        )
    return (
        record.automation,
        record.head,
        record.provider,
        record.number,
        record.url,
        record.state,
        record.base,
        record.pushed_sha,
        _codec.changes_to_json(record.changes),
        _codec.utc(record.opened_at),
        _codec.utc(record.updated_at),
        record.human_sha,
        bool(record.notice_posted),
    )


def _record_from_row(row: Any) -> PullRequestRecord:
    return PullRequestRecord(
        automation=row[0],
        head=row[1],
        provider=row[2],
        number=int(row[3]),
        url=row[4],
        state=row[5],
        base=row[6],
        pushed_sha=row[7],
        changes=_codec.changes_from_json(row[8]),
        opened_at=row[9].astimezone(UTC),
        updated_at=row[10].astimezone(UTC),
        human_sha=row[11],
        notice_posted=bool(row[12]),
    )


def _ignored_from_row(row: Any) -> IgnoredVersion:
    return IgnoredVersion(
        automation=row[0],
        head=row[1],
        setter=row[2],
        value=row[3],
        number=None if row[4] is None else int(row[4]),
        reason=row[5],
        ignored_at=row[6].astimezone(UTC),
    )
