"""The event bus never blocks or fails an emitter; the failure tracker's alert edges."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from image_automation.domain.events import Event, InvolvedObject, make_event
from image_automation.engine.eventing import EventBus, FailureTracker, store_recorder
from image_automation.state.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
APPS = InvolvedObject(kind="ImageUpdateAutomation", namespace="flux-system", name="apps")


def event(message: str = "m") -> Event:
    return make_event("commit_pushed", involved=APPS, message=message, now=T0)


async def test_every_subscriber_gets_every_event_in_order() -> None:
    one: list[str] = []
    two: list[str] = []

    async def first(e: Event) -> None:
        one.append(e.message)

    async def second(e: Event) -> None:
        two.append(e.message)

    async with EventBus() as bus:
        bus.subscribe("one", first)
        bus.subscribe("two", second)
        for i in range(5):
            bus.emit(event(f"m{i}"))
    assert one == two == [f"m{i}" for i in range(5)]


async def test_a_stuck_subscriber_drops_its_own_events_and_never_blocks_emit() -> None:
    release = asyncio.Event()
    fast: list[str] = []
    dropped: list[str] = []

    async def stuck(e: Event) -> None:
        await release.wait()

    async def quick(e: Event) -> None:
        fast.append(e.message)

    bus = EventBus(queue_size=2, drain_s=0.01, on_drop=dropped.append)
    bus.subscribe("stuck", stuck)
    bus.subscribe("quick", quick)
    async with bus:
        for i in range(10):
            bus.emit(event(f"m{i}"))  # synchronous: returns although "stuck" never reads
            await asyncio.sleep(0)
        await asyncio.sleep(0)
    assert fast == [f"m{i}" for i in range(10)]
    assert set(dropped) == {"stuck"} and bus.counts.dropped["stuck"] >= 7
    assert "quick" not in bus.counts.dropped


async def test_a_raising_subscriber_is_counted_and_keeps_receiving() -> None:
    seen: list[str] = []

    async def broken(e: Event) -> None:
        seen.append(e.message)
        raise RuntimeError("webhook down")

    async with EventBus() as bus:
        bus.subscribe("broken", broken)
        bus.emit(event("a"))
        bus.emit(event("b"))
    assert seen == ["a", "b"]
    assert bus.counts.failed == {"broken": 2}


async def test_leaving_the_bus_drains_into_the_store(tmp_path: Path) -> None:
    async with await SqliteStore.open(tmp_path / "s.db") as store:
        async with EventBus() as bus:
            bus.subscribe("state", store_recorder(store))
            for i in range(3):
                bus.emit(event(f"m{i}"))
        assert [s.event.message for s in await store.events()] == ["m2", "m1", "m0"]


@pytest.mark.parametrize(
    ("threshold", "runs", "expected"),
    [
        (3, ["err", "err", "err", "err", None], [None, None, "failure", None, "failure_resolved"]),
        (3, ["err", "err", None, "err", "err"], [None, None, None, None, None]),
        (1, ["err", None, None], ["failure", "failure_resolved", None]),
        (2, [None, "err", "err", None, "err", "err"],
         [None, None, "failure", "failure_resolved", None, "failure"]),
    ],
)  # fmt: skip
def test_failure_alerts_after_n_in_a_row_and_resolves_once(
    threshold: int, runs: list[str | None], expected: list[str | None]
) -> None:
    tracker = FailureTracker(threshold=threshold)
    got = []
    for error in runs:
        edge = tracker.observe(APPS, error=error, now=T0)
        got.append(None if edge is None else edge.kind)
    assert got == expected


def test_the_failure_event_is_an_error_carrying_the_message_and_count() -> None:
    tracker = FailureTracker(threshold=1)
    edge = tracker.observe(APPS, error="push rejected", now=T0)
    assert edge is not None and edge.severity == "error"
    assert "push rejected" in edge.message and edge.metadata == {"failures": "1"}


async def test_an_open_alert_survives_a_restart_through_the_store(tmp_path: Path) -> None:
    async with await SqliteStore.open(tmp_path / "s.db") as store:
        first = FailureTracker(threshold=1)
        edge = first.observe(APPS, error="boom", now=T0)
        assert edge is not None
        await store.record_event(edge)
        restarted = FailureTracker(threshold=1)
        await restarted.restore(store)
        assert restarted.observe(APPS, error="boom", now=T0) is None  # still open: quiet
        resolved = restarted.observe(APPS, error=None, now=T0)
        assert resolved is not None and resolved.kind == "failure_resolved"


def test_threshold_below_one_is_refused() -> None:
    with pytest.raises(ValueError, match="threshold"):
        FailureTracker(threshold=0)
