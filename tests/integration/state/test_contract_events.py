"""The StateStore contract, event side, on every backend: append, bounded retention, filters."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from image_automation.domain.events import (
    Event,
    EventKind,
    EventQuery,
    InvolvedObject,
    make_event,
)
from image_automation.errors import StateError
from image_automation.state import StateStore

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
APPS = InvolvedObject(kind="ImageUpdateAutomation", namespace="flux-system", name="apps")
WEB = InvolvedObject(kind="ImagePolicy", namespace="team", name="web")


def event(
    kind: EventKind = "commit_pushed",
    *,
    minutes: float = 0,
    involved: InvolvedObject = APPS,
    message: str = "pushed 1.2.0",
    metadata: dict[str, str] | None = None,
) -> Event:
    return make_event(
        kind,
        involved=involved,
        message=message,
        now=T0 + timedelta(minutes=minutes),
        metadata=metadata if metadata is not None else {"commit": "a" * 40},
    )


async def test_recorded_event_reads_back_equal(store: StateStore) -> None:
    saved = event(metadata={"commit": "a" * 40, "url": "https://x.example/pr/1", "é": "ü ✓"})
    ident = await store.record_event(saved)
    [stored] = await store.events()
    assert stored.id == ident
    assert stored.event == saved


async def test_timestamps_in_other_zones_read_back_as_the_same_instant(store: StateStore) -> None:
    local = T0.astimezone(timezone(timedelta(hours=-5)))
    await store.record_event(make_event("hold", involved=WEB, message="held", now=local))
    [stored] = await store.events()
    assert stored.event.timestamp == T0
    assert stored.event.timestamp.utcoffset() == timedelta(0)


async def test_events_come_newest_first_with_growing_ids(store: StateStore) -> None:
    ids = [await store.record_event(event(minutes=i, message=f"m{i}")) for i in range(5)]
    assert ids == sorted(ids) and len(set(ids)) == 5
    got = await store.events()
    assert [s.event.message for s in got] == ["m4", "m3", "m2", "m1", "m0"]


async def test_only_the_newest_events_are_kept(store: StateStore) -> None:
    for i in range(12):
        await store.record_event(event(minutes=i, message=f"m{i}"), keep=5)
    got = await store.events()
    assert [s.event.message for s in got] == ["m11", "m10", "m9", "m8", "m7"]


async def test_keep_below_one_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="keep"):
        await store.record_event(event(), keep=0)


@pytest.mark.parametrize(
    ("query", "expected"),
    [
        pytest.param(EventQuery(), ["fail", "hold", "pr", "push"], id="all"),
        pytest.param(EventQuery(kinds=("pr_opened", "hold")), ["hold", "pr"], id="kinds"),
        pytest.param(EventQuery(kinds=()), [], id="no-kinds"),
        pytest.param(EventQuery(severity="error"), ["fail"], id="severity-error"),
        pytest.param(EventQuery(severity="info"), ["hold", "pr", "push"], id="severity-info"),
        pytest.param(EventQuery(involved=WEB.key), ["hold"], id="object"),
        pytest.param(EventQuery(since=T0 + timedelta(minutes=2)), ["fail", "hold"], id="since"),
        pytest.param(EventQuery(limit=2), ["fail", "hold"], id="limit"),
        pytest.param(
            EventQuery(involved=APPS.key, severity="info", kinds=("commit_pushed",)),
            ["push"],
            id="combined",
        ),
        pytest.param(EventQuery(involved="Nope/x/y"), [], id="unknown-object"),
    ],
)
async def test_queries_filter_by_kind_object_severity_and_time(
    store: StateStore, query: EventQuery, expected: list[str]
) -> None:
    await store.record_event(event("commit_pushed", minutes=0, message="push"))
    await store.record_event(event("pr_opened", minutes=1, message="pr"))
    await store.record_event(event("hold", minutes=2, involved=WEB, message="hold"))
    await store.record_event(event("failure", minutes=3, message="fail"))
    got = await store.events(query)
    assert [s.event.message for s in got] == expected


async def test_before_pages_backwards_through_the_log(store: StateStore) -> None:
    for i in range(7):
        await store.record_event(event(minutes=i, message=f"m{i}"))
    first = await store.events(EventQuery(limit=3))
    second = await store.events(EventQuery(limit=3, before=first[-1].id))
    third = await store.events(EventQuery(limit=3, before=second[-1].id))
    pages = [[s.event.message for s in page] for page in (first, second, third)]
    assert pages == [["m6", "m5", "m4"], ["m3", "m2", "m1"], ["m0"]]


async def test_hostile_text_round_trips_and_does_not_inject(store: StateStore) -> None:
    hostile = InvolvedObject(kind="ImagePolicy", namespace="x'; DROP TABLE events; --", name="a/b")
    saved = event(involved=hostile, message="<script>alert(1)</script>" + "x" * 10_000)
    await store.record_event(saved)
    [stored] = await store.events(EventQuery(involved=hostile.key))
    assert stored.event == saved
    assert len(stored.event.message) == 4096


async def test_nul_in_an_event_is_refused_by_every_backend(store: StateStore) -> None:
    with pytest.raises(StateError, match="cannot be stored"):
        await store.record_event(event(message="bad\x00text"))
    assert await store.events() == []


async def test_nul_in_a_query_is_refused_by_every_backend(store: StateStore) -> None:
    with pytest.raises(StateError, match="cannot be stored"):
        await store.events(EventQuery(involved="a\x00b"))


async def test_two_stores_on_one_location_share_the_log(backend: object, store: StateStore) -> None:
    other = await backend.open()  # type: ignore[attr-defined]
    async with other:
        await store.record_event(event(message="from one"))
        await other.record_event(event(minutes=1, message="from two"))
        got = [s.event.message for s in await store.events()]
    assert got == ["from two", "from one"]
