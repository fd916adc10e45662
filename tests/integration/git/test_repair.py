"""A work dir left broken by a killed run is repaired or re-cloned by the next run."""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest

from image_automation.git import CommitSettings, PushSettings, RepoSpec, Workspace
from image_automation.git._mark import LEFTOVER_STATE
from image_automation.git.workspace import cache_key
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import GitRemote, run_git

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")


def _stale_index_lock_and_dirty_files(checkout: Path) -> None:
    (checkout / ".git" / "index.lock").write_bytes(b"half-written index")
    (checkout / APP_FILE).write_text("half an edit")
    (checkout / "untracked.tmp").write_text("junk")


def _detached_head_with_unpushed_commit(checkout: Path) -> None:
    run_git("checkout", "--quiet", "--detach", cwd=checkout)
    (checkout / "README.md").write_text("local only\n")
    run_git("-c", "user.name=x", "-c", "user.email=x@y", "commit", "-qam", "Lost", cwd=checkout)


def _stale_ref_lock(checkout: Path) -> None:
    (checkout / ".git" / "refs" / "heads" / "main.lock").write_text("0" * 40)
    (checkout / ".git" / "HEAD.lock").write_text("ref: refs/heads/main\n")


def _half_merge_and_rebase_state(checkout: Path) -> None:
    head = run_git("rev-parse", "HEAD", cwd=checkout)
    (checkout / ".git" / "MERGE_HEAD").write_text(head)
    (checkout / ".git" / "CHERRY_PICK_HEAD").write_text(head)
    (checkout / ".git" / "rebase-merge").mkdir()
    (checkout / ".git" / "rebase-merge" / "head-name").write_text("refs/heads/main\n")
    (checkout / ".git" / "rebase-apply").mkdir()
    (checkout / APP_FILE).write_text("<<<<<<< conflict\n")


def _not_a_repository_any_more(checkout: Path) -> None:
    shutil.rmtree(checkout / ".git" / "refs")
    (checkout / ".git" / "HEAD").unlink()


def _half_clone_left_behind(checkout: Path) -> None:
    shutil.rmtree(checkout)
    half = checkout.with_name(f"{checkout.name}.tmp-deadbeef")
    (half / ".git").mkdir(parents=True)
    (half / ".git" / "HEAD").write_text("ref: refs/heads/main\n")


def _objects_lost_but_commit_kept(checkout: Path) -> None:
    # The cheap checks at open pass (the commit is readable); the trees and blobs are gone, so
    # checkout fails later and the run must notice the damage and clone again.
    head = run_git("rev-parse", "refs/remotes/origin/main", cwd=checkout).strip()
    raw = subprocess.run(
        ["git", "cat-file", "commit", head], cwd=checkout, capture_output=True, check=True
    ).stdout
    for pack in (checkout / ".git" / "objects" / "pack").iterdir():
        pack.unlink()
    for loose in (checkout / ".git" / "objects").glob("??"):
        shutil.rmtree(loose)
    subprocess.run(["git", "hash-object", "-t", "commit", "-w", "--stdin"], input=raw,
                   cwd=checkout, capture_output=True, check=True)  # fmt: skip
    (checkout / ".git" / "index").unlink()


@pytest.mark.parametrize(
    "damage",
    [
        _stale_index_lock_and_dirty_files,
        _detached_head_with_unpushed_commit,
        _stale_ref_lock,
        _half_merge_and_rebase_state,
        _not_a_repository_any_more,
        _half_clone_left_behind,
        _objects_lost_but_commit_kept,
    ],
)
async def test_next_run_repairs_the_work_dir(
    git_remote: GitRemote, tmp_path: Path, damage: Callable[[Path], None]
) -> None:
    spec = RepoSpec(url=git_remote.url)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        await ws.prepare()
    checkout = tmp_path / cache_key(spec.url, spec.branch)
    damage(checkout)
    base = git_remote.head()

    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=PushSettings())
        status = run_git("status", "--porcelain", cwd=ws.path)
        branch = run_git("symbolic-ref", "--short", "HEAD", cwd=ws.path).strip()

    assert [c.sha for c in git_remote.commits()] == [outcome.commit, base]
    assert git_remote.read("README.md") == "fixture repository\n"
    assert "app:1.1.0" in git_remote.read(APP_FILE)
    assert status == ""
    assert branch == "main"
    assert not list(tmp_path.glob("*.tmp-*"))
    assert not [n for n in LEFTOVER_STATE if (checkout / ".git" / n).exists()]
