"""Pull-request head branches against real remotes: re-created from base, pushed with a lease,
recognised as carrying our change, attributed to their committers, deleted only if unmoved."""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import pytest

from image_automation.errors import ConfigError, GitConflict
from image_automation.git import CommitSettings, GitAuth, RepoSpec, Workspace
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import GitRemote, HttpGitServer

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")
HEAD = "image-automation/app"


@asynccontextmanager
async def _workspace(remote: GitRemote, work: Path) -> AsyncIterator[Workspace]:
    async with Workspace.open(RepoSpec(url=remote.url), work_dir=work) as ws:
        yield ws


async def _push_bump(ws: Workspace, tag: str) -> str:
    heads = await ws.prepare_branch(HEAD)
    _, sha = await ws.edit(bump_to(tag), AUTHOR)
    assert sha is not None
    await ws.force_push(HEAD)
    assert heads.base != sha
    return sha


async def test_a_missing_branch_is_created_from_the_base_and_seen_by_ls_remote(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        heads = await ws.prepare_branch(HEAD)
        assert heads.head is None and heads.base == git_remote.head()
        assert await ws.remote_heads([HEAD, "main"]) == {HEAD: None, "main": heads.base}
        sha = await _push_bump(ws, "1.1.0")
        assert await ws.remote_heads([HEAD]) == {HEAD: sha}
    assert git_remote.head(HEAD) == sha
    assert git_remote.commits(HEAD)[1].sha == heads.base
    assert git_remote.head() == heads.base  # the base branch is never written


async def test_the_branch_is_recreated_on_a_moved_base_and_force_pushed(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        first = await _push_bump(ws, "1.1.0")
        moved = git_remote.commit_files({"README.md": "base moved\n"}, "base moves on")
        heads = await ws.prepare_branch(HEAD)
        assert (heads.base, heads.head) == (moved, first)
        assert not await ws.carries(head=first, base=moved)  # our commit sits on the old base
        _, second = await ws.edit(bump_to("1.1.0"), AUTHOR)
        await ws.force_push(HEAD)
    assert git_remote.head(HEAD) == second
    assert [c.sha for c in git_remote.commits(HEAD)][:2] == [second, moved]


async def test_a_branch_holding_our_change_on_the_current_base_is_recognised(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        pushed = await _push_bump(ws, "1.1.0")
        heads = await ws.prepare_branch(HEAD)
        await ws.edit(bump_to("1.1.0"), AUTHOR)
        assert await ws.carries(head=pushed, base=heads.base)
        heads = await ws.prepare_branch(HEAD)
        await ws.edit(bump_to("1.2.0"), AUTHOR)  # a newer version: a different tree
        assert not await ws.carries(head=pushed, base=heads.base)


async def test_committers_name_who_added_each_commit_over_the_base(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        await _push_bump(ws, "1.1.0")
        git_remote.commit_files({"NOTES.md": "mine\n"}, "a human fix", branch=HEAD)
        heads = await ws.prepare_branch(HEAD)
        assert heads.head is not None
        found = await ws.committers(base=heads.base, head=heads.head)
    assert found == ("else@example.test", "bot@example.test")


async def test_a_push_loses_against_a_commit_made_after_we_looked(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        await _push_bump(ws, "1.1.0")
        await ws.prepare_branch(HEAD)
        await ws.edit(bump_to("1.2.0"), AUTHOR)
        theirs = git_remote.commit_files({"NOTES.md": "mine\n"}, "a human fix", branch=HEAD)
        with pytest.raises(GitConflict):
            await ws.force_push(HEAD)
    assert git_remote.head(HEAD) == theirs


async def test_deleting_a_branch_needs_it_unmoved_and_a_gone_branch_is_fine(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        ours = await _push_bump(ws, "1.1.0")
        theirs = git_remote.commit_files({"NOTES.md": "mine\n"}, "a human fix", branch=HEAD)
        assert await ws.delete_branch(HEAD, expect=ours) is False
        assert git_remote.head(HEAD) == theirs  # their commit survives
        assert await ws.delete_branch(HEAD, expect=theirs) is True
        assert not git_remote.has_branch(HEAD)
        assert await ws.delete_branch(HEAD, expect=theirs) is True  # already gone


@pytest.mark.parametrize("name", ["-rf", "a..b", "x y", "refs/heads/x\n", "a" * 300 + ".lock"])
async def test_hostile_branch_names_are_refused_before_git_runs(
    git_remote: GitRemote, tmp_path: Path, name: str
) -> None:
    async with _workspace(git_remote, tmp_path) as ws:
        with pytest.raises(ConfigError, match="not a valid branch name"):
            await ws.delete_branch(name, expect="")
        with pytest.raises(ConfigError, match="not a valid branch name"):
            await ws.remote_heads([name])
        with pytest.raises(ConfigError, match="not a valid branch name"):
            await ws.prepare_branch(name)


async def test_the_branch_cycle_works_over_smart_http_with_a_token(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    url = http_git_server.url_for(served_remote)
    auth = GitAuth(bearer_token=http_git_server.token, secret_name="fleet")
    async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path, auth=auth) as ws:
        sha = await _push_bump(ws, "1.1.0")
        assert (await ws.remote_heads([HEAD]))[HEAD] == sha
        assert await ws.delete_branch(HEAD, expect=sha)
    assert not served_remote.has_branch(HEAD)
    config = (tmp_path.glob("*/.git/config")).__next__().read_text()
    assert http_git_server.token not in config
    assert "registry.local/app:1.1.0" not in served_remote.read(APP_FILE)
