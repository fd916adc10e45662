"""The pull-request part of the SQLite store: records, ignored versions, the opened log.

A mixin of :class:`~image_automation.state.sqlite.SqliteStore` so that module stays about
scans, decisions and pushes; every method runs on the store's worker thread through its
``_run`` (which translates sqlite3 errors) and writes in one ``BEGIN IMMEDIATE`` transaction.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Sequence
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from image_automation.state import _codec
from image_automation.state._sqlite_tx import write
from image_automation.state.base import (
    OPENED_LOG_KEPT,
    PULL_REQUEST_STATES,
    IgnoredVersion,
    PullRequestRecord,
    SetterChange,
)

T = TypeVar("T")

_COLUMNS = (
    "automation, head, provider, number, url, state, base, pushed_sha, changes,"
    " opened_at, updated_at, human_sha, notice_posted"
)
_SELECT = f"SELECT {_COLUMNS} FROM pull_requests"
_UPSERT = (
    f"INSERT INTO pull_requests ({_COLUMNS}) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)"
    " ON CONFLICT (automation, head) DO UPDATE SET provider = excluded.provider,"
    " number = excluded.number, url = excluded.url, state = excluded.state,"
    " base = excluded.base, pushed_sha = excluded.pushed_sha, changes = excluded.changes,"
    " opened_at = excluded.opened_at, updated_at = excluded.updated_at,"
    " human_sha = excluded.human_sha, notice_posted = excluded.notice_posted"
)
_IGNORE = (
    "INSERT INTO ignored_versions (automation, head, setter, value, number, reason, ignored_at)"
    " VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (automation, head, setter, value) DO NOTHING"
)
_IGNORED_SELECT = (
    "SELECT automation, head, setter, value, number, reason, ignored_at FROM ignored_versions"
    " WHERE automation = ? ORDER BY head, setter, value"
)


class PullRequestTables:
    """The pull-request methods of the :class:`~image_automation.state.base.StateStore`."""

    if TYPE_CHECKING:

        async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def pull_request(self, automation: str, head: str) -> PullRequestRecord | None:
        def read(conn: sqlite3.Connection) -> PullRequestRecord | None:
            row = conn.execute(
                _SELECT + " WHERE automation = ? AND head = ?", (automation, head)
            ).fetchone()
            return None if row is None else _record_from_row(row)

        return await self._run(f"read pull request of {automation} {head}", read)

    async def pull_requests(self, automation: str | None = None) -> list[PullRequestRecord]:
        def read(conn: sqlite3.Connection) -> list[PullRequestRecord]:
            if automation is None:
                rows = conn.execute(_SELECT + " ORDER BY automation, head")
            else:
                rows = conn.execute(_SELECT + " WHERE automation = ? ORDER BY head", (automation,))
            return [_record_from_row(row) for row in rows.fetchall()]

        return await self._run(f"read pull requests of {automation or 'every automation'}", read)

    async def save_pull_request(self, record: PullRequestRecord) -> None:
        params = _record_to_row(record)

        def save(conn: sqlite3.Connection) -> None:
            with write(conn):
                conn.execute(_UPSERT, params)

        await self._run(f"store pull request of {record.automation} {record.head}", save)

    async def forget_pull_request(self, automation: str, head: str) -> None:
        def forget(conn: sqlite3.Connection) -> None:
            with write(conn):
                conn.execute(
                    "DELETE FROM pull_requests WHERE automation = ? AND head = ?",
                    (automation, head),
                )

        await self._run(f"forget pull request of {automation} {head}", forget)

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
        when = _codec.time_to_text(now)
        rows = [(automation, head, c.setter, c.new, number, reason, when) for c in changes]

        def ignore(conn: sqlite3.Connection) -> None:
            with write(conn):
                conn.executemany(_IGNORE, rows)

        await self._run(f"ignore versions for {automation} {head}", ignore)

    async def ignored_versions(self, automation: str) -> list[IgnoredVersion]:
        def read(conn: sqlite3.Connection) -> list[IgnoredVersion]:
            rows = conn.execute(_IGNORED_SELECT, (automation,)).fetchall()
            return [_ignored_from_row(row) for row in rows]

        return await self._run(f"read ignored versions of {automation}", read)

    async def unignore_pull_request(self, automation: str, number: int) -> None:
        def unignore(conn: sqlite3.Connection) -> None:
            with write(conn):
                conn.execute(
                    "DELETE FROM ignored_versions WHERE automation = ? AND number = ?",
                    (automation, number),
                )

        await self._run(f"lift ignores of pull request {number} of {automation}", unignore)

    async def record_pull_request_opened(
        self, automation: str, number: int, *, now: datetime
    ) -> None:
        when = _codec.time_to_text(now)
        cutoff = _codec.time_to_text(now - OPENED_LOG_KEPT)

        def log(conn: sqlite3.Connection) -> None:
            with write(conn):
                # Pruned here rather than by a job: the log then never outgrows a day of
                # openings, and the store needs no clock of its own.
                conn.execute("DELETE FROM pull_requests_opened WHERE opened_at < ?", (cutoff,))
                conn.execute(
                    "INSERT INTO pull_requests_opened (automation, number, opened_at)"
                    " VALUES (?, ?, ?) ON CONFLICT (automation, number) DO NOTHING",
                    (automation, number, when),
                )

        await self._run(f"log pull request {number} opened by {automation}", log)

    async def pull_requests_opened_since(self, automation: str, since: datetime) -> int:
        start = _codec.time_to_text(since)

        def count(conn: sqlite3.Connection) -> int:
            row = conn.execute(
                "SELECT count(*) FROM pull_requests_opened WHERE automation = ? AND opened_at >= ?",
                (automation, start),
            ).fetchone()
            return int(row[0])

        return await self._run(f"count pull requests opened by {automation}", count)


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
        _codec.time_to_text(record.opened_at),
        _codec.time_to_text(record.updated_at),
        record.human_sha,
        int(record.notice_posted),
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
        opened_at=_required_time(row[9]),
        updated_at=_required_time(row[10]),
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
        ignored_at=_required_time(row[6]),
    )


def _required_time(text: str) -> datetime:
    when = _codec.text_to_time(text)
    assert when is not None  # NOT NULL column
    return when
