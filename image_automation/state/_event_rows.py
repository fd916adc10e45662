"""Event ↔ row conversion and the event query, shared by the SQLite and PostgreSQL stores.

Kept apart from both backends so they store the same columns (metadata as the same JSON
text), apply the same filters in the same order, and differ only in the placeholder.
"""

from __future__ import annotations

import json
from datetime import datetime
from typing import Any

from image_automation.domain.events import Event, EventQuery, InvolvedObject, StoredEvent

COLUMNS = (
    "kind, severity, object_kind, object_namespace, object_name, involved, message,"
    " metadata, occurred_at"
)
_SELECT = f"SELECT id, {COLUMNS} FROM events"


def insert_sql(placeholder: str) -> str:
    marks = ", ".join([placeholder] * 9)
    return f"INSERT INTO events ({COLUMNS}) VALUES ({marks})"


def prune_sql(placeholder: str) -> str:
    """Delete all but the newest N events (N is the one parameter): the id of the (N+1)th
    newest is the cut. One index walk of N entries; nothing happens below N."""
    return (
        "DELETE FROM events WHERE id <= (SELECT id FROM events ORDER BY id DESC"
        f" LIMIT 1 OFFSET {placeholder})"
    )


def to_row(event: Event, *, time: Any) -> tuple[object, ...]:
    """``time`` is the backend's form of the timestamp (text for SQLite, UTC for PostgreSQL)."""
    obj = event.involved
    metadata = json.dumps(dict(event.metadata_items), sort_keys=True, ensure_ascii=False)
    values: tuple[object, ...] = (
        event.kind,
        event.severity,
        obj.kind,
        obj.namespace,
        obj.name,
        obj.key,
        event.message,
        metadata,
        time,
    )
    # NUL is refused while binding, inside each backend's error translation.
    return values


def from_row(row: tuple[Any, ...], *, time: datetime) -> StoredEvent:
    (ident, kind, severity, obj_kind, obj_ns, obj_name, _key, message, metadata, _when) = row
    items = tuple(sorted(json.loads(metadata).items()))
    event = Event(
        kind=kind,
        severity=severity,
        involved=InvolvedObject(kind=obj_kind, namespace=obj_ns, name=obj_name),
        message=message,
        timestamp=time,
        metadata_items=items,
    )
    return StoredEvent(id=int(ident), event=event)


def select_sql(query: EventQuery, *, placeholder: str, time: Any) -> tuple[str, list[object]]:
    """The SELECT for ``query`` and its parameters; ``time`` is ``query.since`` in the
    backend's form."""
    where: list[str] = []
    params: list[object] = []
    if query.kinds is not None:
        if not query.kinds:
            where.append("1 = 0")
        else:
            where.append(f"kind IN ({', '.join([placeholder] * len(query.kinds))})")
            params.extend(query.kinds)
    for column, value in (
        ("severity", query.severity),
        ("involved", query.involved),
        ("occurred_at >=", time),
        ("id <", query.before),
    ):
        if value is not None:
            op = column if column.endswith((">=", "<")) else f"{column} ="
            where.append(f"{op} {placeholder}")
            params.append(value)
    clause = f" WHERE {' AND '.join(where)}" if where else ""
    params.append(query.limit)
    return f"{_SELECT}{clause} ORDER BY id DESC LIMIT {placeholder}", params
