"""Workspace behaviour against a real bare remote over file://: idempotence, races, branches."""

from __future__ import annotations

import asyncio
import subprocess
from pathlib import Path

import pytest

from image_automation.domain import UpdateResult
from image_automation.errors import GitConflict
from image_automation.git import CommitSettings, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import GitRemote, run_git

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")
FAST = PushSettings(backoff=0.01)


async def test_second_run_with_nothing_to_change_makes_no_commit(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    spec = RepoSpec(url=git_remote.url)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        first = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=FAST)
    head = git_remote.head()
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        second = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=FAST)
    assert first.commit == head
    assert second.commit is None
    assert not second.result.changed
    assert git_remote.head() == head
    assert len(git_remote.commits()) == 2


async def test_rejected_push_is_retried_on_fresh_fetch(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    calls = 0
    bump = bump_to("1.2.0")
    other = ""

    async def apply_while_someone_else_pushes(root: Path) -> UpdateResult:
        nonlocal calls, other
        calls += 1
        if calls == 1:  # after our fetch, before our push: the remote moves
            other = git_remote.commit_files({"README.md": "edited by a human\n"}, "Human edit")
        return await bump(root)

    base = git_remote.head()
    async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=tmp_path) as ws:
        outcome = await ws.publish(apply_while_someone_else_pushes, commit=AUTHOR, push=FAST)

    assert calls == 2
    assert outcome.attempts == 2
    commits = git_remote.commits()
    assert [c.sha for c in commits] == [outcome.commit, other, base]
    assert commits[0].parents == (other,)
    assert git_remote.git("rev-list", "--merges", "main").strip() == ""
    assert sum("registry.local/app:1.2.0" in c.body for c in commits) == 1
    assert git_remote.read("README.md") == "edited by a human\n"
    assert "app:1.2.0" in git_remote.read(APP_FILE)


async def test_retries_are_bounded_and_end_in_git_conflict(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    bump = bump_to("1.3.0")
    calls = 0

    async def apply_and_always_lose_the_race(root: Path) -> UpdateResult:
        nonlocal calls
        calls += 1
        git_remote.commit_files({"README.md": f"edit {calls}\n"}, f"Human edit {calls}")
        return await bump(root)

    async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=tmp_path) as ws:
        with pytest.raises(GitConflict, match="rejected 3 times"):
            await ws.publish(
                apply_and_always_lose_the_race,
                commit=AUTHOR,
                push=PushSettings(attempts=3, backoff=0.01),
            )
    assert calls == 3
    assert all("app:1.3.0" not in c.body for c in git_remote.commits())
    assert len(git_remote.commits()) == 4  # seed + three human edits, none lost


async def test_push_branch_is_created_from_checkout_branch_and_reused(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    push = PushSettings(branch="auto/images", backoff=0.01)
    spec = RepoSpec(url=git_remote.url)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        first = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=push)
    assert first.refs == ("refs/heads/auto/images",)
    assert git_remote.commits("auto/images")[0].parents == (git_remote.head(),)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        again = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=push)
        later = await ws.publish(bump_to("1.2.0"), commit=AUTHOR, push=push)
    assert again.commit is None  # the push branch already has it: no duplicate
    branch = git_remote.commits("auto/images")
    assert [c.sha for c in branch[:2]] == [later.commit, first.commit]
    assert "app:1.0.0" in git_remote.read(APP_FILE)  # checkout branch untouched


async def test_forced_push_branch_is_recreated_from_checkout_branch(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    spec = RepoSpec(url=git_remote.url)
    stale = git_remote.commit_files({"stale.txt": "old work\n"}, "Old", branch="auto/images")
    human = git_remote.commit_files({"README.md": "newer main\n"}, "Human edit")
    push = PushSettings(branch="auto/images", force=True, backoff=0.01)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("1.4.0"), commit=AUTHOR, push=push)
    branch = git_remote.commits("auto/images")
    assert branch[0].sha == outcome.commit
    assert branch[0].parents == (human,)
    assert stale not in {c.sha for c in branch}
    assert git_remote.head() == human


async def test_refspec_is_pushed_alone_or_with_the_push_branch(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    spec = RepoSpec(url=git_remote.url)
    alone = PushSettings(refspec="HEAD:refs/heads/review/images", backoff=0.01)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=alone)
    assert outcome.refs == ("refs/heads/review/images",)
    assert git_remote.head("review/images") == outcome.commit
    assert git_remote.head("main") != outcome.commit

    both = PushSettings(branch="auto", refspec="HEAD:refs/heads/mirror", backoff=0.01)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("2.0.0"), commit=AUTHOR, push=both)
    assert git_remote.head("auto") == git_remote.head("mirror") == outcome.commit


