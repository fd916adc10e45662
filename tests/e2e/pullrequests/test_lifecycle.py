"""The pull-request lifecycle through ``reconcile --once``, on each of the six fake forges.

Every request and reply is validated against the forge's own API description (the fixture
fails the test on any violation); branches, force-pushes and merges are real git on the
fake's bare repository.
"""

from __future__ import annotations

import pytest

from tests.e2e.pullrequests.fleet import APP_FILE, AUTHOR_EMAIL, PrFleet, flux_automation, manifest

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"


def test_open_then_update_in_place_then_merged_then_a_fresh_pull_request(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")

    first = fleet.reconcile()
    (pr,) = fleet.pulls()
    assert f"branch {HEAD}: opened #{pr.number} " in first.stdout, first.stdout
    assert (pr.head, pr.base, pr.state) == (HEAD, "main", "open")
    assert "1.1.0" in pr.title and f"{fleet.image()}" in pr.body
    assert fleet.marked(HEAD) == "1.1.0" and fleet.marked("main") == "1.0.0"

    fleet.push("1.2.0")
    second = fleet.reconcile()
    assert f"branch {HEAD}: updated #{pr.number}" in second.stdout, second.stdout
    assert [p.number for p in fleet.pulls()] == [pr.number]  # the same one, in place
    again = fleet.fake.pull(pr.number)
    assert "1.2.0" in again.title and "1.2.0" in again.body and "1.1.0 " not in again.title
    assert fleet.marked(HEAD) == "1.2.0"
    assert fleet.fake.repo.parents(fleet.fake.repo.sha(HEAD) or "") == [fleet.fake.repo.sha("main")]

    fleet.fake.reset_requests()
    steady = fleet.reconcile()
    assert f"branch {HEAD}: unchanged #{pr.number}" in steady.stdout, steady.stdout
    assert fleet.writes() == []  # nothing pushed, nothing written on the forge

    fleet.fake.human_merge(pr.number)
    assert fleet.marked("main") == "1.2.0"
    fleet.push("1.3.0")
    fourth = fleet.reconcile()
    assert f"#{pr.number} was merged" in fourth.stdout, fourth.stdout
    merged, fresh = fleet.pulls()
    assert (merged.number, merged.state) == (pr.number, "merged")
    assert (fresh.state, fresh.head) == ("open", HEAD) and "1.3.0" in fresh.title
    assert f"branch {HEAD}: opened #{fresh.number}" in fourth.stdout


def test_closed_unmerged_refuses_that_version_until_a_newer_one(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    fleet.fake.human_close(pr.number)

    second = fleet.reconcile()
    assert "closed unmerged" in second.stdout and "held back" in second.stdout, second.stdout
    assert [p.state for p in fleet.pulls()] == ["closed"]  # not reopened, not opened again
    assert HEAD not in fleet.fake.repo.branches()  # our branch of the refused version is gone

    third = fleet.reconcile()
    assert len(fleet.pulls()) == 1, third.stdout

    fleet.push("1.2.0")
    fourth = fleet.reconcile()
    closed, fresh = fleet.pulls()
    assert closed.number == pr.number and fresh.state == "open" and "1.2.0" in fresh.title
    assert f"opened #{fresh.number}" in fourth.stdout


def test_a_conflicting_edit_of_the_marked_line_on_the_base_recreates_the_branch(
    fleet: PrFleet,
) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    edited = manifest(f"{fleet.image()}:1.0.1").replace("name: app\n", "name: app # edited\n", 1)
    moved = fleet.fake.move_base({APP_FILE: edited}, "a human edits the line")
    assert not fleet.fake.mergeable(fleet.fake.pull(pr.number))  # conflicts now

    second = fleet.reconcile()
    assert f"updated #{pr.number}" in second.stdout, second.stdout
    assert [p.number for p in fleet.pulls()] == [pr.number]
    assert fleet.fake.repo.parents(fleet.fake.repo.sha(HEAD) or "") == [moved]
    assert fleet.fake.mergeable(fleet.fake.pull(pr.number))
    assert "1.0.1" in fleet.fake.pull(pr.number).body  # the old value is the base's now
    assert "# edited" in fleet.fake.repo.read(APP_FILE, HEAD)
    assert fleet.marked(HEAD) == "1.1.0"


def test_a_human_commit_on_our_branch_is_never_clobbered_and_noticed_once(
    fleet: PrFleet,
) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    theirs = fleet.fake.human_push(HEAD, {"NOTES.md": "please also check this\n"}, "human fix")

    fleet.push("1.2.0")
    second = fleet.reconcile()
    assert "held" in second.stdout and "human commits" in second.stdout, second.stdout
    assert fleet.fake.repo.sha(HEAD) == theirs  # their commit stays the head
    notices = [c for c in fleet.fake.comments(pr.number) if "did not make" in c.body]
    assert len(notices) == 1

    fleet.reconcile()
    assert fleet.fake.repo.sha(HEAD) == theirs
    assert len([c for c in fleet.fake.comments(pr.number) if "did not make" in c.body]) == 1
    assert len(fleet.pulls()) == 1


def test_commits_are_made_by_the_automation_author_and_carry_one_change(
    github_fleet: PrFleet,
) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    out = fleet.fake.repo.git("log", "-1", "--format=%ae%x1f%ce%x1f%s", HEAD).strip()
    assert out.split("\x1f")[:2] == [AUTHOR_EMAIL, AUTHOR_EMAIL]
    diff = fleet.fake.repo.git("diff", "--numstat", "main", HEAD)
    assert diff.split() == ["1", "1", APP_FILE]
