"""The SQLite schema as an ordered list of migrations, versioned by ``PRAGMA user_version``.

Migration *n* (1-based) takes a database from ``user_version`` n-1 to n. Never edit a shipped
migration: append a new one. Each runs in its own ``BEGIN IMMEDIATE`` transaction together with
the ``user_version`` bump, so a crash leaves the database at a whole version, and concurrent
openers re-read the version under the write lock and skip what another process applied.
"""

from __future__ import annotations

import sqlite3

from image_automation.errors import StateError

MIGRATIONS: tuple[tuple[str, ...], ...] = (
    # 1: scan results and scan status.
    (
        """
        CREATE TABLE repositories (
            name         TEXT PRIMARY KEY,
            last_attempt TEXT,
            last_success TEXT,
            last_error   TEXT,
            tag_count    INTEGER NOT NULL DEFAULT 0,
            requests     INTEGER NOT NULL DEFAULT 0
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE tags (
            repository TEXT NOT NULL REFERENCES repositories(name) ON DELETE CASCADE,
            name       TEXT NOT NULL,
            digest     TEXT,
            created    TEXT,
            pushed     TEXT,
            first_seen TEXT NOT NULL,
            PRIMARY KEY (repository, name)
        ) WITHOUT ROWID
        """,
    ),
    # 2: policy decisions and the pushes of automations (for rollback detection).
    (
        """
        CREATE TABLE decisions (
            policy     TEXT PRIMARY KEY,
            repository TEXT NOT NULL,
            decided_at TEXT NOT NULL,
            tag        TEXT,
            digest     TEXT,
            decision   TEXT NOT NULL
        ) WITHOUT ROWID
        """,
        """
        CREATE TABLE pushes (
            id         INTEGER PRIMARY KEY,
            automation TEXT NOT NULL,
            commit_sha TEXT NOT NULL,
            pushed_at  TEXT NOT NULL,
            changes    TEXT NOT NULL
        )
        """,
        "CREATE INDEX pushes_by_automation ON pushes (automation, pushed_at)",
    ),
    # 3: pull requests per (automation, head branch), the versions closed ones refused, and
    # a log of openings for the hourly limit. Rowid tables, not WITHOUT ROWID: a record's
    # changes can be large, and WITHOUT ROWID suits small rows only.
    (
        """
        CREATE TABLE pull_requests (
            id            INTEGER PRIMARY KEY,
            automation    TEXT NOT NULL,
            head          TEXT NOT NULL,
            provider      TEXT NOT NULL,
            number        INTEGER NOT NULL,
            url           TEXT NOT NULL,
            state         TEXT NOT NULL CHECK (state IN ('open', 'closed', 'merged')),
            base          TEXT NOT NULL,
            pushed_sha    TEXT,
            changes       TEXT NOT NULL,
            opened_at     TEXT NOT NULL,
            updated_at    TEXT NOT NULL,
            human_sha     TEXT,
            notice_posted INTEGER NOT NULL DEFAULT 0 CHECK (notice_posted IN (0, 1)),
            UNIQUE (automation, head)
        )
        """,
        """
        CREATE TABLE ignored_versions (
            id         INTEGER PRIMARY KEY,
            automation TEXT NOT NULL,
            head       TEXT NOT NULL,
            setter     TEXT NOT NULL,
            value      TEXT NOT NULL,
            number     INTEGER,
            reason     TEXT NOT NULL,
            ignored_at TEXT NOT NULL,
            UNIQUE (automation, head, setter, value)
        )
        """,
        "CREATE INDEX ignored_versions_by_number ON ignored_versions (automation, number)",
        """
        CREATE TABLE pull_requests_opened (
            id         INTEGER PRIMARY KEY,
            automation TEXT NOT NULL,
            number     INTEGER NOT NULL,
            opened_at  TEXT NOT NULL,
            UNIQUE (automation, number)
        )
        """,
        "CREATE INDEX pull_requests_opened_by_time ON pull_requests_opened (automation, opened_at)",
        "CREATE INDEX pull_requests_opened_for_pruning ON pull_requests_opened (opened_at)",
    ),
    # 4: the gates: rollback holds per policy and signature verdicts per (digest, key set).
    (
        """
        CREATE TABLE holds (
            policy           TEXT PRIMARY KEY,
            automation       TEXT NOT NULL,
            setter           TEXT NOT NULL,
            tag              TEXT NOT NULL,
            rolled_back_from TEXT NOT NULL,
            commit_sha       TEXT NOT NULL,
            author           TEXT NOT NULL,
            release          TEXT NOT NULL CHECK (release IN ('untilNewer', 'manual')),
            since            TEXT NOT NULL,
            released_at      TEXT
        )
        """,
        """
        CREATE TABLE signature_verdicts (
            digest     TEXT NOT NULL,
            keys       TEXT NOT NULL,
            valid      INTEGER NOT NULL CHECK (valid IN (0, 1)),
            reason     TEXT NOT NULL,
            checked_at TEXT NOT NULL,
            PRIMARY KEY (digest, keys)
        )
        """,
    ),
    # 5: the event log (pushes, pull requests, holds, failures), newest kept, for the status
    # page and alerts. ``involved`` is the object key, indexed for the per-object page.
    (
        """
        CREATE TABLE events (
            id               INTEGER PRIMARY KEY,
            kind             TEXT NOT NULL,
            severity         TEXT NOT NULL CHECK (severity IN ('info', 'error')),
            object_kind      TEXT NOT NULL,
            object_namespace TEXT NOT NULL,
            object_name      TEXT NOT NULL,
            involved         TEXT NOT NULL,
            message          TEXT NOT NULL,
            metadata         TEXT NOT NULL,
            occurred_at      TEXT NOT NULL
        )
        """,
        "CREATE INDEX events_by_object ON events (involved, id)",
        "CREATE INDEX events_by_kind ON events (kind, id)",
    ),
    # 6: forge answers and their ETags, for conditional requests across processes; bounded
    # per scope (one forge client), the least recently saved dropped first.
    (
        """
        CREATE TABLE forge_responses (
            id       INTEGER PRIMARY KEY,
            scope    TEXT NOT NULL,
            key      TEXT NOT NULL,
            etag     TEXT NOT NULL,
            body     BLOB NOT NULL,
            saved_at TEXT NOT NULL,
            UNIQUE (scope, key)
        )
        """,
        "CREATE INDEX forge_responses_by_age ON forge_responses (scope, saved_at, id)",
    ),
)

LATEST = len(MIGRATIONS)


def schema_version(conn: sqlite3.Connection) -> int:
    row = conn.execute("PRAGMA user_version").fetchone()
    return int(row[0])


def migrate(conn: sqlite3.Connection, *, target: int = LATEST) -> int:
    """Apply the migrations after the database's version up to ``target``; return the version.

    ``conn`` must be in autocommit mode (``isolation_level=None``). A database newer than
    this program is refused rather than guessed at.
    """
    if not 0 <= target <= LATEST:
        raise ValueError(f"no schema version {target} (latest is {LATEST})")
    while True:
        conn.execute("BEGIN IMMEDIATE")
        try:
            version = schema_version(conn)
            if version > LATEST:
                raise StateError(
                    f"state database has schema version {version}, newer than this program "
                    f"supports ({LATEST}); upgrade image-automation"
                )
            if version >= target:
                conn.execute("COMMIT")
                return version
            for statement in MIGRATIONS[version]:
                conn.execute(statement)
            # PRAGMA takes no parameters; the value is our own integer.
            conn.execute(f"PRAGMA user_version = {version + 1}")
            conn.execute("COMMIT")
        except BaseException:
            if conn.in_transaction:
                conn.execute("ROLLBACK")
            raise
