"""Pull-request state in the SQLite store: records, ignored versions and the opened log."""

from __future__ import annotations

import dataclasses
import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from image_automation.state import IgnoredVersion, PullRequestRecord, SetterChange
from image_automation.state.sqlite import SqliteStore

AUTO = "ImageUpdateAutomation/flux-system/apps"
OTHER = "ImageAutomation/team/web"
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
WEB = SetterChange(setter="flux-system:web", old="1.0.0", new="1.1.0")
API = SetterChange(setter="flux-system:api", old="2.0.0", new="2.1.0")


def at(minutes: float) -> datetime:
    return T0 + timedelta(minutes=minutes)


def record(**overrides: object) -> PullRequestRecord:
    fields: dict[str, object] = {
        "automation": AUTO,
        "head": "image-automation/apps",
        "provider": "github",
        "number": 7,
        "url": "https://github.example/org/repo/pull/7",
        "state": "open",
        "base": "main",
        "pushed_sha": "a" * 40,
        "changes": (WEB,),
        "opened_at": at(0),
        "updated_at": at(1),
    }
    fields.update(overrides)
    return PullRequestRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state.db") as opened:
        yield opened


@pytest.mark.parametrize(
    "saved",
    [
        pytest.param(record(), id="open-with-one-change"),
        pytest.param(record(pushed_sha=None, changes=()), id="nothing-pushed-yet"),
        pytest.param(record(state="merged", changes=(WEB, API)), id="merged-two-changes"),
        pytest.param(
            record(state="closed", human_sha="b" * 40, notice_posted=True), id="human-commit"
        ),
        pytest.param(
            record(provider="azuredevops", number=2**63 - 1, base="release/1.x"), id="big-number"
        ),
    ],
)
async def test_saved_record_reads_back_equal(store: SqliteStore, saved: PullRequestRecord) -> None:
    await store.save_pull_request(saved)
    assert await store.pull_request(saved.automation, saved.head) == saved
    assert await store.pull_requests(saved.automation) == [saved]
    assert await store.pull_requests() == [saved]


async def test_times_in_other_zones_come_back_as_the_same_instant_in_utc(
    store: SqliteStore,
) -> None:
    plus_five = timezone(timedelta(hours=5, minutes=30))
    await store.save_pull_request(
        record(opened_at=at(0).astimezone(plus_five), updated_at=at(3).astimezone(plus_five))
    )
    stored = await store.pull_request(AUTO, "image-automation/apps")
    assert stored is not None
    assert (stored.opened_at, stored.updated_at) == (at(0), at(3))
    assert stored.opened_at.utcoffset() == timedelta(0)


async def test_saving_the_same_head_again_replaces_the_whole_record(store: SqliteStore) -> None:
    await store.save_pull_request(record(human_sha="c" * 40, notice_posted=True))
    newer = record(
        number=9,
        url="https://github.example/org/repo/pull/9",
        pushed_sha="d" * 40,
        changes=(API,),
        updated_at=at(30),
    )
    await store.save_pull_request(newer)
    # human_sha and notice_posted went back to their defaults: nothing is merged field-wise.
    assert await store.pull_requests() == [newer]


async def test_records_are_listed_per_automation_sorted_by_head(store: SqliteStore) -> None:
    b = record(head="ia/b")
    a = record(head="ia/a")
    other = record(automation=OTHER, head="ia/a")
    for saved in (b, other, a):
        await store.save_pull_request(saved)
    assert await store.pull_requests(AUTO) == [a, b]
    assert await store.pull_requests(OTHER) == [other]
    assert await store.pull_requests() == [other, a, b]  # by automation, then head
    assert await store.pull_requests("ImageAutomation/none/none") == []
    assert await store.pull_request(AUTO, "ia/none") is None


async def test_forget_drops_the_record_but_keeps_ignores_and_opened_log(
    store: SqliteStore,
) -> None:
    await store.save_pull_request(record())
    await store.save_pull_request(record(head="ia/kept"))
    await store.ignore_versions(
        AUTO, "image-automation/apps", [WEB], number=7, reason="closed unmerged", now=at(5)
    )
    await store.record_pull_request_opened(AUTO, 7, now=at(0))
    await store.forget_pull_request(AUTO, "image-automation/apps")
    await store.forget_pull_request(AUTO, "image-automation/apps")  # a no-op now
    assert await store.pull_request(AUTO, "image-automation/apps") is None
    assert [r.head for r in await store.pull_requests()] == ["ia/kept"]
    assert [i.value for i in await store.ignored_versions(AUTO)] == ["1.1.0"]
    assert await store.pull_requests_opened_since(AUTO, at(0)) == 1


async def test_ignored_versions_are_the_new_values_with_their_origin(store: SqliteStore) -> None:
    await store.ignore_versions(
        AUTO, "ia/apps", [WEB, API], number=7, reason="closed unmerged", now=at(5)
    )
    await store.ignore_versions(AUTO, "ia/web", [WEB], number=None, reason="by hand", now=at(6))
    assert await store.ignored_versions(AUTO) == [
        IgnoredVersion(AUTO, "ia/apps", "flux-system:api", "2.1.0", 7, "closed unmerged", at(5)),
        IgnoredVersion(AUTO, "ia/apps", "flux-system:web", "1.1.0", 7, "closed unmerged", at(5)),
        IgnoredVersion(AUTO, "ia/web", "flux-system:web", "1.1.0", None, "by hand", at(6)),
    ]
    assert await store.ignored_versions(OTHER) == []


