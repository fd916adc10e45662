"""The gate part of the PostgreSQL store: rollback holds and signature verdicts.

A mixin of :class:`~image_automation.state.postgres.PostgresStore`, the counterpart of
``_sqlite_gates``: the same rows, written with ``ON CONFLICT`` so replicas need no locks.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from image_automation.domain import Hold
from image_automation.state import _codec
from image_automation.state._gates_rows import (
    HOLD_COLUMNS,
    HOLD_SELECT,
    VERDICT_SELECT,
    hold_from_row,
    hold_params,
    hold_upsert,
    release_update,
    verdict_from_row,
    verdict_upsert,
)
from image_automation.state.base import SignatureVerdict

Conn = AsyncConnection[Any]


def _hold(row: Any) -> Hold:
    released = row[9].astimezone(UTC) if row[9] is not None else None
    return hold_from_row(row, row[8].astimezone(UTC), released)


class GateTables:
    """The hold and signature-verdict methods of the StateStore."""

    if TYPE_CHECKING:

        def _connection(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

        def _transaction(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

    async def save_hold(self, hold: Hold) -> None:
        async with self._connection(f"store hold of {hold.policy}") as conn:
            released = _codec.utc(hold.released_at) if hold.released_at else None
            params = hold_params(hold, _codec.utc(hold.since), released)
            await conn.execute(hold_upsert("%s"), params)

    async def hold(self, policy: str) -> Hold | None:
        async with self._connection(f"read hold of {policy}") as conn:
            cur = await conn.execute(HOLD_SELECT + " WHERE policy = %s", (policy,))
            row = await cur.fetchone()
        return None if row is None else _hold(row)

    async def holds(self) -> list[Hold]:
        async with self._connection("read holds") as conn:
            cur = await conn.execute(HOLD_SELECT + " ORDER BY policy")
            rows = await cur.fetchall()
        return [_hold(row) for row in rows]

    async def release_hold(self, policy: str, *, now: datetime) -> Hold | None:
        async with self._connection(f"release hold of {policy}") as conn:
            cur = await conn.execute(
                release_update("%s") + f" RETURNING {HOLD_COLUMNS}", (_codec.utc(now), policy)
            )
            row = await cur.fetchone()
        return None if row is None else _hold(row)

    async def signature_verdict(self, digest: str, keys: str) -> SignatureVerdict | None:
        async with self._connection(f"read signature verdict of {digest}") as conn:
            cur = await conn.execute(
                VERDICT_SELECT + " WHERE digest = %s AND keys = %s", (digest, keys)
            )
            row = await cur.fetchone()
        return None if row is None else verdict_from_row(row, row[4].astimezone(UTC))

    async def save_signature_verdict(self, verdict: SignatureVerdict) -> None:
        params = (
            verdict.digest, verdict.keys, verdict.valid, verdict.reason,
            _codec.utc(verdict.checked_at),
        )  # fmt: skip
        async with self._connection(f"store signature verdict of {verdict.digest}") as conn:
            await conn.execute(verdict_upsert("%s"), params)
