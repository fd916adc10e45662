"""Pull-request state under stress: an old database file, several writers, hostile values."""

from __future__ import annotations

import asyncio
import sqlite3
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from image_automation.domain import Decision, TagInfo
from image_automation.errors import StateError
from image_automation.state import PullRequestRecord, PushRecord, SetterChange
from image_automation.state._sqlite_schema import LATEST, migrate
from image_automation.state.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REPO = "ghcr.io/org/web"
CHANGE = SetterChange(setter="apps:web", old="1.0.0", new="1.1.0")


def record(automation: str, head: str, **overrides: object) -> PullRequestRecord:
    fields: dict[str, object] = {
        "automation": automation,
        "head": head,
        "provider": "gitea",
        "number": 1,
        "url": "http://127.0.0.1:3000/org/repo/pulls/1",
        "state": "open",
        "base": "main",
        "pushed_sha": "a" * 40,
        "changes": (CHANGE,),
        "opened_at": T0,
        "updated_at": T0,
    }
    fields.update(overrides)
    return PullRequestRecord(**fields)  # type: ignore[arg-type]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state.db") as opened:
        yield opened


async def test_version_2_database_with_data_is_migrated_and_keeps_it(tmp_path: Path) -> None:
    path = tmp_path / "v2.db"
    conn = sqlite3.connect(path, isolation_level=None)
    assert migrate(conn, target=2) == 2
    conn.execute("INSERT INTO repositories (name, tag_count) VALUES (?, 1)", (REPO,))
    conn.execute(
        "INSERT INTO tags (repository, name, digest, first_seen) VALUES (?, '1.0', 'sha256:aa', ?)",
        (REPO, T0.isoformat(timespec="microseconds")),
    )
    conn.execute(
        "INSERT INTO decisions (policy, repository, decided_at, tag, decision)"
        " VALUES ('apps/web', ?, ?, '1.0', ?)",
        (REPO, T0.isoformat(), '{"policy": "apps/web", "tag": "1.0"}'),
    )
    conn.execute(
        "INSERT INTO pushes (automation, commit_sha, pushed_at, changes) VALUES (?, ?, ?, ?)",
        (
            "A/ns/a",
            "f" * 40,
            T0.isoformat(),
            '[{"setter": "apps:web", "old": "0.9", "new": "1.0"}]',
        ),
    )
    conn.close()

    async with await SqliteStore.open(path) as migrated:
        assert await migrated.tags(REPO) == [TagInfo("1.0", digest="sha256:aa", first_seen=T0)]
        stored = await migrated.decision("apps/web")
        assert stored is not None
        assert stored.decision == Decision("apps/web", "1.0")
        assert await migrated.last_push("A/ns/a") == PushRecord(
            "A/ns/a", "f" * 40, T0, (SetterChange("apps:web", "0.9", "1.0"),)
        )
        assert await migrated.pull_requests() == []
        await migrated.save_pull_request(record("A/ns/a", "ia/a"))
        assert [r.head for r in await migrated.pull_requests("A/ns/a")] == ["ia/a"]
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST == 3
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        indexes = {
            row[0] for row in conn.execute("SELECT name FROM sqlite_master WHERE type = 'index'")
        }
    finally:
        conn.close()
    assert {
        "ignored_versions_by_number",
        "pull_requests_opened_by_time",
        "pull_requests_opened_for_pruning",
    } <= indexes


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (
            "SELECT * FROM pull_requests WHERE automation = ? AND head = ?",
            "sqlite_autoindex_pull_requests_1 (automation=? AND head=?)",
        ),
        (
            "SELECT * FROM pull_requests WHERE automation = ? ORDER BY head",
            "sqlite_autoindex_pull_requests_1 (automation=?)",
        ),
        (
            "SELECT * FROM ignored_versions WHERE automation = ? ORDER BY head, setter, value",
            "sqlite_autoindex_ignored_versions_1 (automation=?)",
        ),
        (
            "DELETE FROM ignored_versions WHERE automation = ? AND number = ?",
            "ignored_versions_by_number (automation=? AND number=?)",
        ),
        (
            "SELECT count(*) FROM pull_requests_opened WHERE automation = ? AND opened_at >= ?",
            "pull_requests_opened_by_time (automation=? AND opened_at>?)",
        ),
        (
            "DELETE FROM pull_requests_opened WHERE opened_at < ?",
            "pull_requests_opened_for_pruning (opened_at<?)",
        ),
    ],
)
async def test_pull_request_queries_search_an_index(
    store: SqliteStore, query: str, index: str
) -> None:
    conn = sqlite3.connect(store.path)
    try:
        args = ("x",) * query.count("?")
        plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + query, args)]
    finally:
        conn.close()
    # One indexed search: no full scan, no sort in a temporary b-tree.
    assert len(plan) == 1, plan
    assert plan[0].startswith("SEARCH ") and plan[0].endswith(index), plan


