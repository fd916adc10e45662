"""Choosing a state backend by URL, and the package's public names."""

from __future__ import annotations

import subprocess
import sys
from datetime import datetime
from pathlib import Path

import pytest

import image_automation.state as state
from image_automation.domain import TagInfo
from image_automation.errors import StateError
from image_automation.state import default_state_path, open_store
from image_automation.state.sqlite import SqliteStore, path_from_url

T0 = "2026-01-01T00:00:00+00:00"


@pytest.mark.parametrize(
    ("url", "path"),
    [
        ("sqlite:///state.db", Path("state.db")),
        ("sqlite:///dir/state.db", Path("dir/state.db")),
        ("sqlite:////abs/state.db", Path("/abs/state.db")),
        ("sqlite:////abs/with%20space.db", Path("/abs/with space.db")),
    ],
)
def test_sqlite_url_maps_to_a_path(url: str, path: Path) -> None:
    assert path_from_url(url) == path


@pytest.mark.parametrize("url", ["sqlite://host/x.db", "sqlite:///", "file:///x.db"])
def test_malformed_sqlite_url_is_refused(url: str) -> None:
    with pytest.raises(StateError):
        path_from_url(url)


async def test_sqlite_url_and_plain_path_open_the_same_file(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    async with await open_store(f"sqlite:///{path}") as store:
        assert isinstance(store, SqliteStore)
        await store.replace_tags("r/x", [TagInfo("1")], now=datetime.fromisoformat(T0))
    async with await open_store(path) as store:
        assert [t.name for t in await store.tags("r/x")] == ["1"]
    async with await open_store(str(path)) as store:
        assert [t.name for t in await store.tags("r/x")] == ["1"]


async def test_default_location_follows_xdg_state_home(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("XDG_STATE_HOME", str(tmp_path / "xdg"))
    assert default_state_path() == tmp_path / "xdg" / "image-automation" / "state.db"
    async with await open_store() as store:
        assert isinstance(store, SqliteStore)
    assert default_state_path().is_file()


@pytest.mark.parametrize("scheme", ["postgresql", "postgres", "POSTGRESQL"])
def test_both_postgres_schemes_name_the_postgres_store(scheme: str) -> None:
    assert state.BACKENDS[scheme.lower()] == "image_automation.state.postgres:PostgresStore"


def test_opening_sqlite_never_imports_psycopg(tmp_path: Path) -> None:
    script = (
        "import asyncio, sys\n"
        "from image_automation.state import open_store\n"
        "async def main():\n"
        "    async with await open_store(sys.argv[1]):\n"
        "        pass\n"
        "asyncio.run(main())\n"
        "prefixes = ('psycopg', 'image_automation.state.')\n"
        "print(' '.join(sorted(m for m in sys.modules if m.startswith(prefixes))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", script, str(tmp_path / "s.db")],
        capture_output=True,
        text=True,
        check=True,
    )
    loaded = done.stdout.split()
    assert "image_automation.state.sqlite" in loaded  # the check sees what was imported
    assert [m for m in loaded if "psycopg" in m or "postgres" in m] == []


async def test_postgres_url_without_psycopg_says_which_extra_to_install(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delitem(sys.modules, "image_automation.state.postgres", raising=False)
    monkeypatch.setitem(sys.modules, "psycopg", None)  # what an install without it looks like
    with pytest.raises(StateError, match=r"needs psycopg.*image-automation\[postgres\]"):
        await open_store("postgresql://user@db/state")


async def test_unknown_scheme_names_the_known_ones() -> None:
    with pytest.raises(StateError, match=r"unknown state store scheme 'redis'.*sqlite://"):
        await open_store("redis://localhost/0")


def test_backend_table_points_at_importable_classes() -> None:
    for target in state.BACKENDS.values():
        module, _, attr = target.partition(":")
        assert hasattr(__import__(module, fromlist=[attr]), attr)


def test_all_lists_exactly_the_public_names() -> None:
    public = {
        name
        for name in vars(state)
        if not name.startswith("_") and name not in {"annotations", "importlib", "os", "Path"}
    }
    public -= {"Any", "cast", "StateError", "base", "sqlite", "postgres", "leases"}  # submodules
    assert set(state.__all__) == public
    for name in state.__all__:
        assert hasattr(state, name)
