"""The event log of the PostgreSQL store: append with pruning, read with filters.

A mixin of :class:`~image_automation.state.postgres.PostgresStore`, the counterpart of
``_sqlite_events``. Replicas append concurrently: identity ids need no lock, and the prune
that follows each insert only ever deletes below the newest ``keep``.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from image_automation.domain.events import EVENTS_KEPT, Event, EventQuery, StoredEvent
from image_automation.state import _codec, _event_rows

Conn = AsyncConnection[Any]

_INSERT = _event_rows.insert_sql("%s") + " RETURNING id"
_PRUNE = _event_rows.prune_sql("%s")


class EventTables:
    """The event methods of the :class:`~image_automation.state.base.StateStore`."""

    if TYPE_CHECKING:

        def _connection(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

        def _transaction(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

    async def record_event(self, event: Event, *, keep: int = EVENTS_KEPT) -> int:
        if keep < 1:
            raise ValueError(f"keep must be at least 1, not {keep}")
        row = _event_rows.to_row(event, time=_codec.utc(event.timestamp))
        action = f"record {event.kind} event of {event.involved.key}"
        async with self._transaction(action) as conn:
            cur = await conn.execute(_INSERT, row)
            fetched = await cur.fetchone()
            await conn.execute(_PRUNE, (keep,))
        assert fetched is not None
        return int(fetched[0])

    async def events(self, query: EventQuery | None = None) -> list[StoredEvent]:
        query = query or EventQuery()
        since = None if query.since is None else _codec.utc(query.since)
        sql, params = _event_rows.select_sql(query, placeholder="%s", time=since)
        async with self._connection("read events") as conn:
            cur = await conn.execute(sql, params)
            rows = await cur.fetchall()
        return [_from_row(row) for row in rows]


def _from_row(row: tuple[Any, ...]) -> StoredEvent:
    when: datetime = row[-1]
    return _event_rows.from_row(row, time=when.astimezone(UTC))
