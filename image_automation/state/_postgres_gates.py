"""The gate part of the PostgreSQL store: rollback holds and signature verdicts.

A mixin of :class:`~image_automation.state.postgres.PostgresStore`, the counterpart of
``_sqlite_gates``: the same rows, written with ``ON CONFLICT`` so replicas need no locks.
"""

from __future__ import annotations

from contextlib import AbstractAsyncContextManager
from datetime import UTC
from typing import TYPE_CHECKING, Any

from psycopg import AsyncConnection

from image_automation.domain import Hold
from image_automation.state import _codec
from image_automation.state._gates_rows import (
    HOLD_SELECT,
    VERDICT_SELECT,
    hold_from_row,
    hold_params,
    hold_upsert,
    verdict_from_row,
    verdict_upsert,
)
from image_automation.state.base import SignatureVerdict

Conn = AsyncConnection[Any]


class GateTables:
    """The hold and signature-verdict methods of the StateStore."""

    if TYPE_CHECKING:

        def _connection(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

        def _transaction(self, action: str) -> AbstractAsyncContextManager[Conn]: ...

    async def save_hold(self, hold: Hold) -> None:
        async with self._connection(f"store hold of {hold.policy}") as conn:
            await conn.execute(hold_upsert("%s"), hold_params(hold, _codec.utc(hold.since)))

    async def hold(self, policy: str) -> Hold | None:
        async with self._connection(f"read hold of {policy}") as conn:
            cur = await conn.execute(HOLD_SELECT + " WHERE policy = %s", (policy,))
            row = await cur.fetchone()
        return None if row is None else hold_from_row(row, row[8].astimezone(UTC))

    async def holds(self) -> list[Hold]:
        async with self._connection("read holds") as conn:
            cur = await conn.execute(HOLD_SELECT + " ORDER BY policy")
            rows = await cur.fetchall()
        return [hold_from_row(row, row[8].astimezone(UTC)) for row in rows]

    async def release_hold(self, policy: str) -> Hold | None:
        async with self._transaction(f"release hold of {policy}") as conn:
            cur = await conn.execute(
                "DELETE FROM holds WHERE policy = %s RETURNING "
                "policy, automation, setter, tag, rolled_back_from, commit_sha, author, "
                "release, since",
                (policy,),
            )
            row = await cur.fetchone()
        return None if row is None else hold_from_row(row, row[8].astimezone(UTC))

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
