"""Contract: the push log reads back newest first, across automations, bounded by ``limit``."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from image_automation.state import PushRecord, SetterChange, StateStore

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


async def test_recent_pushes_are_newest_first_over_every_automation(store: StateStore) -> None:
    change = SetterChange(setter="apps:web", old="1.0", new="1.1")
    await store.record_push(PushRecord("auto", "a" * 40, at(0), (change,)))
    await store.record_push(PushRecord("other", "c" * 40, at(9), ()))
    await store.record_push(PushRecord("auto", "b" * 40, at(5), ()))
    assert [p.commit[0] for p in await store.recent_pushes()] == ["c", "b", "a"]
    assert await store.recent_pushes(limit=1) == [PushRecord("other", "c" * 40, at(9), ())]
    assert (await store.recent_pushes())[-1].changes == (change,)


async def test_recent_pushes_of_an_empty_store_is_empty(store: StateStore) -> None:
    assert await store.recent_pushes() == []
    assert await store.recent_pushes(limit=0) == []
