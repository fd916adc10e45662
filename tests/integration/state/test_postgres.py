"""What only the PostgreSQL store has: migrations from many replicas at once, the advisory
lock, permissions, the pool, a dropped connection, the server's limits, and error messages
that name the database but never the password (every URL here carries one; the autouse leak
check greps every log record and recorded error for it)."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import subprocess
import sys
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import quote

import psycopg
import pytest

from image_automation.domain import TagInfo
from image_automation.errors import StateError
from image_automation.state import PullRequestRecord, StateStore, open_store
from image_automation.state._postgres_schema import LATEST, MIGRATION_LOCK
from image_automation.state.postgres import PostgresStore
from tests.integration.conftest import LeakCheck
from tests.integration.fixture_base import SECRETS, free_port
from tests.integration.postgres_server import PG_PASSWORD, PostgresServer

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REPO = "ghcr.io/org/web"
ROOT = Path(__file__).resolve().parents[3]


@pytest.fixture
def url(postgres_server: PostgresServer, postgres_database: str) -> str:
    return postgres_server.url(postgres_database)


@pytest.fixture
async def store(url: str) -> AsyncIterator[StateStore]:
    async with await open_store(url) as opened:
        yield opened


def _record(head: str) -> PullRequestRecord:
    return PullRequestRecord(
        "A/ns/a", head, "github", 1, "u", "open", "main", None, (), opened_at=T0, updated_at=T0
    )


# -- errors name the database, never the password -------------------------------------------


def _elsewhere(url: str, server: PostgresServer, port: int) -> str:
    return url.replace(f":{server.port}/", f":{port}/")


async def test_refused_connection_is_one_line_naming_host_and_database(
    postgres_server: PostgresServer, leak_check: LeakCheck
) -> None:
    port = free_port()  # nothing listens there
    with leak_check.raises(StateError) as caught:
        await open_store(_elsewhere(postgres_server.url("fleet"), postgres_server, port))
    message = str(caught.value)
    assert message.startswith(f'PostgreSQL database "fleet" at 127.0.0.1:{port} as postgres: ')
    assert "Connection refused" in message
    assert "\n" not in message
    assert isinstance(caught.value.__cause__, psycopg.OperationalError)


async def test_wrong_password_is_refused_without_showing_either_password(
    postgres_server: PostgresServer, postgres_database: str, leak_check: LeakCheck
) -> None:
    wrong = "wrong-" + secrets.token_hex(8)
    SECRETS.add(wrong)
    with leak_check.raises(StateError, match="password authentication failed") as caught:
        await open_store(postgres_server.url(postgres_database, password=wrong))
    assert f'"{postgres_database}" at 127.0.0.1:{postgres_server.port}' in str(caught.value)


async def test_unknown_database_is_named(
    postgres_server: PostgresServer, leak_check: LeakCheck
) -> None:
    with leak_check.raises(StateError, match='database "no_such_db" does not exist'):
        await open_store(postgres_server.url("no_such_db"))


@pytest.mark.parametrize(
    ("malformed", "error"),
    [
        pytest.param(
            "postgresql://postgres:{pw}%zz@127.0.0.1/db",
            "malformed PostgreSQL state URL: libpq cannot parse it",
            id="bad-percent-escape",
        ),
        pytest.param(
            "postgresql://postgres:{pw}@127.0.0.1:notaport/db",
            'connect: .*invalid integer value "notaport" for connection option "port"',
            id="bad-port",
        ),
        pytest.param(
            "postgresql://127.0.0.1/db?password={pw}&bogus=1",
            "malformed PostgreSQL state URL: libpq cannot parse it",
            id="unknown-param",
        ),
        pytest.param(
            "postgresql://127.0.0.1/db?password={pw}&pool_max_size=x",
            "PostgreSQL state URL: pool_max_size must be a number, got 'x'",
            id="bad-pool-setting",
        ),
    ],
)
async def test_malformed_url_is_refused_without_quoting_it(
    malformed: str, error: str, leak_check: LeakCheck
) -> None:
    with leak_check.raises(StateError, match=error) as caught:
        await open_store(malformed.format(pw=quote(PG_PASSWORD, safe="")))
    assert "\n" not in str(caught.value)


@pytest.mark.parametrize(
    "command",
    [
        pytest.param(["policy", "select", "--policy", "policies/flux/podinfo.yaml"], id="select"),
        pytest.param(["scan", "--policies", "policies/flux"], id="scan"),
        pytest.param(["reconcile", "--once", "--repo", "fleet.git"], id="reconcile"),
    ],
)
async def test_cli_shows_a_refused_store_in_one_line_without_the_password(
    tmp_path: Path, postgres_server: PostgresServer, leak_check: LeakCheck, command: list[str]
) -> None:
    port = free_port()
    bad = _elsewhere(postgres_server.url("fleet"), postgres_server, port)
    work = tmp_path / "cwd"
    work.mkdir()
    (work / "policies").symlink_to(ROOT / "policies")
    proc = subprocess.run(
        [sys.executable, "-c", "from image_automation.cli import main; main()", *command,
         "--state", bad],
        capture_output=True, text=True, timeout=120, check=False, cwd=work,
    )  # fmt: skip
    leak_check.record(proc.stdout + proc.stderr)
    # Not taken for a file name: that would put the password on disk (and open SQLite).
    assert sorted(p.name for p in work.iterdir()) == ["policies"]
    assert proc.returncode != 0
    [line] = [line for line in proc.stderr.splitlines() if "PostgreSQL" in line]
    assert f'PostgreSQL database "fleet" at 127.0.0.1:{port} as postgres: connect: ' in line
    assert "Connection refused" in line


# -- migrations ------------------------------------------------------------------------------

_OPENER = """\
import asyncio, pathlib, sys, time
from image_automation.state import open_store
import image_automation.state.postgres
print("ready", flush=True)
go = pathlib.Path(sys.argv[2])
while not go.exists():  # imports done: every opener starts at once
    time.sleep(0.002)
