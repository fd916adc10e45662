"""Each fake forge through a realistic PR life, driven with raw HTTP, checked against real git."""

from __future__ import annotations

import base64
from pathlib import Path

import pytest

from tests.forges.drivers import client_for, driver_for
from tests.forges.server import FakeForge
from tests.integration.git_fixtures import run_git

pytestmark = pytest.mark.integration
MARKED = "deploy/app.yaml"


def push_commit(fake: FakeForge, work: Path, branch: str, files: dict[str, str]) -> str:
    """Clone over smart HTTP with the forge token, commit ``files`` on ``branch``, push."""
    auth = base64.b64encode(f"x-token:{fake.token}".encode()).decode()
    header = ["-c", f"http.extraHeader=Authorization: Basic {auth}"]
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GIT_AUTHOR_NAME": "Bot",
        "GIT_AUTHOR_EMAIL": "bot@x.test",
        "GIT_COMMITTER_NAME": "Bot",
        "GIT_COMMITTER_EMAIL": "bot@x.test",
    }
    run_git(*header, "clone", "--quiet", fake.git_url, str(work), env=env)
    run_git("checkout", "--quiet", "-B", branch, cwd=work)
    for name, text in files.items():
        (work / name).parent.mkdir(parents=True, exist_ok=True)
        (work / name).write_text(text)
    run_git("add", "-A", cwd=work)
    run_git("commit", "--quiet", "-m", f"update {branch}", cwd=work, env=env)
    run_git(*header, "push", "--quiet", "--force", "origin", branch, cwd=work, env=env)
    return run_git("rev-parse", "HEAD", cwd=work).strip()


async def test_a_pr_goes_from_open_to_a_real_merge_on_the_bare_repo(
    fake_forge: FakeForge, tmp_path: Path
) -> None:
    head_sha = push_commit(
        fake_forge, tmp_path / "work", "image-updates", {MARKED: "image: 2.0.0\n"}
    )
    assert fake_forge.repo.sha("image-updates") == head_sha  # the push landed over smart HTTP
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        assert await forge.default_branch() == "main"
        number = await forge.open("image-updates", "main", "Update app to 2.0.0", "first body")
        await forge.update(number, "Update app to 2.0.1", "second body")
        labels = [] if fake_forge.provider == "bitbucket" else ["automation", "dependencies"]
        await forge.set_labels(number, labels)
        await forge.comment(number, "superseded #0")
        fake_forge.set_status(head_sha, "ci", "pending")
        assert await forge.checks(head_sha) == "pending"
        fake_forge.set_status(head_sha, "ci", "success")
        assert await forge.checks(head_sha) == "success"
        seen = await forge.get(number)
        assert (seen["title"], seen["body"], seen["state"]) == (
            "Update app to 2.0.1",
            "second body",
            "open",
        )
        assert sorted(seen["labels"]) == labels and seen["head_sha"] == head_sha
        assert [c.body for c in fake_forge.comments(number)] == ["superseded #0"]
        base_before = fake_forge.repo.sha("main")
        merged = await forge.merge(number, head_sha)
        assert merged.status_code == 200, merged.text
        assert (await forge.get(number))["state"] == "merged"
    main = fake_forge.repo.sha("main")
    assert fake_forge.repo.parents(main or "") == [base_before, head_sha]  # a merge commit
    assert fake_forge.repo.read(MARKED, "main") == "image: 2.0.0\n"


async def test_a_pr_closed_unmerged_can_be_reopened_and_leaves_main_alone(
    fake_forge: FakeForge,
) -> None:
    fake_forge.human_push("image-updates", {MARKED: "image: 3.0.0\n"}, "bump")
    main_before = fake_forge.repo.sha("main")
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        number = await forge.open("image-updates", "main", "Update app to 3.0.0", "")
        await forge.close(number)
        assert (await forge.get(number))["state"] == "closed"
        assert await forge.find("image-updates") is None
        await forge.reopen(number)
        assert (await forge.get(number))["state"] == "open"
        assert await forge.find("image-updates") == number
    assert fake_forge.repo.sha("main") == main_before


async def test_find_by_head_branch_picks_the_open_pr_of_that_branch_only(
    fake_forge: FakeForge,
) -> None:
    for branch in ("updates/a", "updates/b"):
        fake_forge.human_push(branch, {f"{branch}.txt": branch}, branch)
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        first = await forge.open("updates/a", "main", "a", "")
        second = await forge.open("updates/b", "main", "b", "")
        assert await forge.find("updates/a") == first
        assert await forge.find("updates/b") == second
        assert await forge.find("updates/none") is None


async def test_a_conflicting_base_makes_the_merge_fail_and_keeps_the_base(
    fake_forge: FakeForge,
) -> None:
    head_sha = fake_forge.human_push("image-updates", {MARKED: "image: 2.0.0\n"}, "bump")
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        number = await forge.open("image-updates", "main", "Update", "")
        moved = fake_forge.move_base({MARKED: "image: 9.9.9 # a human was here\n"}, "hand edit")
        assert not fake_forge.mergeable(fake_forge.pull(number))
        refused = await forge.merge(number, head_sha)
        assert refused.status_code >= 400
        assert fake_forge.repo.sha("main") == moved
        assert (await forge.get(number))["state"] == "open"


async def test_a_human_push_onto_the_pr_branch_moves_its_head(fake_forge: FakeForge) -> None:
    ours = fake_forge.human_push("image-updates", {MARKED: "image: 2.0.0\n"}, "bump")
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        number = await forge.open("image-updates", "main", "Update", "")
        theirs = fake_forge.human_push("image-updates", {"NOTES.md": "mine\n"}, "human fix")
        assert (await forge.get(number))["head_sha"] == theirs != ours
        assert fake_forge.repo.parents(theirs) == [ours]


async def test_deleting_the_head_branch_through_the_api_deletes_the_ref(
    fake_forge: FakeForge,
) -> None:
    fake_forge.human_push("feature/old", {"x.txt": "x"}, "x")
    async with client_for(fake_forge) as client:
        await driver_for(fake_forge, client).delete_branch("feature/old")
    assert "feature/old" not in fake_forge.repo.branches()
