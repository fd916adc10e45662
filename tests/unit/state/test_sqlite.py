"""The SQLite state store on real files: schema, first-seen, failures, decisions, pushes."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest

from image_automation.domain import Decision, TagInfo
from image_automation.errors import StateError
from image_automation.state import PushRecord, SetterChange, StateStore
from image_automation.state._sqlite_schema import LATEST, migrate
from image_automation.state.sqlite import SqliteStore

REPO = "docker.io/library/nginx"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state.db") as opened:
        yield opened


def names(tags: list[TagInfo]) -> list[str]:
    return [tag.name for tag in tags]


async def test_open_creates_file_in_wal_mode_at_latest_version(tmp_path: Path) -> None:
    path = tmp_path / "nested" / "dir" / "state.db"
    async with await SqliteStore.open(path):
        pass
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    finally:
        conn.close()
    assert {"repositories", "tags", "decisions", "pushes"} <= tables


async def test_sqlite_store_satisfies_the_protocol(store: SqliteStore) -> None:
    assert isinstance(store, StateStore)


async def test_version_1_database_is_migrated_and_keeps_its_tags(tmp_path: Path) -> None:
    path = tmp_path / "old.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=1) == 1
    conn.execute("INSERT INTO repositories (name, tag_count) VALUES (?, 1)", (REPO,))
    conn.execute(
        "INSERT INTO tags (repository, name, first_seen) VALUES (?, '1.0', ?)",
        (REPO, T0.isoformat()),
    )
    conn.close()

    async with await SqliteStore.open(path) as store:
        assert await store.tags(REPO) == [TagInfo("1.0", first_seen=T0)]
        await store.save_decision("p", Decision("p", "1.0"), repository=REPO, now=at(1))
        stored = await store.decision("p")
        assert stored is not None
        assert stored.decision.tag == "1.0"
    conn = sqlite3.connect(path)
    assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
    conn.close()


async def test_existing_empty_file_is_migrated_from_version_0(tmp_path: Path) -> None:
    path = tmp_path / "empty.db"
    path.touch()
    async with await SqliteStore.open(path) as store:
        await store.replace_tags(REPO, [TagInfo("1.0")], now=T0)
        assert names(await store.tags(REPO)) == ["1.0"]


async def test_concurrent_openers_of_a_fresh_file_migrate_it_once(tmp_path: Path) -> None:
    path = tmp_path / "fresh.db"
    stores = await asyncio.gather(*(SqliteStore.open(path) for _ in range(4)))
    try:
        await asyncio.gather(
            *(s.replace_tags(f"r/{i}", [TagInfo("1")], now=T0) for i, s in enumerate(stores))
        )
        assert len(await stores[0].scan_statuses()) == 4
    finally:
        for store in stores:
            await store.close()
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


async def test_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StateError, match="newer than this program"):
        await SqliteStore.open(path)


async def test_first_seen_is_kept_across_scans_and_new_tags_get_now(store: SqliteStore) -> None:
    diff = await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("1.1")], now=at(0))
    assert diff.added == ("1.0", "1.1")
    diff = await store.replace_tags(
        REPO, [TagInfo("1.0"), TagInfo("1.1"), TagInfo("2.0")], now=at(5)
    )
    assert (diff.added, diff.removed, diff.count) == (("2.0",), (), 3)
    seen = {t.name: t.first_seen for t in await store.tags(REPO)}
    assert seen == {"1.0": at(0), "1.1": at(0), "2.0": at(5)}


async def test_first_seen_given_by_the_caller_is_ignored(store: SqliteStore) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0", first_seen=at(-999))], now=at(0))
    assert (await store.tags(REPO))[0].first_seen == at(0)


async def test_disappearing_tag_is_removed_and_reappears_as_new(store: SqliteStore) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("rc")], now=at(0))
    diff = await store.replace_tags(REPO, [TagInfo("1.0")], now=at(1))
    assert diff.removed == ("rc",)
    assert names(await store.tags(REPO)) == ["1.0"]
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("rc")], now=at(2))
    seen = {t.name: t.first_seen for t in await store.tags(REPO)}
    assert seen == {"1.0": at(0), "rc": at(2)}


async def test_metadata_is_stored_and_replaced_by_the_latest_scan(store: SqliteStore) -> None:
    first = TagInfo("1.0", digest="sha256:aa", created=at(-60), pushed=at(-30))
    await store.replace_tags(REPO, [first], now=at(0))
    assert await store.tags(REPO) == [
        TagInfo("1.0", digest="sha256:aa", created=at(-60), pushed=at(-30), first_seen=at(0))
    ]
    # The tag moved to another image: the new digest and times win, first_seen stays.
    await store.replace_tags(REPO, [TagInfo("1.0", digest="sha256:bb", created=at(3))], now=at(5))
    assert await store.tags(REPO) == [
        TagInfo("1.0", digest="sha256:bb", created=at(3), first_seen=at(0))
    ]


async def test_times_in_other_zones_come_back_as_utc(store: SqliteStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    await store.replace_tags(
        REPO, [TagInfo("1.0", created=datetime(2026, 1, 1, 14, 0, tzinfo=plus_two))], now=T0
    )
    created = (await store.tags(REPO))[0].created
    assert created == T0
    assert created is not None
    assert created.utcoffset() == timedelta(0)


async def test_naive_time_is_refused(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.replace_tags(REPO, [TagInfo("1.0")], now=datetime(2026, 1, 1))


async def test_failure_keeps_last_good_tags_and_records_the_error(store: SqliteStore) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("1.1")], now=at(0), requests=1)
    await store.record_failure(REPO, "503 Service Unavailable", now=at(10), requests=4)
    assert names(await store.tags(REPO)) == ["1.0", "1.1"]
    status = await store.scan_status(REPO)
    assert status is not None
    assert status.last_attempt == at(10)
    assert status.last_success == at(0)
    assert status.last_error == "503 Service Unavailable"
    assert (status.tag_count, status.requests, status.ok) == (2, 4, False)


async def test_success_after_failure_clears_the_error(store: SqliteStore) -> None:
    await store.record_failure(REPO, "unauthorized", now=at(0))
    failed = await store.scan_status(REPO)
    assert failed is not None
    assert (failed.last_success, failed.tag_count, failed.ok) == (None, 0, False)
    await store.replace_tags(REPO, [TagInfo("1.0")], now=at(1), requests=2)
    status = await store.scan_status(REPO)
    assert status is not None
    assert (status.last_error, status.last_success, status.requests, status.ok) == (
        None,
        at(1),
        2,
        True,
    )


async def test_unknown_repository_has_no_status_and_no_tags(store: SqliteStore) -> None:
    assert await store.scan_status("ghcr.io/nobody/none") is None
    assert await store.tags("ghcr.io/nobody/none") == []


async def test_statuses_list_every_repository_sorted(store: SqliteStore) -> None:
    await store.replace_tags("ghcr.io/b/b", [TagInfo("1")], now=at(0))
    await store.record_failure("ghcr.io/a/a", "boom", now=at(0))
    statuses = await store.scan_statuses()
    assert [(s.repository, s.ok) for s in statuses] == [
        ("ghcr.io/a/a", False),
        ("ghcr.io/b/b", True),
    ]


async def test_decision_round_trips_as_json_and_is_replaced(store: SqliteStore) -> None:
    decision = Decision(
        policy="apps/web",
        tag="1.4.0",
        digest="sha256:cc",
        considered=("1.3.0", "1.4.0", "1.5.0"),
        skipped={"latest": "not a semver version"},
        lost={"1.3.0": "older than 1.4.0", "1.5.0": "younger than minAge 24h ünïcode"},
        reasons=("pin in force",),
    )
    await store.save_decision("apps/web", decision, repository=REPO, now=at(0))
    stored = await store.decision("apps/web")
    assert stored is not None
    assert (stored.decision, stored.repository, stored.decided_at) == (decision, REPO, at(0))
    newer = Decision(policy="apps/web", tag=None, reasons=("nothing qualifies",))
    await store.save_decision("apps/web", newer, repository=REPO, now=at(1))
    assert [d.decision for d in await store.decisions()] == [newer]
    assert await store.decision("other") is None


async def test_last_push_is_the_latest_of_that_automation(store: SqliteStore) -> None:
    change = SetterChange(setter="apps:web", old="1.0", new="1.1")
    await store.record_push(PushRecord("auto", "a" * 40, at(0), (change,)))
    await store.record_push(PushRecord("auto", "b" * 40, at(5), ()))
    await store.record_push(PushRecord("other", "c" * 40, at(9), (change,)))
    assert await store.last_push("auto") == PushRecord("auto", "b" * 40, at(5), ())
    assert await store.last_push("other") == PushRecord("other", "c" * 40, at(9), (change,))
    assert await store.last_push("none") is None


async def test_closed_store_raises_state_error(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StateError, match="closed"):
        await store.tags(REPO)


async def test_unusable_path_raises_state_error(tmp_path: Path) -> None:
    (tmp_path / "file").write_text("not a directory")
    with pytest.raises(StateError, match="open"):
        await SqliteStore.open(tmp_path / "file" / "state.db")


async def test_corrupt_file_raises_state_error_with_cause(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(StateError) as caught:
        await SqliteStore.open(path)
    assert isinstance(caught.value.__cause__, sqlite3.Error)


async def test_concurrent_writers_on_one_file_replace_sets_whole(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    sets = {
        "even": [TagInfo(f"e{i}") for i in range(0, 200, 2)],
        "odd": [TagInfo(f"o{i}") for i in range(1, 200, 2)],
    }
    expected = {key: sorted(t.name for t in tags) for key, tags in sets.items()}
    seen: list[list[str]] = []
    async with (
        await SqliteStore.open(path) as one,
        await SqliteStore.open(path) as two,
        await SqliteStore.open(path) as reader,
    ):

        async def write(store: SqliteStore, key: str) -> None:
            for i in range(30):
                await store.replace_tags(REPO, sets[key], now=at(i))
                await store.replace_tags(f"ghcr.io/x/{key}", sets[key], now=at(i))

        async def read() -> None:
            for _ in range(60):
                seen.append(names(await reader.tags(REPO)))

        await asyncio.gather(write(one, "even"), write(two, "odd"), read())
        final = names(await reader.tags(REPO))
        status = await reader.scan_status(REPO)

    assert final in expected.values()
    assert status is not None
    assert status.tag_count == len(final)
    # Every read saw nothing yet, or one whole set: never a mix of the two writers.
    assert all(s == [] or s in expected.values() for s in seen)
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        counts = dict(conn.execute("SELECT repository, count(*) FROM tags GROUP BY repository"))
    finally:
        conn.close()
    assert counts == {REPO: 100, "ghcr.io/x/even": 100, "ghcr.io/x/odd": 100}


async def test_two_processes_writing_one_file_do_not_corrupt_it(tmp_path: Path) -> None:
    path = tmp_path / "procs.db"
    async with await SqliteStore.open(path):
        pass  # create and migrate first so both children start from the same schema
    script = (
        "import asyncio, sys\n"
        "from datetime import UTC, datetime\n"
        "from image_automation.domain import TagInfo\n"
        "from image_automation.state.sqlite import SqliteStore\n"
        "async def main(path, who):\n"
        "    async with await SqliteStore.open(path) as s:\n"
        "        for i in range(40):\n"
        "            tags = [TagInfo(f'{who}{j}') for j in range(i % 7 + 1)]\n"
        "            await s.replace_tags('shared/repo', tags, now=datetime.now(UTC))\n"
        "            await s.replace_tags(f'own/{who}', tags, now=datetime.now(UTC))\n"
        "asyncio.run(main(sys.argv[1], sys.argv[2]))\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, str(path), who)
        for who in ("a", "b")
    ]
    codes = [await proc.wait() for proc in procs]
    assert codes == [0, 0]
    async with await SqliteStore.open(path) as store:
        shared = names(await store.tags("shared/repo"))
        own_a = names(await store.tags("own/a"))
        status = await store.scan_status("shared/repo")
    # The last iteration (i = 39) writes 39 % 7 + 1 = 5 tags.
    assert own_a == [f"a{j}" for j in range(5)]
    assert shared in ([f"a{j}" for j in range(5)], [f"b{j}" for j in range(5)])
    assert status is not None
    assert status.tag_count == 5
