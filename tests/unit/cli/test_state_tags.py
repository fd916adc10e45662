"""``policy select --state``: reading scanned tags synchronously from a state file."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime
from pathlib import Path

import pytest

from image_automation.cli._state_tags import read_scanned_tags
from image_automation.domain import TagInfo
from image_automation.errors import StateError
from image_automation.state.sqlite import SqliteStore

T0 = datetime(2026, 5, 1, tzinfo=UTC)


def write(path: Path) -> None:
    async def go() -> None:
        async with await SqliteStore.open(path) as store:
            tags = [TagInfo("1.25.0", digest="sha256:aa", created=T0), TagInfo("1.26.0")]
            await store.replace_tags("docker.io/library/nginx", tags, now=T0)

    asyncio.run(go())


def test_scanned_tags_are_read_with_their_metadata(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    write(path)
    tags = read_scanned_tags(path, "nginx")
    assert tags == [
        TagInfo("1.25.0", digest="sha256:aa", created=T0, first_seen=T0),
        TagInfo("1.26.0", first_seen=T0),
    ]
    assert read_scanned_tags(f"sqlite:///{path}", "docker.io/library/nginx:1.25.0") == tags


def test_unscanned_image_is_a_state_error(tmp_path: Path) -> None:
    path = tmp_path / "state.db"
    write(path)
    with pytest.raises(StateError, match=r"no successful scan of ghcr\.io/o/app"):
        read_scanned_tags(path, "ghcr.io/o/app")
