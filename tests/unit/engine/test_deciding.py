"""Policies select from the stored tags; decisions are stored with their reasons."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import TagInfo
from image_automation.engine.deciding import decide_from_state
from image_automation.state.sqlite import SqliteStore

T0 = datetime(2026, 6, 1, tzinfo=UTC)

DOCS = b"""
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: web, namespace: apps}
spec:
  image: ghcr.io/o/web
  select: {semver: {range: ">=1.0.0"}}
  minAge: 1h
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: api, namespace: apps}
spec:
  image: ghcr.io/o/api
  select: {semver: {range: ">=9.0.0"}}
---
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: never, namespace: apps}
spec:
  image: ghcr.io/o/never
  select: {alphabetical: {}}
"""


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state.db") as opened:
        yield opened


def policies() -> list[ResolvedPolicy]:
    resolved = resolve(load_bytes(DOCS, file="p.yaml"))
    assert resolved.errors == []
    return resolved.policies


async def test_decisions_come_from_stored_tags_and_are_stored(store: SqliteStore) -> None:
    # 1.1.0 was first seen 30 minutes before `now`: younger than minAge, so 1.0.0 wins.
    await store.replace_tags("ghcr.io/o/web", [TagInfo("1.0.0")], now=T0)
    await store.replace_tags(
        "ghcr.io/o/web", [TagInfo("1.0.0"), TagInfo("1.1.0")], now=T0 + timedelta(minutes=90)
    )
    await store.replace_tags("ghcr.io/o/api", [TagInfo("1.0.0")], now=T0)
    now = T0 + timedelta(minutes=120)
    decisions = await decide_from_state(store, policies(), now=now)

    assert decisions["apps/web"].tag == "1.0.0"
    assert decisions["apps/web"].why("1.1.0") is not None
    assert decisions["apps/api"].tag is None
    assert decisions["apps/api"].reasons
    assert "apps/never" not in decisions  # never scanned: no decision at all
    stored = {d.policy: d for d in await store.decisions()}
    assert sorted(stored) == ["apps/api", "apps/web"]
    assert stored["apps/web"].decision == decisions["apps/web"]
    assert (stored["apps/web"].repository, stored["apps/web"].decided_at) == ("ghcr.io/o/web", now)


async def test_failed_rescan_still_decides_from_the_last_good_tags(store: SqliteStore) -> None:
    await store.replace_tags("ghcr.io/o/api", [TagInfo("9.0.0"), TagInfo("9.1.0")], now=T0)
    await store.record_failure("ghcr.io/o/api", "503", now=T0 + timedelta(hours=1))
    decisions = await decide_from_state(store, policies(), now=T0 + timedelta(hours=2))
    assert decisions["apps/api"].tag == "9.1.0"
