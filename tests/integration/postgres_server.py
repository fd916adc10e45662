"""A throwaway PostgreSQL server for the tests: initdb into a temp dir, pg_ctl on 127.0.0.1.

The superuser ``postgres`` has a random password (a known secret of the leak check) and TCP
connections must give it (scram-sha-256), so every test that connects carries a password in
its URL, and every error path it reaches is scanned for it. Test databases are made with an
ICU ``en-US`` default collation on purpose: ``a`` sorts before ``B`` there, so a query that
forgot the store's code-point order (``COLLATE "C"``) shows up.

A server that does not start raises :class:`FixtureError` with its log: never a skip.
"""

from __future__ import annotations

import contextlib
import glob
import itertools
import os
import secrets
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path
from urllib.parse import quote

import psycopg

from tests.integration.fixture_base import SECRETS, FixtureError, free_port, scratch_dir

SUPERUSER = "postgres"
# Characters that need percent-encoding in a URL: the store must decode them.
PG_PASSWORD = "pg:pw/" + secrets.token_hex(8) + "@#?"
SECRETS.add(PG_PASSWORD)
SECRETS.add(quote(PG_PASSWORD, safe=""))


def bin_dir() -> Path:
    """The directory of initdb/pg_ctl: on PATH, else Debian's newest /usr/lib/postgresql/N/bin."""
    found = shutil.which("initdb")
    if found:
        return Path(os.path.realpath(found)).parent
    candidates = sorted(
        glob.glob("/usr/lib/postgresql/*/bin/initdb"),
        key=lambda p: int(Path(p).parent.parent.name),
    )
    if not candidates:
        raise FixtureError(
            "PostgreSQL is not installed (no initdb on PATH or in /usr/lib/postgresql/*/bin): "
            "run .ci/system-deps"
        )
    return Path(candidates[-1]).parent


@dataclass
class PostgresServer:
    root: Path
    port: int
    bin: Path
    host: str = "127.0.0.1"
    _names: itertools.count[int] = field(default_factory=itertools.count)

    @property
    def data(self) -> Path:
        return self.root / "data"

    def url(self, dbname: str, *, password: str = PG_PASSWORD, query: str = "") -> str:
        """``postgresql://postgres:PASSWORD@127.0.0.1:PORT/DBNAME`` (password encoded)."""
        auth = f"{SUPERUSER}:{quote(password, safe='')}"
        tail = f"?{query}" if query else ""
        return f"postgresql://{auth}@{self.host}:{self.port}/{dbname}{tail}"

    def conninfo(self, dbname: str = "postgres") -> str:
        return psycopg.conninfo.make_conninfo(
            host=self.host, port=self.port, user=SUPERUSER, password=PG_PASSWORD, dbname=dbname
        )

    def sql(self, statement: str, *, dbname: str = "postgres") -> list[tuple[object, ...]]:
        """Run one statement as the superuser (autocommit); its rows, if any."""
        with psycopg.connect(self.conninfo(dbname), autocommit=True) as conn:
            cur = conn.execute(statement.encode())
            return list(cur.fetchall()) if cur.description else []

    def create_database(self) -> str:
        """A new empty database with a linguistic default collation; its name."""
        name = f"t_{os.getpid()}_{next(self._names)}"
        self.sql(
            f"CREATE DATABASE {name} TEMPLATE template0 ENCODING 'UTF8'"
            " LOCALE_PROVIDER icu ICU_LOCALE 'en-US' LOCALE 'C.UTF-8'"
        )
        return name

    def drop_database(self, name: str) -> None:
        self.sql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def stop(self) -> None:
        with contextlib.suppress(OSError, subprocess.SubprocessError):
            _run(self.bin, "pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        shutil.rmtree(self.root, ignore_errors=True)


def _as_owner() -> list[str]:
    """initdb and postgres refuse to run as root: run them as the ``postgres`` user then."""
    if os.geteuid() != 0:
        return []
    if shutil.which("runuser") is None:
        raise FixtureError("running as root needs runuser (util-linux) to start PostgreSQL")
    return ["runuser", "-u", SUPERUSER, "--"]


def _run(bin_path: Path, tool: str, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*_as_owner(), str(bin_path / tool), *args],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def start_postgres() -> PostgresServer:
    """initdb + pg_ctl start; raises FixtureError with the server's log if it cannot."""
    binaries = bin_dir()
    root = scratch_dir("ia-postgres-")
    os.chmod(root, 0o755)
    if os.geteuid() == 0:
        shutil.chown(root, user=SUPERUSER)
    pwfile = root / "pwfile"
    pwfile.write_text(PG_PASSWORD + "\n")
    if os.geteuid() == 0:
        shutil.chown(pwfile, user=SUPERUSER)
    done = _run(
        binaries, "initdb", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8", "-U", SUPERUSER,
        f"--pwfile={pwfile}", "--auth-local=trust", "--auth-host=scram-sha-256",
        "-D", str(root / "data"),
    )  # fmt: skip
    pwfile.unlink()
    if done.returncode != 0:
        shutil.rmtree(root, ignore_errors=True)
        raise FixtureError(f"initdb failed ({done.returncode}): {done.stderr[-2000:]}")
    for _ in range(3):  # another process may take the free port before the server binds it
        server = PostgresServer(root=root, port=free_port(), bin=binaries)
        options = (
            f"-k {server.data} -h {server.host} -p {server.port} -F -c max_connections=300"
            " -c fsync=off -c full_page_writes=off"
        )
        log = root / "server.log"
        started = _run(
            binaries, "pg_ctl", "-w", "-t", "60", "-D", str(server.data), "-l", str(log),
            "-o", options, "start",
        )  # fmt: skip
        if started.returncode == 0:
            return server
    text = log.read_text(errors="replace")[-3000:] if log.exists() else started.stderr
    shutil.rmtree(root, ignore_errors=True)
    raise FixtureError(f"PostgreSQL did not start: {started.stdout}{started.stderr}\n{text}")
