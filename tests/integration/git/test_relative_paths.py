"""A work dir or a local remote given relative to the current directory works like an absolute one.

Git runs some steps in another directory (the clone runs beside its target): a relative path
must never be read from there.
"""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from image_automation.errors import GitError
from image_automation.git import CommitSettings, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import GitRemote

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")
FAST = PushSettings(backoff=0.01)


@pytest.mark.parametrize("work_dir", ["wd", "./wd", "nested/../wd", "deep/er/wd"])
async def test_a_relative_work_dir_clones_commits_and_is_reused(
    git_remote: GitRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, work_dir: str
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = RepoSpec(url=git_remote.url)
    async with Workspace.open(spec, work_dir=Path(work_dir)) as ws:
        assert ws.path.is_absolute()
        first = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=FAST)
    assert first.commit == git_remote.head()
    clones = [p for p in (tmp_path / os.path.normpath(work_dir)).iterdir() if p.is_dir()]
    assert len(clones) == 1, clones  # not data/git/data/git/... nor a stray temp clone
    async with Workspace.open(spec, work_dir=Path(work_dir)) as ws:
        second = await ws.publish(bump_to("1.2.0"), commit=AUTHOR, push=FAST)
    assert second.commit == git_remote.head()
    assert "registry.local/app:1.2.0" in git_remote.read(APP_FILE)


async def test_a_relative_local_remote_path_means_the_current_directory(
    git_remote: GitRemote, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    spec = RepoSpec(url=os.path.relpath(git_remote.path, tmp_path))
    async with Workspace.open(spec, work_dir=Path("wd")) as ws:
        first = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=FAST)
    async with Workspace.open(spec, work_dir=Path("wd")) as ws:
        assert ws._checkout.pristine  # the clone was reused, not made again
        second = await ws.publish(bump_to("1.2.0"), commit=AUTHOR, push=FAST)
    assert (first.commit, second.commit) != (None, None)
    assert second.commit == git_remote.head()


async def test_a_work_dir_that_cannot_be_used_is_a_git_error_not_an_os_error(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    blocker = tmp_path / "file-not-dir"
    blocker.write_text("x")
    with pytest.raises(GitError, match="file-not-dir"):
        async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=blocker / "wd"):
            pass
