"""Choosing a state backend by URL, and the package's public names."""

from __future__ import annotations

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


async def test_postgresql_is_reserved_with_a_clear_error() -> None:
    with pytest.raises(StateError, match="PostgreSQL state backend is not implemented yet"):
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
    public -= {"Any", "cast", "StateError", "base", "sqlite"}
    assert set(state.__all__) == public
    for name in state.__all__:
        assert hasattr(state, name)
