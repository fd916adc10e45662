"""What git work one pull-request reconcile costs, counted: the daemon's engine in this
process against the fake GitHub and its real bare repository.

The webhook → pull request updated path is measured in ``bench/pull_requests.py``; here the
git commands behind it are counted, so waste found there (a second fetch and checkout, a
local commit of a tree the branch already has, housekeeping after it) cannot come back.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import git
import pytest

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.wiring import RepoEngine, RepoSettings
from tests.e2e.pullrequests.fleet import SECRET, PrFleet, flux_automation

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"
AUTOMATION = "apps/fleet"


@pytest.fixture
def git_commands(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[list[str]]]:
    """Every git command run in this process (its arguments after ``git`` and ``-c``s)."""
    seen: list[list[str]] = []
    real = git.Git.execute

    def recording(self: git.Git, command: Any, *args: Any, **kwargs: Any) -> Any:
        argv = [str(a) for a in command]
        while len(argv) > 1 and argv[1] == "-c":
            del argv[1:3]
        seen.append(argv[1:])
        return real(self, command, *args, **kwargs)

    monkeypatch.setattr(git.Git, "execute", recording)
    yield seen


def _verbs(commands: list[list[str]]) -> list[str]:
    return [c[0] for c in commands]


async def _reconcile(engine: RepoEngine, fleet: PrFleet) -> None:
    await engine.scan(fleet.image())

    async def nothing() -> None:
        return None

    result = await engine.reconcile(AUTOMATION, lambda _config: None, nothing)
    assert result is not None and result.error is None, result


@asynccontextmanager
async def _engine(fleet: PrFleet, tmp_path: Path) -> AsyncIterator[RepoEngine]:
    """The daemon's engine on ``fleet``, its pull request opened for 1.1.0."""
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    settings = RepoSettings(
        repo=fleet.git.url, data_dir=tmp_path / "data", git_secret=SECRET,
        secrets_dir=fleet.root / "secrets",
    )  # fmt: skip
    async with RepoEngine(settings, metrics=Metrics()) as engine:
        await engine.load()
        await _reconcile(engine, fleet)
        assert len(fleet.pulls()) == 1
        yield engine


async def test_an_update_fetches_once_and_checks_out_the_head_without_a_second_fetch(
    github_fleet: PrFleet, tmp_path: Path, git_commands: list[list[str]]
) -> None:
    fleet = github_fleet
    async with _engine(fleet, tmp_path) as engine:
        (pr,) = fleet.pulls()
        fleet.push("1.2.0")
        git_commands.clear()
        await _reconcile(engine, fleet)
    assert "1.2.0" in fleet.fake.pull(pr.number).title and fleet.marked(HEAD) == "1.2.0"
    update = _verbs(git_commands)
    assert update.count("fetch") == 1, git_commands
    assert update.count("checkout") == 2, git_commands  # the base to read, then the head
    assert update.count("commit") == 1 and update.count("push") == 1, git_commands
    assert "diff" not in update, git_commands  # a newer version: the head cannot carry it


async def test_the_commit_log_line_names_the_head_branch_it_was_made_on(
    github_fleet: PrFleet, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    fleet = github_fleet
    async with _engine(fleet, tmp_path) as engine:
        fleet.push("1.2.0")
        caplog.clear()
        with caplog.at_level(logging.INFO, logger="image_automation.git"):
            await _reconcile(engine, fleet)
    committed = [r.getMessage() for r in caplog.records if "committed" in r.getMessage()]
    assert len(committed) == 1 and committed[0].endswith(f" on {HEAD}"), committed


async def test_a_no_op_reconcile_makes_no_commit_and_no_housekeeping(
    github_fleet: PrFleet, tmp_path: Path, git_commands: list[list[str]]
) -> None:
    fleet = github_fleet
    async with _engine(fleet, tmp_path) as engine:
        head = fleet.fake.repo.sha(HEAD)
        git_commands.clear()
        await _reconcile(engine, fleet)  # nothing new: the branch already carries it
        steady = _verbs(git_commands)
    assert "commit" not in steady and "push" not in steady, steady
    assert "maintenance" not in steady, steady  # nothing new in the object store
    assert fleet.fake.repo.sha(HEAD) == head


def test_a_reconcile_once_of_a_recorded_pull_request_fetches_once(
    github_fleet: PrFleet, git_commands: list[list[str]]
) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()  # opens it: its head is recorded
    fleet.push("1.2.0")
    git_commands.clear()

    done = fleet.reconcile()

    assert "updated #" in done.stdout, done.stdout
    assert _verbs(git_commands).count("fetch") == 1, git_commands
    assert fleet.marked(HEAD) == "1.2.0"
