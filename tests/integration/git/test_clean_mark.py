"""The clean mark: a run after a clean finish skips the repair; anything else repairs in full.

Which git commands ran is read from the adapter's debug log ("git <args>").
"""

from __future__ import annotations

import logging
from pathlib import Path

import pytest

from image_automation.domain import UpdateResult
from image_automation.errors import ImageAutomationError
from image_automation.git import CommitSettings, PushSettings, RepoSpec, Workspace
from image_automation.git._mark import MARK
from image_automation.git.workspace import cache_key
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import GitRemote, run_git

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")
LOGGER = "image_automation.git._checkout"
REPAIR = ("config", "reset", "clean")


def _git_commands(caplog: pytest.LogCaptureFixture) -> list[str]:
    """The git subcommands logged since the last ``caplog.clear()``, in order."""
    found = [r.getMessage() for r in caplog.records if r.name == LOGGER]
    return [m.split()[1] for m in found if m.startswith("git ")]


def _checkout(spec: RepoSpec, work_dir: Path) -> Path:
    return work_dir / cache_key(spec.url, spec.branch)


async def _publish(spec: RepoSpec, work_dir: Path, tag: str) -> str | None:
    async with Workspace.open(spec, work_dir=work_dir) as ws:
        outcome = await ws.publish(bump_to(tag), commit=AUTHOR, push=PushSettings())
    return outcome.commit


async def test_run_after_a_clean_finish_skips_checks_reset_and_clean(
    git_remote: GitRemote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    spec = RepoSpec(url=git_remote.url)
    first = await _publish(spec, tmp_path, "1.1.0")
    assert (_checkout(spec, tmp_path) / ".git" / MARK).is_file()
    caplog.clear()

    second = await _publish(spec, tmp_path, "1.2.0")

    # The remote did not move since our push: the checkout is already there. Housekeeping
    # (gc --auto) runs once, after the push.
    assert _git_commands(caplog) == ["fetch", "status", "commit", "push", "maintenance"]
    assert [c.sha for c in git_remote.commits()][:2] == [second, first]
    assert "app:1.2.0" in git_remote.read(APP_FILE)
    caplog.clear()

    # Nothing to change and nothing fetched: no commit, and no objects for gc to look at.
    assert await _publish(spec, tmp_path, "1.2.0") is None
    assert _git_commands(caplog) == ["fetch", "status"]


async def test_fast_path_checks_out_a_remote_that_moved(
    git_remote: GitRemote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    spec = RepoSpec(url=git_remote.url)
    await _publish(spec, tmp_path, "1.1.0")
    other = git_remote.commit_files({"README.md": "edited by a human\n"}, "Human edit")
    caplog.clear()

    ours = await _publish(spec, tmp_path, "1.2.0")

    assert _git_commands(caplog) == ["fetch", "checkout", "status", "commit", "push", "maintenance"]
    commits = git_remote.commits()
    assert [c.sha for c in commits][:2] == [ours, other]
    assert commits[0].parents == (other,)
    assert git_remote.read("README.md") == "edited by a human\n"


async def test_mark_is_taken_on_open_so_a_run_that_dies_leaves_none(
    git_remote: GitRemote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    spec = RepoSpec(url=git_remote.url)
    await _publish(spec, tmp_path, "1.1.0")
    checkout = _checkout(spec, tmp_path)
    bump = bump_to("1.2.0")

    async def half_an_edit_then_crash(root: Path) -> UpdateResult:
        await bump(root)
        (root / "README.md").write_text("half an edit\n")
        (root / "deploy" / "new.yaml").write_text("untracked: junk\n")
        raise RuntimeError("killed")

    with pytest.raises(RuntimeError, match="killed"):
        async with Workspace.open(spec, work_dir=tmp_path) as ws:
            assert not (checkout / ".git" / MARK).exists()
            await ws.publish(half_an_edit_then_crash, commit=AUTHOR, push=PushSettings())
    assert not (checkout / ".git" / MARK).exists()
    caplog.clear()

    ours = await _publish(spec, tmp_path, "1.3.0")

    assert set(REPAIR) <= set(_git_commands(caplog))
    assert git_remote.read("README.md") == "fixture repository\n"
    assert "app:1.3.0" in git_remote.read(APP_FILE)
    assert git_remote.commits()[0].sha == ours
    assert not (checkout / "deploy" / "new.yaml").exists()
    assert run_git("status", "--porcelain", "--ignored", cwd=checkout) == ""


async def test_ignored_file_left_by_apply_means_no_mark_and_a_full_clean(
    git_remote: GitRemote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    spec = RepoSpec(url=git_remote.url)
    await _publish(spec, tmp_path, "1.1.0")
    checkout = _checkout(spec, tmp_path)
    (checkout / ".git" / "info").mkdir(exist_ok=True)
    (checkout / ".git" / "info" / "exclude").write_text("*.tmp\n")
    bump = bump_to("1.2.0")

    async def bump_and_leave_a_temp_file(root: Path) -> UpdateResult:
        (root / "deploy" / "scratch.tmp").write_text("ignored junk\n")
        return await bump(root)

    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        await ws.publish(bump_and_leave_a_temp_file, commit=AUTHOR, push=PushSettings())
    assert not (checkout / ".git" / MARK).exists()
    caplog.clear()

    await _publish(spec, tmp_path, "1.3.0")

    assert "clean" in _git_commands(caplog)
    assert not (checkout / "deploy" / "scratch.tmp").exists()
    assert (checkout / ".git" / MARK).is_file()


async def test_mark_written_for_other_settings_is_not_trusted(
    git_remote: GitRemote, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger=LOGGER)
    spec = RepoSpec(url=git_remote.url)
    await _publish(spec, tmp_path, "1.1.0")
    checkout = _checkout(spec, tmp_path)
    mark = checkout / ".git" / MARK
    mark.write_text(mark.read_text().replace(git_remote.url, "file:///elsewhere.git"))
    (checkout / "untracked.txt").write_text("junk\n")
    caplog.clear()

    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        await ws.prepare()

    assert set(REPAIR) <= set(_git_commands(caplog))
    assert not (checkout / "untracked.txt").exists()


async def test_a_commit_that_fails_leaves_no_mark(
    git_remote: GitRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = RepoSpec(url=git_remote.url)
    await _publish(spec, tmp_path, "1.1.0")
    checkout = _checkout(spec, tmp_path)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        await ws.prepare()
        result = await bump_to("1.2.0")(ws.path)
        (ws.path / "untracked.txt").write_text("junk\n")
        monkeypatch.setenv("GIT_INDEX_FILE", str(tmp_path / "no-such-dir" / "index"))
        with pytest.raises(ImageAutomationError):
            await ws.commit(result, AUTHOR)
        monkeypatch.delenv("GIT_INDEX_FILE")
    assert not (checkout / ".git" / MARK).exists()
