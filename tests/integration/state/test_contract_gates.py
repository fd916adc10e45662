"""The StateStore contract, gate side, on every backend: pushes history, rollback holds and
signature verdicts."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime, timedelta, timezone

import pytest

from image_automation.domain import Hold
from image_automation.errors import StateError
from image_automation.state import PushRecord, SetterChange, SignatureVerdict, StateStore
from tests.integration.state.conftest import Backend

pytestmark = pytest.mark.integration

AUTO = "ImageAutomation/apps/auto"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
HOLD = Hold(
    policy="apps/app",
    tag="1.1.0",
    rolled_back_from="1.2.0",
    commit="c" * 40,
    author="Jane Doe <jane@example.test>",
    since=T0,
    release="manual",
    automation=AUTO,
    setter='{"$imagepolicy": "apps:app"}',
)


async def test_pushes_come_newest_first_and_are_limited(store: StateStore) -> None:
    for i in range(5):
        change = SetterChange(setter="s", old=f"1.{i}.0", new=f"1.{i + 1}.0")
        await store.record_push(PushRecord(AUTO, f"{i}" * 40, T0 + timedelta(minutes=i), (change,)))
    await store.record_push(PushRecord("other", "f" * 40, T0 + timedelta(hours=1)))
    pushes = await store.pushes(AUTO, limit=3)
    assert [p.commit[0] for p in pushes] == ["4", "3", "2"]
    assert pushes[0].changes == (SetterChange(setter="s", old="1.4.0", new="1.5.0"),)
    assert await store.pushes("nobody") == []


async def test_a_hold_round_trips_replaces_and_is_released_once(store: StateStore) -> None:
    away = dataclasses.replace(HOLD, since=T0.astimezone(timezone(timedelta(hours=-5))))
    await store.save_hold(away)
    assert await store.hold("apps/app") == HOLD  # times come back in UTC, equal instants
    later = dataclasses.replace(HOLD, tag="1.0.0", release="untilNewer")
    await store.save_hold(later)
    other = dataclasses.replace(HOLD, policy="apps/api")
    await store.save_hold(other)
    assert await store.holds() == [other, later]
    released = dataclasses.replace(later, released_at=T0 + timedelta(days=1))
    assert await store.release_hold("apps/app", now=T0 + timedelta(days=1)) == released
    assert await store.release_hold("apps/app", now=T0 + timedelta(days=2)) is None
    assert await store.release_hold("apps/nothing", now=T0) is None
    assert await store.hold("apps/app") == released  # kept, released
    assert not released.active


async def test_a_hold_survives_reopening_the_store(backend: Backend) -> None:
    async with await backend.open() as first:
        await first.save_hold(HOLD)
    async with await backend.open() as second:
        assert await second.hold("apps/app") == HOLD


async def test_signature_verdicts_are_kept_per_digest_and_key_set(store: StateStore) -> None:
    digest = "sha256:" + "a" * 64
    bad = SignatureVerdict(digest, "keys-1", False, "no signature", T0)
    await store.save_signature_verdict(bad)
    good = SignatureVerdict(digest, "keys-1", True, "signed by key 1", T0 + timedelta(hours=1))
    await store.save_signature_verdict(good)
    await store.save_signature_verdict(SignatureVerdict(digest, "keys-2", False, "wrong key", T0))
    assert await store.signature_verdict(digest, "keys-1") == good
    assert (await store.signature_verdict(digest, "keys-2")).reason == "wrong key"  # type: ignore[union-attr]
    assert await store.signature_verdict(digest, "keys-3") is None


async def test_a_hostile_hold_value_is_refused_or_kept_intact(store: StateStore) -> None:
    huge = dataclasses.replace(HOLD, author="x" * 100_000 + "\u202e", tag="1.1.0")
    await store.save_hold(huge)
    assert await store.hold("apps/app") == huge
    with pytest.raises(StateError):
        await store.save_hold(dataclasses.replace(HOLD, author="nul\x00byte"))