async def test_two_connections_writing_pull_requests_interleave_whole(tmp_path: Path) -> None:
    path = tmp_path / "shared.db"
    async with await SqliteStore.open(path) as one, await SqliteStore.open(path) as two:

        async def work(s: SqliteStore, who: str) -> None:
            for i in range(40):
                await s.save_pull_request(record("A/ns/shared", "ia/shared", number=i))
                await s.save_pull_request(record(f"A/ns/{who}", f"ia/{i % 5}", number=i))
                await s.ignore_versions(
                    "A/ns/shared",
                    "ia/shared",
                    [SetterChange("apps:web", "1", f"{i % 10}")],
                    number=i,
                    reason=who,
                    now=T0 + timedelta(seconds=i),
                )
                await s.record_pull_request_opened(f"A/ns/{who}", i, now=T0 + timedelta(seconds=i))

        await asyncio.gather(work(one, "a"), work(two, "b"))
        shared = await one.pull_requests("A/ns/shared")
        assert len(shared) == 1
        assert sorted(r.head for r in await two.pull_requests("A/ns/a")) == [
            f"ia/{n}" for n in range(5)
        ]
        assert len(await one.ignored_versions("A/ns/shared")) == 10
        assert await two.pull_requests_opened_since("A/ns/a", T0) == 40
        assert await two.pull_requests_opened_since("A/ns/b", T0) == 40


