"""The event log of the SQLite store: append with pruning, read with filters.

A mixin of :class:`~image_automation.state.sqlite.SqliteStore`, like ``_sqlite_prs``; every
call runs on the store's worker thread through its ``_run``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from image_automation.domain.events import EVENTS_KEPT, Event, EventQuery, StoredEvent
from image_automation.state import _codec, _event_rows
from image_automation.state._sqlite_tx import write

T = TypeVar("T")

_INSERT = _event_rows.insert_sql("?")
_PRUNE = _event_rows.prune_sql("?")


class EventTables:
    """The event methods of the :class:`~image_automation.state.base.StateStore`."""

    if TYPE_CHECKING:

        async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def record_event(self, event: Event, *, keep: int = EVENTS_KEPT) -> int:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, not {keep}")
        row = _event_rows.to_row(event, time=_codec.time_to_text(event.timestamp))

        def append(conn: sqlite3.Connection) -> int:
            with write(conn):
                ident = conn.execute(_INSERT, row).lastrowid
                conn.execute(_PRUNE, (keep,))
            assert ident is not None
            return ident

        return await self._run(f"record {event.kind} event of {event.involved.key}", append)

    async def events(self, query: EventQuery | None = None) -> list[StoredEvent]:
        query = query or EventQuery()
        since = _codec.time_to_text(query.since)
        sql, params = _event_rows.select_sql(query, placeholder="?", time=since)

        def read(conn: sqlite3.Connection) -> list[StoredEvent]:
            rows = conn.execute(sql, params).fetchall()
            return [_from_row(row) for row in rows]

        return await self._run("read events", read)


def _from_row(row: tuple[object, ...]) -> StoredEvent:
    when = _codec.text_to_time(str(row[-1]))
    assert when is not None
    return _event_rows.from_row(row, time=when)