async def test_ignoring_the_same_version_again_keeps_the_first_entry(store: SqliteStore) -> None:
    await store.ignore_versions(
        AUTO, "ia/apps", [WEB], number=7, reason="closed unmerged", now=at(5)
    )
    await store.ignore_versions(
        AUTO, "ia/apps", [WEB], number=7, reason="closed unmerged", now=at(5)
    )
    # Another old value for the same new one, another PR, a later time: still one entry.
    again = dataclasses.replace(WEB, old="0.9.0")
    await store.ignore_versions(
        AUTO, "ia/apps", [again, again], number=8, reason="ignore box", now=at(9)
    )
    assert await store.ignored_versions(AUTO) == [
        IgnoredVersion(AUTO, "ia/apps", "flux-system:web", "1.1.0", 7, "closed unmerged", at(5))
    ]


async def test_unignore_lifts_only_what_that_pull_request_recorded(store: SqliteStore) -> None:
    await store.ignore_versions(AUTO, "ia/apps", [WEB], number=7, reason="closed", now=at(1))
    await store.ignore_versions(AUTO, "ia/api", [API], number=8, reason="closed", now=at(2))
    await store.ignore_versions(OTHER, "ia/apps", [WEB], number=7, reason="closed", now=at(3))
    await store.ignore_versions(AUTO, "ia/hand", [API], number=None, reason="hand", now=at(4))
    await store.unignore_pull_request(AUTO, 7)
    await store.unignore_pull_request(AUTO, 7)  # nothing left: a no-op
    assert [(i.head, i.number) for i in await store.ignored_versions(AUTO)] == [
        ("ia/api", 8),
        ("ia/hand", None),
    ]
    assert [i.number for i in await store.ignored_versions(OTHER)] == [7]


@pytest.mark.parametrize(
    ("since", "count"),
    [
        (at(-1), 3),
        (at(0), 3),  # at `since` counts
        (at(0.001), 2),
        (at(30), 2),
        (at(59), 1),
        (at(60), 0),
    ],
)
async def test_openings_are_counted_at_or_after_since(
    store: SqliteStore, since: datetime, count: int
) -> None:
    await store.record_pull_request_opened(AUTO, 1, now=at(0))
    await store.record_pull_request_opened(AUTO, 2, now=at(30))
    await store.record_pull_request_opened(AUTO, 3, now=at(59))
    await store.record_pull_request_opened(OTHER, 4, now=at(30))
    assert await store.pull_requests_opened_since(AUTO, since) == count


async def test_logging_the_same_opening_twice_counts_once(store: SqliteStore) -> None:
    await store.record_pull_request_opened(AUTO, 1, now=at(0))
    await store.record_pull_request_opened(AUTO, 1, now=at(10))
    await store.record_pull_request_opened(OTHER, 1, now=at(10))
    assert await store.pull_requests_opened_since(AUTO, at(-60)) == 1
    assert await store.pull_requests_opened_since(AUTO, at(5)) == 0
    assert await store.pull_requests_opened_since(OTHER, at(-60)) == 1


async def test_opened_log_prunes_entries_older_than_a_day_on_write(
    store: SqliteStore,
) -> None:
    day = 24 * 60
    await store.record_pull_request_opened(AUTO, 1, now=at(0))
    await store.record_pull_request_opened(OTHER, 2, now=at(1))
    await store.record_pull_request_opened(AUTO, 3, now=at(2))
    await store.record_pull_request_opened(OTHER, 4, now=at(day + 1))
    # Exactly a day old (#2) stays; older ones (#1, of another automation too) go.
    conn = sqlite3.connect(store.path)
    try:
        rows = conn.execute(
            "SELECT automation, number FROM pull_requests_opened ORDER BY number"
        ).fetchall()
    finally:
        conn.close()
    assert rows == [(OTHER, 2), (AUTO, 3), (OTHER, 4)]
    assert await store.pull_requests_opened_since(AUTO, at(-day)) == 1


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(
            lambda s: s.save_pull_request(record(opened_at=datetime(2026, 3, 1))), id="save"
        ),
        pytest.param(
            lambda s: s.ignore_versions(
                AUTO, "h", [WEB], number=1, reason="r", now=datetime(2026, 3, 1)
            ),
            id="ignore",
        ),
        pytest.param(
            lambda s: s.record_pull_request_opened(AUTO, 1, now=datetime(2026, 3, 1)),
            id="opened",
        ),
        pytest.param(
            lambda s: s.pull_requests_opened_since(AUTO, datetime(2026, 3, 1)), id="since"
        ),
    ],
)
async def test_naive_times_are_refused(store: SqliteStore, call: object) -> None:
    with pytest.raises(ValueError, match="naive"):
        await call(store)  # type: ignore[operator]


async def test_unknown_pull_request_state_is_refused(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="'draft'"):
        await store.save_pull_request(record(state="draft"))
    assert await store.pull_requests() == []


async def test_hand_edited_row_with_an_unknown_state_is_refused_by_the_schema(
    store: SqliteStore,
) -> None:
    await store.save_pull_request(record())
    conn = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE pull_requests SET state = 'draft'")
    finally:
        conn.close()
