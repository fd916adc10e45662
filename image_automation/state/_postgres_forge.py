"""The forge-response part of the PostgreSQL store: ETags and bodies for conditional requests.

A mixin of :class:`~image_automation.state.postgres.PostgresStore`, the counterpart of
``_sqlite_forge``: a save replaces the key's row (``ON CONFLICT``, so replicas saving the
same answer need no lock of ours) and trims its scope to
:data:`~image_automation.state.base.FORGE_RESPONSES_KEPT` in the same transaction.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from image_automation.state.base import (
    FORGE_RESPONSES_KEPT,
    ForgeResponse,
    keeps_forge_response,
)

Conn = AsyncConnection[Any]

_UPSERT = (
    "INSERT INTO forge_responses (scope, key, etag, body, saved_at) VALUES (%s, %s, %s, %s, %s)"
    " ON CONFLICT (scope, key) DO UPDATE SET etag = excluded.etag, body = excluded.body,"
    " saved_at = excluded.saved_at"
)
_TRIM = (
    "DELETE FROM forge_responses WHERE scope = %s AND id NOT IN (SELECT id FROM"
    " forge_responses WHERE scope = %s ORDER BY saved_at DESC, id DESC LIMIT %s)"
)


class ForgeResponseTables:
    """The forge-response methods of the :class:`~image_automation.state.base.StateStore`."""

    if TYPE_CHECKING:

        def _connection(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

        def _transaction(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

    async def forge_response(self, scope: str, key: str) -> ForgeResponse | None:
        async with self._connection("read a kept forge response") as conn:
            cur = await conn.execute(
                "SELECT etag, body, saved_at FROM forge_responses WHERE scope = %s AND key = %s",
                (scope, key),
            )
            row = await cur.fetchone()
        if row is None:
            return None
        return ForgeResponse(scope, key, row[0], bytes(row[1]), row[2].astimezone(UTC))

    async def save_forge_response(
        self, scope: str, key: str, *, etag: str, body: bytes, now: datetime
    ) -> None:
        async with self._transaction("keep a forge response") as conn:
            if not keeps_forge_response(scope, key, etag, body):
                await conn.execute(
                    "DELETE FROM forge_responses WHERE scope = %s AND key = %s", (scope, key)
                )
                return
            await conn.execute(_UPSERT, (scope, key, etag, body, now))
            await conn.execute(_TRIM, (scope, scope, FORGE_RESPONSES_KEPT))