async def test_shallow_checkout_fetches_one_commit_and_still_pushes(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    for n in range(3):
        git_remote.commit_files({"README.md": f"v{n}\n"}, f"History {n}")
    spec = RepoSpec(url=git_remote.url, depth=1)
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=FAST)
        shallow = run_git("rev-parse", "--is-shallow-repository", cwd=ws.path).strip()
        count = run_git("rev-list", "--count", "HEAD", cwd=ws.path).strip()
    assert shallow == "true"
    assert count == "2"  # the fetched tip plus our commit
    assert git_remote.head() == outcome.commit
    assert len(git_remote.commits()) == 5


async def test_sparse_checkout_materialises_only_the_given_paths(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    git_remote.commit_files({"other/big.yaml": "x: 1\n"}, "Other tree")
    spec = RepoSpec(url=git_remote.url, sparse_paths=("deploy",))
    async with Workspace.open(spec, work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=FAST)
        assert (ws.path / APP_FILE).exists()
        assert not (ws.path / "other").exists()
    assert git_remote.read("other/big.yaml") == "x: 1\n"  # untouched by the sparse commit
    assert git_remote.head() == outcome.commit


async def test_work_dir_lock_excludes_a_second_holder(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    spec = RepoSpec(url=git_remote.url)
    async with Workspace.open(spec, work_dir=tmp_path):
        with pytest.raises(GitConflict, match="busy"):
            async with Workspace.open(spec, work_dir=tmp_path, lock_timeout=0.1):
                pass  # pragma: no cover
    async with Workspace.open(spec, work_dir=tmp_path, lock_timeout=0.1):
        pass  # released when the first holder left


async def test_two_processes_on_one_work_dir_take_turns(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    spec = RepoSpec(url=git_remote.url)
    async with Workspace.open(spec, work_dir=tmp_path):
        lock = next(tmp_path.glob("*.lock"))
        probe = subprocess.run(
            ["flock", "--nonblock", "--conflict-exit-code", "7", str(lock), "true"], check=False
        )
        assert probe.returncode == 7
    probe = subprocess.run(["flock", "--nonblock", str(lock), "true"], check=False)
    assert probe.returncode == 0


async def test_concurrent_runs_on_one_work_dir_serialise_and_commit_once(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    spec = RepoSpec(url=git_remote.url)

    async def run(tag: str, work: Path) -> str | None:
        async with Workspace.open(spec, work_dir=work) as ws:
            return (await ws.publish(bump_to(tag), commit=AUTHOR, push=FAST)).commit

    first, second = await asyncio.gather(run("1.1.0", tmp_path), run("1.1.0", tmp_path))
    assert sorted([first is None, second is None]) == [False, True]
    assert len(git_remote.commits()) == 2


async def test_switching_from_shallow_to_full_history_reclones(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    git_remote.commit_files({"README.md": "v2\n"}, "History")
    async with Workspace.open(RepoSpec(url=git_remote.url, depth=1), work_dir=tmp_path) as ws:
        await ws.prepare()
    async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=tmp_path) as ws:
        await ws.prepare()
        shallow = run_git("rev-parse", "--is-shallow-repository", cwd=ws.path).strip()
        count = run_git("rev-list", "--count", "HEAD", cwd=ws.path).strip()
    assert (shallow, count) == ("false", "2")


async def test_forced_push_never_overwrites_a_value_it_did_not_fetch(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    git_remote.commit_files({"mine.txt": "1\n"}, "Earlier automation", branch="auto/images")
    bump = bump_to("1.6.0")
    calls = 0

    async def apply_while_push_branch_moves(root: Path) -> UpdateResult:
        nonlocal calls
        calls += 1
        if calls == 1:  # lands after our fetch: the lease must reject our forced push
            git_remote.commit_files({"x.txt": "x\n"}, "Concurrent", branch="auto/images")
        return await bump(root)

    push = PushSettings(branch="auto/images", force=True, backoff=0.01)
    async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=tmp_path) as ws:
        outcome = await ws.publish(apply_while_push_branch_moves, commit=AUTHOR, push=push)
    assert (calls, outcome.attempts) == (2, 2)
    assert git_remote.head("auto/images") == outcome.commit
    assert git_remote.commits("auto/images")[0].parents == (git_remote.head(),)


async def test_dry_run_shows_the_diff_and_pushes_nothing(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    base = git_remote.head()
    async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=tmp_path) as ws:
        await ws.prepare()
        assert await ws.diff() == ""
        await bump_to("1.1.0")(ws.path)
        diff = await ws.diff()
    assert "-          image: registry.local/app:1.0.0" in diff
    assert "+          image: registry.local/app:1.1.0" in diff
    assert diff.startswith("diff --git a/deploy/app.yaml b/deploy/app.yaml\n")
    assert git_remote.head() == base