async def main():
    async with await open_store(sys.argv[1]) as s:
        assert await s.scan_statuses() == []
asyncio.run(main())
"""


async def test_replicas_starting_together_migrate_a_fresh_database_once(
    tmp_path: Path, postgres_server: PostgresServer, postgres_database: str, url: str
) -> None:
    go = tmp_path / "go"
    procs = [
        await asyncio.create_subprocess_exec(
            sys.executable,
            "-c",
            _OPENER,
            url,
            str(go),
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.PIPE,
        )
        for _ in range(6)
    ]
    for proc in procs:
        assert proc.stdout is not None
        assert await proc.stdout.readline() == b"ready\n"
    go.touch()
    results = [await proc.communicate() for proc in procs]
    assert [proc.returncode for proc in procs] == [0] * 6, [err for _, err in results]
    rows = postgres_server.sql(
        "SELECT version FROM schema_migrations ORDER BY version", dbname=postgres_database
    )
    assert rows == [(v,) for v in range(1, LATEST + 1)]


async def _waiting_on_advisory_locks(server: PostgresServer, dbname: str) -> int:
    [(count,)] = server.sql(
        "SELECT count(*) FROM pg_locks l JOIN pg_database d ON d.oid = l.database"
        f" WHERE l.locktype = 'advisory' AND NOT l.granted AND d.datname = '{dbname}'"
    )
    return int(str(count))


async def test_openers_wait_for_the_migration_lock_then_find_the_work_done(
    postgres_server: PostgresServer, postgres_database: str, url: str
) -> None:
    holder = await psycopg.AsyncConnection.connect(postgres_server.conninfo(postgres_database))
    openers: list[asyncio.Task[StateStore]] = []
    try:
        await holder.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        openers = [asyncio.create_task(open_store(url)) for _ in range(3)]
        for _ in range(2000):  # bounded: they must all queue on the lock, or the test fails
            if await _waiting_on_advisory_locks(postgres_server, postgres_database) == 3:
                break
            await asyncio.sleep(0.01)
        assert await _waiting_on_advisory_locks(postgres_server, postgres_database) == 3
        assert not any(task.done() for task in openers)
        await holder.commit()  # releases the lock
        await asyncio.gather(*openers)
    finally:
        await holder.close()
        for task in openers:
            if not task.done():
                task.cancel()
            with contextlib.suppress(BaseException):
                await (await task).close()
    rows = postgres_server.sql("SELECT count(*) FROM schema_migrations", dbname=postgres_database)
    assert rows == [(LATEST,)]


async def test_no_advisory_lock_outlives_opening_and_using_the_store(
    postgres_server: PostgresServer, postgres_database: str, store: StateStore
) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0")], now=T0)
    await store.save_pull_request(_record("ia/a"))
    rows = postgres_server.sql("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory'")
    assert rows == [(0,)]


async def test_database_newer_than_the_program_is_refused(
    postgres_server: PostgresServer, postgres_database: str, url: str, leak_check: LeakCheck
) -> None:
    async with await open_store(url):
        pass
    postgres_server.sql(
        f"INSERT INTO schema_migrations (version) VALUES ({LATEST + 1})", dbname=postgres_database
    )
    with leak_check.raises(StateError, match="newer than this program supports"):
        await open_store(url)


# -- permissions -----------------------------------------------------------------------------


def _role(server: PostgresServer, dbname: str, *, grant: str) -> str:
    """A login role with ``grant`` run for it on ``dbname``; its URL."""
    name = f"r_{secrets.token_hex(4)}"
    password = "role-" + secrets.token_hex(8)
    SECRETS.add(password)
    server.sql(f"CREATE ROLE {name} LOGIN PASSWORD '{password}'")
    server.sql(grant.format(role=name), dbname=dbname)
    return server.url(dbname, password=password).replace("postgres:", f"{name}:", 1)


async def test_a_role_that_may_only_read_and_write_uses_a_migrated_database(
    postgres_server: PostgresServer, postgres_database: str, url: str
) -> None:
    async with await open_store(url):
        pass  # migrated by the owner
    grant = (
        "GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO {role};"
        " GRANT USAGE ON ALL SEQUENCES IN SCHEMA public TO {role}"
    )
    user_url = _role(postgres_server, postgres_database, grant=grant)
    async with await open_store(user_url) as store:
        await store.replace_tags(REPO, [TagInfo("1.0")], now=T0)
        await store.save_pull_request(_record("ia/a"))
        assert [t.name for t in await store.tags(REPO)] == ["1.0"]


async def test_a_role_that_may_not_create_tables_is_told_so_on_a_fresh_database(
    postgres_server: PostgresServer, postgres_database: str, leak_check: LeakCheck
) -> None:
    user_url = _role(postgres_server, postgres_database, grant="SELECT 1 -- {role}")
    with leak_check.raises(StateError, match="migrate the schema: permission denied"):
        await open_store(user_url)


# -- the pool --------------------------------------------------------------------------------


def _connections(server: PostgresServer, dbname: str) -> int:
    [(count,)] = server.sql(
        "SELECT count(*) FROM pg_stat_activity"
        f" WHERE datname = '{dbname}' AND application_name = 'image-automation'"
    )
    return int(str(count))


async def test_pool_size_comes_from_the_url(
    postgres_server: PostgresServer, postgres_database: str
) -> None:
    fixed = postgres_server.url(postgres_database, query="pool_min_size=3&pool_max_size=3")
    async with await open_store(fixed) as store:
        assert isinstance(store, PostgresStore)
        assert (store.settings.min_size, store.settings.max_size) == (3, 3)
        assert _connections(postgres_server, postgres_database) == 3
    capped = postgres_server.url(postgres_database, query="pool_min_size=0&pool_max_size=2")
    async with await open_store(capped) as store:
        await asyncio.gather(*(store.tags(f"r/{i}") for i in range(40)))
        assert 1 <= _connections(postgres_server, postgres_database) <= 2
    assert _connections(postgres_server, postgres_database) == 0  # close() closed them all


async def test_connections_the_server_dropped_are_replaced(
    postgres_server: PostgresServer, postgres_database: str, store: StateStore
) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0")], now=T0)
    postgres_server.sql(
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
        f" WHERE datname = '{postgres_database}' AND application_name = 'image-automation'"
    )
    assert [t.name for t in await store.tags(REPO)] == ["1.0"]


# -- what the server cannot hold, and what its schema refuses --------------------------------


async def test_a_key_too_large_for_an_index_is_refused_and_the_store_keeps_working(
    store: StateStore, leak_check: LeakCheck
) -> None:
    huge = secrets.token_hex(8_000)  # random: it does not compress below the index limit
    with leak_check.raises(StateError, match="cannot be stored: index row"):
        await store.save_pull_request(_record(huge))
    await store.save_pull_request(_record("ia/a"))
    assert [r.head for r in await store.pull_requests()] == ["ia/a"]


async def test_hand_edited_row_with_an_unknown_state_is_refused_by_the_schema(
    postgres_server: PostgresServer, postgres_database: str, store: StateStore
) -> None:
    await store.save_pull_request(_record("ia/a"))
    with pytest.raises(psycopg.errors.CheckViolation):
        postgres_server.sql("UPDATE pull_requests SET state = 'draft'", dbname=postgres_database)


async def test_times_are_timestamptz_and_come_back_in_utc_whatever_the_server_zone(
    postgres_server: PostgresServer, postgres_database: str, url: str
) -> None:
    postgres_server.sql(f"ALTER DATABASE {postgres_database} SET timezone = 'Pacific/Kiritimati'")
    async with await open_store(url) as store:
        await store.replace_tags(REPO, [TagInfo("1.0", created=T0)], now=T0)
        [tag] = await store.tags(REPO)
    assert (tag.created, tag.first_seen) == (T0, T0)
    assert tag.created is not None
    assert tag.created.utcoffset() is not None
    assert tag.created.tzinfo == UTC
    rows = postgres_server.sql(
        "SELECT DISTINCT data_type FROM information_schema.columns"
        " WHERE table_schema = 'public' AND column_name IN"
        " ('created', 'pushed', 'first_seen', 'last_attempt', 'opened_at', 'ignored_at')",
        dbname=postgres_database,
    )
    assert rows == [("timestamp with time zone",)]
