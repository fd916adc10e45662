"""Rollback awareness against a real bare remote: we push, a human rolls back, we hold."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from image_automation.cli._hold import hold_group
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import TagInfo
from image_automation.engine.automations import RepoTarget
from image_automation.engine.gates import is_rolled_back_from
from image_automation.engine.reconcile import FoundTags, ReconcileRequest, reconcile_once
from image_automation.state import open_store
from tests.integration.git_fixtures import GitRemote, make_remote

NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
LINE = 'image: registry.local/app:{} # {{"$imagepolicy": "apps:app"}}\n'


def policies(release: str = "untilNewer") -> str:
    return f"""\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: app, namespace: apps}}
spec:
  image: registry.local/app
  select: {{semver: {{range: ">=1.0.0"}}}}
  rollback: {{release: {release}}}
---
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: auto, namespace: apps}}
spec:
  commit: {{author: {{name: bot, email: bot@example.test}}}}
  update: {{path: deploy}}
"""


class Tags:
    def __init__(self, *names: str) -> None:
        self.names = list(names)

    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags:
        return FoundTags(tags={"registry.local/app": [TagInfo(n) for n in self.names]})


async def run(remote: GitRemote, tmp_path: Path, tags: Tags) -> object:
    request = ReconcileRequest(
        work_dir=tmp_path / "work", repo=RepoTarget(url=remote.url, branch="main")
    )
    async with await open_store(tmp_path / "state.db") as store:  # reopened: a restart
        report = await reconcile_once(request, tags=tags, store=store, clock=lambda: NOW)
    assert report.ok, report
    (outcome,) = report.automations
    return outcome


def value(remote: GitRemote) -> str:
    return remote.read("deploy/app.yaml").split(":")[2].split(" ")[0]


def human_sets(remote: GitRemote, version: str) -> str:
    return remote.commit_files({"deploy/app.yaml": LINE.format(version)}, "Revert to a good one")


def setup(tmp_path: Path, release: str = "untilNewer") -> GitRemote:
    files = {"deploy/app.yaml": LINE.format("1.1.0"), "policies.yaml": policies(release)}
    return make_remote(tmp_path / "remote.git", files)


async def test_a_human_rollback_is_held_until_a_newer_release(tmp_path: Path) -> None:
    remote = setup(tmp_path)
    tags = Tags("1.1.0", "1.2.0")
    first = await run(remote, tmp_path, tags)
    assert first.commit is not None and value(remote) == "1.2.0"  # type: ignore[attr-defined]
    assert "Image-Automation: apps/auto" in remote.commits()[0].body
    rollback = human_sets(remote, "1.1.0")
    for _ in range(2):  # and again after a restart: the hold is in the store
        again = await run(remote, tmp_path, tags)
        assert again.commit is None and value(remote) == "1.1.0"  # type: ignore[attr-defined]
        reason = again.held["apps/app"]  # type: ignore[attr-defined]
        assert reason.startswith("held at 1.1.0: rolled back from 1.2.0 by Someone Else")
        assert rollback[:12] in reason
        decision = again.decisions["apps/app"]  # type: ignore[attr-defined]
        assert decision.tag == "1.1.0" and decision.hold.commit == rollback
        assert decision.lost["1.2.0"].startswith("held back: held at 1.1.0")
    async with await open_store(tmp_path / "state.db") as store:
        assert await is_rolled_back_from(store, "apps/app", "1.2.0")
        assert not await is_rolled_back_from(store, "apps/app", "1.1.0")
        assert (await store.decision("apps/app")).decision.hold is not None  # type: ignore[union-attr]
    tags.names.append("1.2.1")
    moved = await run(remote, tmp_path, tags)
    assert moved.commit is not None and value(remote) == "1.2.1"  # type: ignore[attr-defined]
    assert moved.held == {}  # type: ignore[attr-defined]
    async with await open_store(tmp_path / "state.db") as store:
        hold = await store.hold("apps/app")
        assert hold is not None and not hold.active


async def test_a_manual_hold_waits_for_the_cli(tmp_path: Path) -> None:
    remote = setup(tmp_path, release="manual")
    tags = Tags("1.1.0", "1.2.0")
    await run(remote, tmp_path, tags)
    human_sets(remote, "1.1.0")
    tags.names.append("1.2.1")
    held = await run(remote, tmp_path, tags)
    assert held.commit is None and value(remote) == "1.1.0"  # type: ignore[attr-defined]
    state = str(tmp_path / "state.db")
    listed = await asyncio.to_thread(CliRunner().invoke, hold_group, ["list", "--state", state])
    assert listed.exit_code == 0 and listed.stdout.startswith("apps/app: held at 1.1.0")
    released = await asyncio.to_thread(
        CliRunner().invoke, hold_group, ["release", "apps:app", "--state", state]
    )
    assert released.exit_code == 0, released.output
    again = await asyncio.to_thread(
        CliRunner().invoke, hold_group, ["release", "apps:app", "--state", state]
    )
    assert again.exit_code == 3
    moved = await run(remote, tmp_path, tags)
    assert moved.commit is not None and value(remote) == "1.2.1"  # type: ignore[attr-defined]


async def test_a_human_upgrade_is_not_a_rollback(tmp_path: Path) -> None:
    remote = setup(tmp_path)
    tags = Tags("1.1.0", "1.2.0")
    await run(remote, tmp_path, tags)
    human_sets(remote, "1.3.0")
    tags.names.append("1.3.0")
    outcome = await run(remote, tmp_path, tags)
    assert outcome.held == {} and value(remote) == "1.3.0"  # type: ignore[attr-defined]
    async with await open_store(tmp_path / "state.db") as store:
        assert await store.hold("apps/app") is None


async def test_our_own_older_commit_is_not_a_rollback(tmp_path: Path) -> None:
    remote = setup(tmp_path)
    tags = Tags("1.1.0", "1.2.0")
    await run(remote, tmp_path, tags)
    remote.commit_files({"README": "docs\n"}, "unrelated")  # a human commit elsewhere
    outcome = await run(remote, tmp_path, tags)
    assert outcome.held == {} and outcome.commit is None  # type: ignore[attr-defined]


def test_hold_release_refuses_a_hostile_name(tmp_path: Path) -> None:
    for bad in ["nocolon", "a:b:c/d", ":x", "x" * 1000 + ":y"]:
        result = CliRunner().invoke(hold_group, ["release", bad, "--state", str(tmp_path / "s.db")])
        assert result.exit_code == 2, (bad, result.output)


ANNOTATION = "image-automation.io/hold"


async def test_a_hold_shows_as_an_annotation_and_deleting_it_releases_the_hold(
    tmp_path: Path,
) -> None:
    remote = setup(tmp_path, release="manual")
    tags = Tags("1.1.0", "1.2.0")
    await run(remote, tmp_path, tags)
    rollback = human_sets(remote, "1.1.0")
    held = await run(remote, tmp_path, tags)
    assert value(remote) == "1.1.0"
    assert held.annotation_commit is not None  # type: ignore[attr-defined]
    text = remote.read("policies.yaml")
    expected = f'{ANNOTATION}: "1.1.0 (rolled back from 1.2.0 in {rollback[:12]}); delete this'
    assert expected in text
    assert "Image-Automation: apps/auto" in remote.commits()[0].body
    assert remote.read("deploy/app.yaml") == LINE.format("1.1.0")  # only the annotation moved
    count = len(remote.commits())
    steady = await run(remote, tmp_path, tags)  # in sync: no second annotation commit
    assert steady.annotation_commit is None and len(remote.commits()) == count  # type: ignore[attr-defined]
    remote.commit_files({"policies.yaml": policies("manual")}, "Release the hold")
    moved = await run(remote, tmp_path, tags)
    assert moved.commit is not None and value(remote) == "1.2.0"  # type: ignore[attr-defined]
    async with await open_store(tmp_path / "state.db") as store:
        hold = await store.hold("apps/app")
        assert hold is not None and not hold.active
    assert ANNOTATION not in remote.read("policies.yaml")


async def test_a_hold_released_by_a_newer_version_loses_its_annotation(tmp_path: Path) -> None:
    remote = setup(tmp_path)
    tags = Tags("1.1.0", "1.2.0")
    await run(remote, tmp_path, tags)
    human_sets(remote, "1.1.0")
    await run(remote, tmp_path, tags)
    assert ANNOTATION in remote.read("policies.yaml")
    tags.names.append("1.2.1")
    moved = await run(remote, tmp_path, tags)
    assert value(remote) == "1.2.1" and moved.annotation_commit is not None  # type: ignore[attr-defined]
    assert remote.read("policies.yaml") == policies()  # byte for byte as the human wrote it
