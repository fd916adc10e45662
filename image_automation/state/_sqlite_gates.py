"""The gate part of the SQLite store: rollback holds and signature verdicts.

A mixin of :class:`~image_automation.state.sqlite.SqliteStore`, like ``_sqlite_prs``: each
method runs on the store's worker thread through its ``_run``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from image_automation.domain import Hold
from image_automation.state import _codec
from image_automation.state._gates_rows import (
    HOLD_SELECT,
    VERDICT_SELECT,
    hold_from_row,
    hold_params,
    hold_upsert,
    release_update,
    verdict_from_row,
    verdict_upsert,
)
from image_automation.state._sqlite_tx import write
from image_automation.state.base import SignatureVerdict

T = TypeVar("T")


def _hold(row: Any) -> Hold:
    since = _codec.text_to_time(row[8])
    assert since is not None  # NOT NULL column
    return hold_from_row(row, since, _codec.text_to_time(row[9]))


class GateTables:
    """The hold and signature-verdict methods of the StateStore."""

    if TYPE_CHECKING:

        async def _run(self, action: str, fn: Callable[[sqlite3.Connection], T]) -> T: ...

    async def save_hold(self, hold: Hold) -> None:
        params = hold_params(
            hold, _codec.time_to_text(hold.since), _codec.time_to_text(hold.released_at)
        )

        def run(conn: sqlite3.Connection) -> None:
            with write(conn):
                conn.execute(hold_upsert("?"), params)

        await self._run(f"store hold of {hold.policy}", run)

    async def hold(self, policy: str) -> Hold | None:
        def read(conn: sqlite3.Connection) -> Hold | None:
            row = conn.execute(HOLD_SELECT + " WHERE policy = ?", (policy,)).fetchone()
            return None if row is None else _hold(row)

        return await self._run(f"read hold of {policy}", read)

    async def holds(self) -> list[Hold]:
        def read(conn: sqlite3.Connection) -> list[Hold]:
            return [_hold(row) for row in conn.execute(HOLD_SELECT + " ORDER BY policy")]

        return await self._run("read holds", read)

    async def release_hold(self, policy: str, *, now: datetime) -> Hold | None:
        when = _codec.time_to_text(now)

        def run(conn: sqlite3.Connection) -> Hold | None:
            with write(conn):
                done = conn.execute(release_update("?"), (when, policy)).rowcount
                row = conn.execute(HOLD_SELECT + " WHERE policy = ?", (policy,)).fetchone()
            return None if row is None or not done else _hold(row)

        return await self._run(f"release hold of {policy}", run)

    async def signature_verdict(self, digest: str, keys: str) -> SignatureVerdict | None:
        def read(conn: sqlite3.Connection) -> SignatureVerdict | None:
            row = conn.execute(
                VERDICT_SELECT + " WHERE digest = ? AND keys = ?", (digest, keys)
            ).fetchone()
            if row is None:
                return None
            checked = _codec.text_to_time(row[4])
            assert checked is not None  # NOT NULL column
            return verdict_from_row(row, checked)

        return await self._run(f"read signature verdict of {digest}", read)

    async def save_signature_verdict(self, verdict: SignatureVerdict) -> None:
        params = (
            verdict.digest, verdict.keys, int(verdict.valid), verdict.reason,
            _codec.time_to_text(verdict.checked_at),
        )  # fmt: skip

        def run(conn: sqlite3.Connection) -> None:
            with write(conn):
                conn.execute(verdict_upsert("?"), params)

        await self._run(f"store signature verdict of {verdict.digest}", run)
