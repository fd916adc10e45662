"""The embedded default state store: one SQLite file in WAL mode.

Why one worker thread: ``sqlite3`` calls block, and a connection is cheapest used from one
thread. Every call runs on this store's own single-thread executor, so calls are serialised per
store while the event loop stays free; several stores (or processes) on one file are
coordinated by SQLite's locks (``BEGIN IMMEDIATE`` + busy timeout). WAL lets readers proceed
while a writer commits.
"""

from __future__ import annotations

import asyncio
import fcntl
import os
import sqlite3
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import datetime
from functools import partial
from pathlib import Path
from types import TracebackType
from typing import Any, Self, TypeVar
from urllib.parse import unquote, urlsplit

from image_automation.domain import Decision, TagInfo
from image_automation.errors import StateError
from image_automation.state import _codec
from image_automation.state._sqlite_events import EventTables
from image_automation.state._sqlite_forge import ForgeResponseTables
from image_automation.state._sqlite_gates import GateTables
from image_automation.state._sqlite_prs import PullRequestTables
from image_automation.state._sqlite_schema import migrate
from image_automation.state._sqlite_tx import CheckedConnection
from image_automation.state._sqlite_tx import write as _write
from image_automation.state.base import (
    PushRecord,
    ScanStatus,
    StoredDecision,
    TagDiff,
)

T = TypeVar("T")

BUSY_TIMEOUT_S = 30.0
"""How long a writer waits for another process's write lock before failing, in seconds."""


def path_from_url(url: str) -> Path:
    """``sqlite:///relative.db`` → ``relative.db``; ``sqlite:////abs/x.db`` → ``/abs/x.db``.

    The SQLAlchemy convention: three slashes then the path, so an absolute path has four.
    """
    parts = urlsplit(url)
    if parts.scheme != "sqlite" or parts.netloc or not parts.path.startswith("/"):
        raise StateError(f"not a sqlite URL (want sqlite:///PATH): {url!r}")
    path = unquote(parts.path[1:])
    if not path:
        raise StateError(f"sqlite URL names no file: {url!r}")
    return Path(path)


@contextmanager
def _translated(path: Path, action: str) -> Iterator[None]:
    """Turn sqlite3 errors into StateError naming the file and what we were doing."""
    try:
        yield
    except sqlite3.Error as exc:
        raise StateError(f"state database {path}: {action}: {exc}") from exc
    except (OverflowError, UnicodeEncodeError, _codec.NulCharacter) as exc:
        # Raised while binding: an integer beyond 64 bits, a string that is not UTF-8 or
        # that holds NUL (refused by CheckedConnection, as PostgreSQL refuses it).
        raise StateError(f"state database {path}: {action}: value cannot be stored: {exc}") from exc
    except OSError as exc:
        raise StateError(f"state database {path}: {action}: {exc.strerror or exc}") from exc


