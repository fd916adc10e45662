"""The PostgreSQL schema as an ordered list of migrations, safe to run from many replicas.

Migration *n* (1-based) takes a database from version n-1 to n; the applied versions are
rows of ``schema_migrations``. Never edit a shipped migration: append a new one. Each step
runs in its own transaction that first takes a transaction-level advisory lock
(:data:`MIGRATION_LOCK`), then re-reads the version: replicas starting together take turns,
and each finds the steps another one applied already done. DDL is transactional here, so a
crash leaves the database at a whole version. The lock is released by the commit itself, so
a pooled connection never carries it to its next user.

The numbering is PostgreSQL's own (it started with everything SQLite had reached by then);
text columns sort by code point (``COLLATE "C"``), as SQLite's and Python's do.
"""

from __future__ import annotations

from typing import Any

from psycopg import AsyncConnection

from image_automation.errors import StateError

MIGRATION_LOCK = 0x1A6E_5747_0001
"""``pg_advisory_xact_lock`` key held while migrating ("IA" "SG" state, lock 1)."""

_KEY = 'text COLLATE "C" NOT NULL'

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: scans, decisions, pushes and pull requests (SQLite versions 1 to 3).
    (
        f"""
        CREATE TABLE repositories (
            name         {_KEY} PRIMARY KEY,
            last_attempt timestamptz,
            last_success timestamptz,
            last_error   text,
            tag_count    bigint NOT NULL DEFAULT 0,
            requests     bigint NOT NULL DEFAULT 0
        )
        """,
        f"""
        CREATE TABLE tags (
            repository {_KEY} REFERENCES repositories (name) ON DELETE CASCADE,
            name       {_KEY},
            digest     text,
            created    timestamptz,
            pushed     timestamptz,
            first_seen timestamptz NOT NULL,
            PRIMARY KEY (repository, name)
        )
        """,
        f"""
        CREATE TABLE decisions (
            policy     {_KEY} PRIMARY KEY,
            repository text NOT NULL,
            decided_at timestamptz NOT NULL,
            tag        text,
            digest     text,
            decision   text NOT NULL
        )
        """,
        f"""
        CREATE TABLE pushes (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            automation {_KEY},
            commit_sha text NOT NULL,
            pushed_at  timestamptz NOT NULL,
            changes    text NOT NULL
        )
        """,
        "CREATE INDEX pushes_by_automation ON pushes (automation, pushed_at, id)",
        f"""
        CREATE TABLE pull_requests (
            id            bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            automation    {_KEY},
            head          {_KEY},
            provider      text NOT NULL,
            number        bigint NOT NULL,
            url           text NOT NULL,
            state         text NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
            base          text NOT NULL,
            pushed_sha    text,
            changes       text NOT NULL,
            opened_at     timestamptz NOT NULL,
            updated_at    timestamptz NOT NULL,
            human_sha     text,
            notice_posted boolean NOT NULL DEFAULT false,
            UNIQUE (automation, head)
        )
        """,
        f"""
        CREATE TABLE ignored_versions (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            automation {_KEY},
            head       {_KEY},
            setter     {_KEY},
            value      {_KEY},
            number     bigint,
            reason     text NOT NULL,
            ignored_at timestamptz NOT NULL,
            UNIQUE (automation, head, setter, value)
        )
        """,
        "CREATE INDEX ignored_versions_by_number ON ignored_versions (automation, number)",
        f"""
        CREATE TABLE pull_requests_opened (
            id         bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            automation {_KEY},
            number     bigint NOT NULL,
            opened_at  timestamptz NOT NULL,
            UNIQUE (automation, number)
        )
        """,
        "CREATE INDEX pull_requests_opened_by_time ON pull_requests_opened (automation, opened_at)",
        "CREATE INDEX pull_requests_opened_for_pruning ON pull_requests_opened (opened_at)",
    ),
    # 2: the gates: rollback holds per policy and signature verdicts (SQLite version 4).
    (
        f"""
        CREATE TABLE holds (
            policy           {_KEY} PRIMARY KEY,
            automation       text NOT NULL,
            setter           text NOT NULL,
            tag              text NOT NULL,
            rolled_back_from text NOT NULL,
            commit_sha       text NOT NULL,
            author           text NOT NULL,
            release          text NOT NULL CHECK (release IN ('untilNewer', 'manual')),
            since            timestamptz NOT NULL,
            released_at      timestamptz
        )
        """,
        f"""
        CREATE TABLE signature_verdicts (
            digest     {_KEY},
            keys       {_KEY},
            valid      boolean NOT NULL,
            reason     text NOT NULL,
            checked_at timestamptz NOT NULL,
            PRIMARY KEY (digest, keys)
        )
        """,
    ),
    # 3: the event log (SQLite version 5).
    (
        f"""
        CREATE TABLE events (
            id               bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            kind             {_KEY},
            severity         text NOT NULL CHECK (severity IN ('info', 'error')),
            object_kind      {_KEY},
            object_namespace {_KEY},
            object_name      {_KEY},
            involved         {_KEY},
            message          text NOT NULL,
            metadata         text NOT NULL,
            occurred_at      timestamptz NOT NULL
        )
        """,
        "CREATE INDEX events_by_object ON events (involved, id)",
        "CREATE INDEX events_by_kind ON events (kind, id)",
    ),
    # 4: replicas' coordination (image_automation.state._leases_postgres).
    (
        f"""
        CREATE TABLE leases (
            kind       {_KEY},
            name       {_KEY},
            holder     text,
            token      bigint NOT NULL,
            expires_at timestamptz NOT NULL,
            PRIMARY KEY (kind, name)
        )
        """,
        f"""
        CREATE TABLE scan_slots (
            repository {_KEY} PRIMARY KEY,
            claimed_at timestamptz NOT NULL,
            holder     text NOT NULL
        )
        """,
        f"""
        CREATE TABLE wakeups (
            unit         {_KEY},
            automation   {_KEY},
            requested_at timestamptz NOT NULL,
            PRIMARY KEY (unit, automation)
        )
        """,
    ),
    # 5: forge answers and their ETags (SQLite version 6).
    (
        f"""
        CREATE TABLE forge_responses (
            id       bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
            scope    {_KEY},
            key      {_KEY},
            etag     text NOT NULL,
            body     bytea NOT NULL,
            saved_at timestamptz NOT NULL,
            UNIQUE (scope, key)
        )
        """,
        "CREATE INDEX forge_responses_by_age ON forge_responses (scope, saved_at, id)",
    ),
)

