"""What every SQLite store operation runs on: the connection class that refuses NUL text, and
the write transaction, shared by the store's table modules."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from image_automation.state import _codec


@contextmanager
def write(conn: sqlite3.Connection) -> Iterator[None]:
    """One write transaction; IMMEDIATE takes the write lock up front so it cannot deadlock."""
    conn.execute("BEGIN IMMEDIATE")
    try:
        yield
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


class CheckedConnection(sqlite3.Connection):
    """A connection that refuses text holding NUL in every parameter it binds.

    SQLite could store it, PostgreSQL cannot; refusing it here too keeps the two backends'
    contract one (the store's callers never have a legitimate NUL to store).
    """

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        _codec.refuse_nul(parameters)
        return super().execute(sql, parameters)

    def executemany(self, sql: str, parameters: Any, /) -> sqlite3.Cursor:
        rows = list(parameters)
        for row in rows:
            _codec.refuse_nul(row)
        return super().executemany(sql, rows)