class SqliteStore(PullRequestTables, GateTables, EventTables, ForgeResponseTables):
    """:class:`~image_automation.state.base.StateStore` on a SQLite file. Open with :meth:`open`.

    The pull-request methods live in :class:`PullRequestTables`, the forge responses in
    :class:`ForgeResponseTables`; both run through :meth:`_run`.
    """

    def __init__(self, path: Path, conn: sqlite3.Connection, executor: ThreadPoolExecutor):
        self.path = path
        self._conn: sqlite3.Connection | None = conn
        self._executor = executor

    @classmethod
    async def open(cls, target: str | Path) -> SqliteStore:
        """Open (creating file and parent directories) and migrate to the latest schema.

        ``target`` is a path or a ``sqlite:///PATH`` URL.
        """
        path = path_from_url(target) if isinstance(target, str) and "://" in target else None
        path = path or Path(target)
        executor = ThreadPoolExecutor(max_workers=1, thread_name_prefix="state-sqlite")
        loop = asyncio.get_running_loop()
        try:
            conn = await loop.run_in_executor(executor, _connect, path)
        except BaseException:
            executor.shutdown(wait=False)
            raise
        return cls(path, conn, executor)

    async def close(self) -> None:
        conn, self._conn = self._conn, None
        if conn is None:
            return
        loop = asyncio.get_running_loop()
        try:
            with _translated(self.path, "close"):
                await loop.run_in_executor(self._executor, conn.close)
        finally:
            self._executor.shutdown(wait=True)

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T:
        conn = self._conn
        if conn is None:
            raise StateError(f"state database {self.path}: {action}: store is closed")

        def call() -> T:
            with _translated(self.path, action):
                return fn(conn)

        return await asyncio.get_running_loop().run_in_executor(self._executor, call)

    # -- scans -------------------------------------------------------------------------------

    async def replace_tags(
        self,
        repository: str,
        tags: Sequence[TagInfo],
        *,
        now: datetime,
        requests: int = 0,
    ) -> TagDiff:
        latest = {tag.name: _tag_to_row(tag) for tag in tags}  # a repeated name: last wins
        fn = partial(_replace_tags, repository, latest, _codec.time_to_text(now), requests)
        return await self._run(f"store tags of {repository}", fn)

    async def record_failure(
        self, repository: str, error: str, *, now: datetime, requests: int = 0
    ) -> None:
        when = _codec.time_to_text(now)
        text = _codec.error_text(error)

        def write(conn: sqlite3.Connection) -> None:
            with _write(conn):
                _ensure_repository(conn, repository)
                conn.execute(
                    "UPDATE repositories SET last_attempt = ?, last_error = ?, requests = ?"
                    " WHERE name = ?",
                    (when, text, requests, repository),
                )

        await self._run(f"record failed scan of {repository}", write)

    async def tags(self, repository: str) -> list[TagInfo]:
        def read(conn: sqlite3.Connection) -> list[TagInfo]:
            rows = conn.execute(
                "SELECT name, digest, created, pushed, first_seen FROM tags"
                " WHERE repository = ? ORDER BY name",
                (repository,),
            ).fetchall()
            return [_tag_from_row(row) for row in rows]

        return await self._run(f"read tags of {repository}", read)

    async def scan_status(self, repository: str) -> ScanStatus | None:
        def read(conn: sqlite3.Connection) -> ScanStatus | None:
            row = conn.execute(_STATUS_SELECT + " WHERE name = ?", (repository,)).fetchone()
            return None if row is None else _status_from_row(row)

        return await self._run(f"read scan status of {repository}", read)

    async def scan_statuses(self) -> list[ScanStatus]:
        def read(conn: sqlite3.Connection) -> list[ScanStatus]:
            rows = conn.execute(_STATUS_SELECT + " ORDER BY name").fetchall()
            return [_status_from_row(row) for row in rows]

        return await self._run("read scan statuses", read)

    # -- decisions -------------------------------------------------------------------------

    async def save_decision(
        self, policy: str, decision: Decision, *, repository: str, now: datetime
    ) -> None:
        params = (
            policy,
            repository,
            _codec.time_to_text(now),
            decision.tag,
            decision.digest,
            _codec.decision_to_json(decision),
        )

        def write(conn: sqlite3.Connection) -> None:
            with _write(conn):
                conn.execute(
                    "INSERT INTO decisions (policy, repository, decided_at, tag, digest, decision)"
                    " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (policy) DO UPDATE SET"
                    " repository = excluded.repository, decided_at = excluded.decided_at,"
                    " tag = excluded.tag, digest = excluded.digest, decision = excluded.decision",
                    params,
                )

        await self._run(f"store decision of {policy}", write)

    async def decision(self, policy: str) -> StoredDecision | None:
        def read(conn: sqlite3.Connection) -> StoredDecision | None:
            row = conn.execute(_DECISION_SELECT + " WHERE policy = ?", (policy,)).fetchone()
            return None if row is None else _decision_from_row(row)

        return await self._run(f"read decision of {policy}", read)

    async def decisions(self) -> list[StoredDecision]:
        def read(conn: sqlite3.Connection) -> list[StoredDecision]:
            rows = conn.execute(_DECISION_SELECT + " ORDER BY policy").fetchall()
            return [_decision_from_row(row) for row in rows]

        return await self._run("read decisions", read)

    # -- pushes ----------------------------------------------------------------------------

    async def record_push(self, record: PushRecord) -> None:
        params = (
            record.automation,
            record.commit,
            _codec.time_to_text(record.pushed_at),
            _codec.changes_to_json(record.changes),
        )

        def write(conn: sqlite3.Connection) -> None:
            with _write(conn):
                conn.execute(
                    "INSERT INTO pushes (automation, commit_sha, pushed_at, changes)"
                    " VALUES (?, ?, ?, ?)",
                    params,
                )

        await self._run(f"record push of {record.automation}", write)

    async def last_push(self, automation: str) -> PushRecord | None:
        def read(conn: sqlite3.Connection) -> PushRecord | None:
            row = conn.execute(
                "SELECT automation, commit_sha, pushed_at, changes FROM pushes"
                " WHERE automation = ? ORDER BY pushed_at DESC, id DESC LIMIT 1",
                (automation,),
            ).fetchone()
            return None if row is None else _push_from_row(row)

        return await self._run(f"read last push of {automation}", read)

    async def pushes(self, automation: str, *, limit: int = 100) -> list[PushRecord]:
        def read(conn: sqlite3.Connection) -> list[PushRecord]:
            rows = conn.execute(
                "SELECT automation, commit_sha, pushed_at, changes FROM pushes"
                " WHERE automation = ? ORDER BY pushed_at DESC, id DESC LIMIT ?",
                (automation, max(limit, 0)),
            ).fetchall()
            return [_push_from_row(row) for row in rows]

        return await self._run(f"read pushes of {automation}", read)

    async def recent_pushes(self, *, limit: int = 100) -> list[PushRecord]:
        def read(conn: sqlite3.Connection) -> list[PushRecord]:
            rows = conn.execute(
                "SELECT automation, commit_sha, pushed_at, changes FROM pushes"
                " ORDER BY pushed_at DESC, id DESC LIMIT ?",
                (max(limit, 0),),
            ).fetchall()
            return [_push_from_row(row) for row in rows]

        return await self._run("read recent pushes", read)


