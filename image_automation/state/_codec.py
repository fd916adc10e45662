"""Value ↔ column conversions every backend shares: UTC timestamps, decisions as JSON, and
the text no backend stores.

Kept apart from any backend so SQLite and PostgreSQL store byte-identical JSON, refuse the
same values, and one test covers the round trip.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from datetime import UTC, datetime
from typing import Any

from image_automation.domain import Decision, Hold
from image_automation.state.base import SetterChange


class NulCharacter(ValueError):
    """A string holds U+0000. PostgreSQL's text cannot, so no backend stores or looks it up:
    both refuse it alike instead of SQLite alone accepting it."""


def refuse_nul(values: Iterable[object]) -> None:
    """Raise :class:`NulCharacter` if any ``str`` in ``values`` holds U+0000."""
    for value in values:
        if isinstance(value, str) and "\x00" in value:
            raise NulCharacter("text with a NUL character (U+0000)")


_UNWRITABLE = re.compile("[\x00\ud800-\udfff]")


def error_text(text: str) -> str:
    """Scan error text as stored: NUL and lone surrogates (which no backend can hold, and
    which a registry's error body may carry) become U+FFFD, so recording a failure never
    fails on its own message."""
    return _UNWRITABLE.sub("\ufffd", text)


def utc(when: datetime) -> datetime:
    """``when`` in UTC; naive datetimes are refused because their zone is a guess."""
    if when.tzinfo is None or when.utcoffset() is None:
        raise ValueError(f"naive datetime {when.isoformat()} given to the state store")
    return when.astimezone(UTC)


def time_to_text(when: datetime | None) -> str | None:
    """ISO-8601 in UTC with microseconds, so text order is time order."""
    if when is None:
        return None
    return utc(when).isoformat(timespec="microseconds")


def text_to_time(text: str | None) -> datetime | None:
    if text is None:
        return None
    return datetime.fromisoformat(text).astimezone(UTC)


def decision_to_json(decision: Decision) -> str:
    payload: dict[str, Any] = {
        "policy": decision.policy,
        "tag": decision.tag,
        "digest": decision.digest,
        "considered": list(decision.considered),
        "skipped": dict(decision.skipped),
        "lost": dict(decision.lost),
        "reasons": list(decision.reasons),
    }
    if decision.hold is not None:
        payload["hold"] = hold_to_dict(decision.hold)
    if decision.window is not None:
        payload["window"] = decision.window
    return json.dumps(payload, sort_keys=True, ensure_ascii=False)


def hold_to_dict(hold: Hold) -> dict[str, Any]:
    return {
        "policy": hold.policy,
        "tag": hold.tag,
        "rolled_back_from": hold.rolled_back_from,
        "commit": hold.commit,
        "author": hold.author,
        "since": time_to_text(hold.since),
        "release": hold.release,
        "automation": hold.automation,
        "setter": hold.setter,
        "released_at": time_to_text(hold.released_at),
    }


def hold_from_dict(data: dict[str, Any]) -> Hold:
    since = text_to_time(data.get("since"))
    assert since is not None
    release = data.get("release", "untilNewer")
    return Hold(
        policy=str(data["policy"]),
        tag=str(data["tag"]),
        rolled_back_from=str(data["rolled_back_from"]),
        commit=str(data["commit"]),
        author=str(data["author"]),
        since=since,
        release="manual" if release == "manual" else "untilNewer",
        automation=str(data.get("automation", "")),
        setter=str(data.get("setter", "")),
        released_at=text_to_time(data.get("released_at")),
    )


def decision_from_json(text: str) -> Decision:
    """Inverse of :func:`decision_to_json`; keys a later version adds are ignored."""
    data = json.loads(text)
    return Decision(
        policy=str(data["policy"]),
        tag=data.get("tag"),
        digest=data.get("digest"),
        considered=tuple(data.get("considered", ())),
        skipped=dict(data.get("skipped", {})),
        lost=dict(data.get("lost", {})),
        reasons=tuple(data.get("reasons", ())),
        hold=hold_from_dict(data["hold"]) if data.get("hold") else None,
        window=data.get("window"),
    )


def changes_to_json(changes: tuple[SetterChange, ...]) -> str:
    return json.dumps(
        [{"setter": c.setter, "old": c.old, "new": c.new} for c in changes],
        ensure_ascii=False,
    )


def changes_from_json(text: str) -> tuple[SetterChange, ...]:
    return tuple(
        SetterChange(setter=str(c["setter"]), old=str(c["old"]), new=str(c["new"]))
        for c in json.loads(text)
    )