_WRITER = """\
import asyncio, sys
from datetime import UTC, datetime, timedelta
from image_automation.state import PullRequestRecord, SetterChange
from image_automation.state.sqlite import SqliteStore
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
async def main(path, who):
    async with await SqliteStore.open(path) as s:
        for i in range(30):
            now = T0 + timedelta(seconds=i)
            change = SetterChange("apps:" + who, "1", str(i))
            for automation in ("A/ns/shared", "A/ns/" + who):
                await s.save_pull_request(PullRequestRecord(
                    automation, "ia/head", "github", i, "u", "open", "main", None,
                    (change,), now, now))
            await s.ignore_versions("A/ns/shared", "ia/" + who, [change], number=i,
                                    reason=who, now=now)
            await s.record_pull_request_opened("A/ns/shared", i * 2 + (who == "b"), now=now)
            if i % 3 == 0:
                await s.unignore_pull_request("A/ns/shared", i)
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_writing_pull_requests_keep_every_write(tmp_path: Path) -> None:
    path = tmp_path / "procs.db"
    async with await SqliteStore.open(path):
        pass  # migrate first so both children start from the same schema
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, str(path), who)
        for who in ("a", "b")
    ]
    assert [await proc.wait() for proc in procs] == [0, 0]
    async with await SqliteStore.open(path) as s:
        own = await s.pull_requests("A/ns/a")
        shared = await s.pull_requests("A/ns/shared")
        ignored = await s.ignored_versions("A/ns/shared")
        opened = await s.pull_requests_opened_since("A/ns/shared", T0)
    assert [(r.number, r.changes) for r in own] == [(29, (SetterChange("apps:a", "1", "29"),))]
    assert len(shared) == 1
    assert shared[0].number == 29
    # Each writer unignores every number divisible by 3 right after ignoring it (taking the
    # other writer's entry with that number too if it is there): the rest is all kept.
    kept = [i for i in range(30) if i % 3]
    assert sorted((v.head, v.number) for v in ignored) == sorted(
        [("ia/a", i) for i in kept] + [("ia/b", i) for i in kept]
    )
    assert opened == 60
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
    finally:
        conn.close()


HOSTILE = [
    "'; DROP TABLE pull_requests; --",
    'a" OR 1=1 --',
    "Robert'); DELETE FROM ignored_versions WHERE ('1' = '1",
    "ünïcödé/名前/🚀/\u202eevil\u202c/e\u0301",
    "nul\x00inside",
    "%_*?[]\\",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_strings_are_stored_and_read_back_exactly(
    store: SqliteStore, value: str
) -> None:
    change = SetterChange(setter=value, old=value, new=value)
    saved = record(
        value,
        value,
        provider=value,
        url=value,
        base=value,
        pushed_sha=value,
        human_sha=value,
        changes=(change, change),
    )
    await store.save_pull_request(saved)
    await store.save_pull_request(record("A/ns/bystander", "ia/x"))
    await store.ignore_versions(value, value, [change], number=None, reason=value, now=T0)
    await store.record_pull_request_opened(value, 5, now=T0)
    assert await store.pull_request(value, value) == saved
    assert await store.pull_requests(value) == [saved]
    [ignored] = await store.ignored_versions(value)
    assert (ignored.automation, ignored.head, ignored.setter, ignored.value, ignored.reason) == (
        (value,) * 5
    )
    assert await store.pull_requests_opened_since(value, T0) == 1
    # The injected SQL ran nowhere: the other rows and tables are all there.
    assert [r.automation for r in await store.pull_requests("A/ns/bystander")] == ["A/ns/bystander"]
    await store.forget_pull_request(value, value)
    assert await store.pull_request(value, value) is None
    assert await store.pull_request("A/ns/bystander", "ia/x") is not None


async def test_huge_change_sets_round_trip(store: SqliteStore) -> None:
    many = tuple(
        SetterChange(setter=f"ns:policy-{i}", old=f"{i}.0.0", new=f"{i}.0.1") for i in range(20_000)
    )
    giant = (SetterChange(setter="ns:big", old="x" * 4_000_000, new="y" * 4_000_000),)
    for head, changes in (("ia/many", many), ("ia/giant", giant)):
        saved = record("A/ns/big", head, changes=changes)
        await store.save_pull_request(saved)
        assert await store.pull_request("A/ns/big", head) == saved
    await store.ignore_versions("A/ns/big", "ia/many", many, number=3, reason="closed", now=T0)
    assert len(await store.ignored_versions("A/ns/big")) == 20_000
    await store.unignore_pull_request("A/ns/big", 3)
    assert await store.ignored_versions("A/ns/big") == []


@pytest.mark.parametrize(
    "saved",
    [
        pytest.param(record("A/ns/a", "ia/\ud800"), id="lone-surrogate-in-head"),
        pytest.param(record("A/ns/a", "ia/a", number=2**64), id="number-beyond-64-bits"),
        pytest.param(
            record("A/ns/a", "ia/a", changes=(SetterChange("s", "o", "\udfff"),)),
            id="lone-surrogate-in-a-change",
        ),
    ],
)
async def test_unstorable_values_raise_state_error_and_store_nothing(
    store: SqliteStore, saved: PullRequestRecord
) -> None:
    with pytest.raises(StateError, match="cannot be stored"):
        await store.save_pull_request(saved)
    assert await store.pull_requests() == []