# -- helpers run on the worker thread -------------------------------------------------------


@contextmanager
def _opening(path: Path) -> Iterator[None]:
    """Serialise first-open work (WAL switch, migration) across stores and processes.

    Switching a fresh file to WAL needs an exclusive lock, and SQLite may answer
    ``database is locked`` at once rather than wait out the busy timeout when several
    connections try together. A ``flock`` on a sidecar file (``NAME.lock``, kept; the kernel
    drops the lock if the holder dies) makes openers take turns. Not the database file
    itself: closing any descriptor of it would drop SQLite's own POSIX locks.
    """
    fd = os.open(path.with_name(path.name + ".lock"), os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _connect(path: Path) -> sqlite3.Connection:
    with _translated(path, "open"):
        path.parent.mkdir(parents=True, exist_ok=True)
        with _opening(path):
            return _connect_locked(path)


def _connect_locked(path: Path) -> sqlite3.Connection:
    with _translated(path, "open"):
        conn = sqlite3.connect(
            path, timeout=BUSY_TIMEOUT_S, isolation_level=None, factory=CheckedConnection
        )
        try:
            mode = conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if str(mode).lower() != "wal":
                raise StateError(f"state database {path}: cannot use WAL mode (got {mode})")
            conn.execute("PRAGMA synchronous = NORMAL")
            conn.execute("PRAGMA foreign_keys = ON")
            migrate(conn)
        except BaseException:
            conn.close()
            raise
        return conn


def _ensure_repository(conn: sqlite3.Connection, repository: str) -> None:
    conn.execute(
        "INSERT INTO repositories (name) VALUES (?) ON CONFLICT (name) DO NOTHING", (repository,)
    )


def _replace_tags(
    repository: str,
    latest: dict[str, _TagRow],
    now: str | None,
    requests: int,
    conn: sqlite3.Connection,
) -> TagDiff:
    with _write(conn):
        _ensure_repository(conn, repository)
        stored = {
            row[0]
            for row in conn.execute("SELECT name FROM tags WHERE repository = ?", (repository,))
        }
        removed = sorted(stored - latest.keys())
        conn.executemany(
            "DELETE FROM tags WHERE repository = ? AND name = ?",
            [(repository, name) for name in removed],
        )
        conn.executemany(
            "INSERT INTO tags (repository, name, digest, created, pushed, first_seen)"
            " VALUES (?, ?, ?, ?, ?, ?) ON CONFLICT (repository, name) DO UPDATE SET"
            " digest = excluded.digest, created = excluded.created, pushed = excluded.pushed",
            [(repository, *row, now) for row in latest.values()],
        )
        conn.execute(
            "UPDATE repositories SET last_attempt = ?, last_success = ?, last_error = NULL,"
            " tag_count = ?, requests = ? WHERE name = ?",
            (now, now, len(latest), requests, repository),
        )
    return TagDiff(
        added=tuple(sorted(latest.keys() - stored)), removed=tuple(removed), count=len(latest)
    )


_TagRow = tuple[str, str | None, str | None, str | None]
"""name, digest, created, pushed: the columns a scan sets (first_seen is the store's)."""


def _tag_to_row(tag: TagInfo) -> _TagRow:
    created, pushed = _codec.time_to_text(tag.created), _codec.time_to_text(tag.pushed)
    return (tag.name, tag.digest, created, pushed)


def _tag_from_row(row: Any) -> TagInfo:
    return TagInfo(
        name=row[0],
        digest=row[1],
        created=_codec.text_to_time(row[2]),
        pushed=_codec.text_to_time(row[3]),
        first_seen=_codec.text_to_time(row[4]),
    )


def _push_from_row(row: Any) -> PushRecord:
    pushed_at = _codec.text_to_time(row[2])
    assert pushed_at is not None  # NOT NULL column
    return PushRecord(row[0], row[1], pushed_at, _codec.changes_from_json(row[3]))


_STATUS_SELECT = (
    "SELECT name, last_attempt, last_success, last_error, tag_count, requests FROM repositories"
)


def _status_from_row(row: Any) -> ScanStatus:
    return ScanStatus(
        repository=row[0],
        last_attempt=_codec.text_to_time(row[1]),
        last_success=_codec.text_to_time(row[2]),
        last_error=row[3],
        tag_count=int(row[4]),
        requests=int(row[5]),
    )


_DECISION_SELECT = "SELECT policy, repository, decided_at, decision FROM decisions"


def _decision_from_row(row: Any) -> StoredDecision:
    decided_at = _codec.text_to_time(row[2])
    assert decided_at is not None  # NOT NULL column
    return StoredDecision(
        policy=row[0],
        repository=row[1],
        decided_at=decided_at,
        decision=_codec.decision_from_json(row[3]),
    )