LATEST = len(MIGRATIONS)

_VERSION_TABLE = """
    CREATE TABLE schema_migrations (
        version    integer PRIMARY KEY,
        applied_at timestamptz NOT NULL DEFAULT now()
    )
"""


async def _has_version_table(conn: AsyncConnection[Any]) -> bool:
    cur = await conn.execute("SELECT to_regclass('schema_migrations') IS NOT NULL")
    row = await cur.fetchone()
    return bool(row and row[0])


async def schema_version(conn: AsyncConnection[Any]) -> int:
    """The highest applied migration; 0 for a database we never touched."""
    if not await _has_version_table(conn):
        return 0
    cur = await conn.execute("SELECT coalesce(max(version), 0) FROM schema_migrations")
    row = await cur.fetchone()
    return int(row[0]) if row is not None else 0


async def migrate(conn: AsyncConnection[Any], *, target: int = LATEST) -> int:
    """Apply the migrations after the database's version up to ``target``; return the version.

    ``conn`` must be in autocommit mode (each step opens its own transaction). A database
    newer than this program is refused rather than guessed at.
    """
    if not 0 <= target <= LATEST:
        raise ValueError(f"no schema version {target} (latest is {LATEST})")
    while True:
        async with conn.transaction():
            await conn.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
            version = await schema_version(conn)
            if version > LATEST:
                raise StateError(
                    f"state database has schema version {version}, newer than this program "
                    f"supports ({LATEST}); upgrade image-automation"
                )
            if version >= target:
                return version
            if not await _has_version_table(conn):
                # Only created under the lock, and only when missing: a role that may use
                # the tables but not create any still opens a migrated database.
                await conn.execute(_VERSION_TABLE)
            for statement in MIGRATIONS[version]:
                await conn.execute(statement)
            await conn.execute(
                "INSERT INTO schema_migrations (version) VALUES (%s)", (version + 1,)
            )
