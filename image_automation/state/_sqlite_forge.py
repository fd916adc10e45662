"""The forge-response part of the SQLite store: ETags and bodies for conditional requests.

A mixin of :class:`~image_automation.state.sqlite.SqliteStore` (as ``_sqlite_prs`` is): each
method runs on the store's worker thread through its ``_run``; a save replaces the key's row
and trims its scope to :data:`~image_automation.state.base.FORGE_RESPONSES_KEPT` in the same
``BEGIN IMMEDIATE`` transaction, so the table never outgrows its bound.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, TypeVar

from image_automation.state import _codec
from image_automation.state._sqlite_tx import write
from image_automation.state.base import (
    FORGE_RESPONSES_KEPT,
    ForgeResponse,
    keeps_forge_response,
)

T = TypeVar("T")

_UPSERT = (
    "INSERT INTO forge_responses (scope, key, etag, body, saved_at) VALUES (?, ?, ?, ?, ?)"
    " ON CONFLICT (scope, key) DO UPDATE SET etag = excluded.etag, body = excluded.body,"
    " saved_at = excluded.saved_at"
)
_TRIM = (
    "DELETE FROM forge_responses WHERE scope = ? AND id NOT IN (SELECT id FROM forge_responses"
    " WHERE scope = ? ORDER BY saved_at DESC, id DESC LIMIT ?)"
)


class ForgeResponseTables:
    """The forge-response methods of the :class:`~image_automation.state.base.StateStore`."""

    if TYPE_CHECKING:

        async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def forge_response(self, scope: str, key: str) -> ForgeResponse | None:
        def read(conn: sqlite3.Connection) -> ForgeResponse | None:
            row = conn.execute(
                "SELECT etag, body, saved_at FROM forge_responses WHERE scope = ? AND key = ?",
                (scope, key),
            ).fetchone()
            if row is None:
                return None
            saved = _codec.text_to_time(row[2])
            assert saved is not None  # NOT NULL column
            return ForgeResponse(scope, key, row[0], bytes(row[1]), saved)

        return await self._run("read a kept forge response", read)

    async def save_forge_response(
        self, scope: str, key: str, *, etag: str, body: bytes, now: datetime
    ) -> None:
        keep = keeps_forge_response(scope, key, etag, body)
        row = (scope, key, etag, body, _codec.time_to_text(now))

        def save(conn: sqlite3.Connection) -> None:
            with write(conn):
                if not keep:
                    conn.execute(
                        "DELETE FROM forge_responses WHERE scope = ? AND key = ?", (scope, key)
                    )
                    return
                conn.execute(_UPSERT, row)
                conn.execute(_TRIM, (scope, scope, FORGE_RESPONSES_KEPT))

        await self._run("keep a forge response", save)
