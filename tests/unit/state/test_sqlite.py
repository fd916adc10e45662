"""What only the SQLite store has: its file (WAL, user_version migrations, a corrupt or
unusable path), its query plans and its CHECK constraints. The behaviour every backend shares
is the contract suite in ``tests/integration/state``."""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from image_automation.domain import Decision, TagInfo
from image_automation.domain.events import EventQuery
from image_automation.errors import StateError
from image_automation.state import PullRequestRecord, PushRecord, SetterChange, _event_rows
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
        assert [t.name for t in await store.tags(REPO)] == ["1.0"]


async def test_database_newer_than_the_program_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "future.db"
    conn = sqlite3.connect(path)
    conn.execute(f"PRAGMA user_version = {LATEST + 1}")
    conn.close()
    with pytest.raises(StateError, match="newer than this program"):
        await SqliteStore.open(path)


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
        assert await migrated.events() == []
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA user_version").fetchone()[0] == LATEST == 6
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
        "events_by_object",
        "events_by_kind",
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


async def test_hand_edited_row_with_an_unknown_state_is_refused_by_the_schema(
    store: SqliteStore,
) -> None:
    await store.save_pull_request(record("A/ns/a", "ia/a"))
    conn = sqlite3.connect(store.path)
    try:
        with pytest.raises(sqlite3.IntegrityError, match="CHECK"):
            conn.execute("UPDATE pull_requests SET state = 'draft'")
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("query", "index"),
    [
        (EventQuery(involved="A/ns/a"), "events_by_object (involved=?)"),
        (EventQuery(involved="A/ns/a", before=9), "events_by_object (involved=? AND id<?)"),
        (EventQuery(kinds=("hold",)), "events_by_kind (kind=?)"),
    ],
)
async def test_event_queries_search_an_index(
    store: SqliteStore, query: EventQuery, index: str
) -> None:
    sql, params = _event_rows.select_sql(query, placeholder="?", time=None)
    conn = sqlite3.connect(store.path)
    try:
        plan = [row[-1] for row in conn.execute("EXPLAIN QUERY PLAN " + sql, params)]
    finally:
        conn.close()
    assert len(plan) == 1, plan
    assert plan[0].startswith("SEARCH ") and plan[0].endswith(index), plan
