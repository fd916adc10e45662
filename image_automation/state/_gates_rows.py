"""Rows of the gate tables (holds, signature verdicts) as values, for both backends.

The SQL differs only in placeholders (``?`` for SQLite, ``%s`` for PostgreSQL), so the
statements are written once with ``{p}`` and filled per backend.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from image_automation.domain import Hold
from image_automation.state.base import SignatureVerdict

HOLD_COLUMNS = (
    "policy, automation, setter, tag, rolled_back_from, commit_sha, author, release, since,"
    " released_at"
)


def hold_upsert(p: str) -> str:
    marks = ", ".join([p] * 10)
    return (
        f"INSERT INTO holds ({HOLD_COLUMNS}) VALUES ({marks}) ON CONFLICT (policy) DO UPDATE SET"
        " automation = excluded.automation, setter = excluded.setter, tag = excluded.tag,"
        " rolled_back_from = excluded.rolled_back_from, commit_sha = excluded.commit_sha,"
        " author = excluded.author, release = excluded.release, since = excluded.since,"
        " released_at = excluded.released_at"
    )


def verdict_upsert(p: str) -> str:
    return (
        "INSERT INTO signature_verdicts (digest, keys, valid, reason, checked_at)"
        f" VALUES ({p}, {p}, {p}, {p}, {p}) ON CONFLICT (digest, keys) DO UPDATE SET"
        " valid = excluded.valid, reason = excluded.reason, checked_at = excluded.checked_at"
    )


HOLD_SELECT = f"SELECT {HOLD_COLUMNS} FROM holds"
VERDICT_SELECT = "SELECT digest, keys, valid, reason, checked_at FROM signature_verdicts"


def release_update(p: str) -> str:
    return f"UPDATE holds SET released_at = {p} WHERE policy = {p} AND released_at IS NULL"


def hold_params(hold: Hold, since: Any, released_at: Any) -> tuple[Any, ...]:
    return (
        hold.policy, hold.automation, hold.setter, hold.tag, hold.rolled_back_from,
        hold.commit, hold.author, hold.release, since, released_at,
    )  # fmt: skip


def hold_from_row(row: Any, since: datetime, released_at: datetime | None) -> Hold:
    return Hold(
        policy=row[0],
        automation=row[1],
        setter=row[2],
        tag=row[3],
        rolled_back_from=row[4],
        commit=row[5],
        author=row[6],
        release="manual" if row[7] == "manual" else "untilNewer",
        since=since,
        released_at=released_at,
    )


def verdict_from_row(row: Any, checked_at: datetime) -> SignatureVerdict:
    return SignatureVerdict(
        digest=row[0], keys=row[1], valid=bool(row[2]), reason=row[3], checked_at=checked_at
    )
