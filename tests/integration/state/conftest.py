"""The StateStore contract suite runs every test once per backend: SQLite and PostgreSQL.

``backend`` is a :class:`Backend`: the URL of a fresh, empty store (a file in the test's temp
dir, or a new database on the session's PostgreSQL server, with the password in the URL),
``open()`` for another store on it (concurrent writers), the schema version it reached and
a deep consistency check. ``store`` is a store opened on it through ``open_store``, the way
the CLI opens one. Tests here use the protocol only, so they hold for any backend; what only
one backend has (SQLite's WAL file, its EXPLAIN plans) is tested in ``tests/unit/state``.
"""

from __future__ import annotations

import sqlite3
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from image_automation.state import StateStore, open_store
from image_automation.state import _postgres_schema as pg_schema
from image_automation.state import _sqlite_schema as sqlite_schema
from tests.integration.postgres_server import PostgresServer


@dataclass
class Backend:
    """A fresh store location of one backend."""

    name: str
    url: str
    latest: int
    path: Path | None = None
    server: PostgresServer | None = None
    dbname: str = ""

    async def open(self) -> StateStore:
        return await open_store(self.url)

    def schema_version(self) -> int:
        if self.path is not None:
            conn = sqlite3.connect(self.path)
            try:
                return int(conn.execute("PRAGMA user_version").fetchone()[0])
            finally:
                conn.close()
        assert self.server is not None
        [(version,)] = self.server.sql(
            "SELECT max(version) FROM schema_migrations", dbname=self.dbname
        )
        return int(str(version))

    def integrity_problems(self) -> list[str]:
        """What the backend's own checker finds wrong with the store: [] when sound."""
        if self.path is not None:
            conn = sqlite3.connect(self.path)
            try:
                rows = conn.execute("PRAGMA integrity_check").fetchall()
            finally:
                conn.close()
            return [str(row[0]) for row in rows if row[0] != "ok"]
        assert self.server is not None
        # amcheck verifies every B-tree index (unique ones too) against its table.
        self.server.sql("CREATE EXTENSION IF NOT EXISTS amcheck", dbname=self.dbname)
        rows = self.server.sql(
            "SELECT c.relname FROM pg_index i JOIN pg_class c ON c.oid = i.indexrelid"
            " JOIN pg_am a ON a.oid = c.relam JOIN pg_namespace n ON n.oid = c.relnamespace"
            " WHERE a.amname = 'btree' AND n.nspname = 'public'",
            dbname=self.dbname,
        )
        assert rows, "no index to check"
        for (index,) in rows:
            self.server.sql(f"SELECT bt_index_check('{index}', true)", dbname=self.dbname)
        return []


@pytest.fixture(params=["sqlite", "postgresql"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> Backend:
    if request.param == "sqlite":
        path = tmp_path / "state.db"
        return Backend("sqlite", f"sqlite:///{path}", sqlite_schema.LATEST, path=path)
    server: PostgresServer = request.getfixturevalue("postgres_server")
    dbname: str = request.getfixturevalue("postgres_database")
    url = server.url(dbname)
    return Backend("postgresql", url, pg_schema.LATEST, server=server, dbname=dbname)


@pytest.fixture
async def store(backend: Backend) -> AsyncIterator[StateStore]:
    async with await backend.open() as opened:
        yield opened
