"""The boxes a reviewer ticks in the body ("rebase now", "ignore this version") and a pull
request reopened after a close, through ``reconcile --once`` on each fake forge."""

from __future__ import annotations

import pytest

from tests.e2e.pullrequests.fleet import AUTHOR_EMAIL, PrFleet, flux_automation

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"


def _tick(fleet: PrFleet, number: int, box: str) -> None:
    with fleet.fake.lock:
        pr = fleet.fake.pulls[number]
        assert f"- [ ] <!-- ia:{box} -->" in pr.body
        pr.body = pr.body.replace(f"- [ ] <!-- ia:{box} -->", f"- [x] <!-- ia:{box} -->")


def _age(fleet: PrFleet) -> str:
    """Replace our head commit by the same change from the same author, dated 2020."""
    repo = fleet.fake.repo
    ours = repo.sha(HEAD) or ""
    who = {"NAME": "Image Bot", "EMAIL": AUTHOR_EMAIL, "DATE": "2020-01-01T00:00:00+00:00"}
    env = {f"GIT_{role}_{k}": v for role in ("AUTHOR", "COMMITTER") for k, v in who.items()}
    tree = repo.git("rev-parse", f"{ours}^{{tree}}").strip()
    aged = repo.git("commit-tree", tree, "-p", repo.sha("main") or "", "-m", "aged", env=env)
    repo.git("update-ref", f"refs/heads/{HEAD}", aged.strip(), ours)
    return aged.strip()


def test_the_rebase_box_recreates_the_branch_and_is_cleared(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    aged = _age(fleet)  # our commit, dated 2020: a rebase now cannot make the same one
    _tick(fleet, pr.number, "rebase")
    done = fleet.reconcile()
    assert f"updated #{pr.number}" in done.stdout, done.stdout
    after = fleet.fake.repo.sha(HEAD) or ""
    assert after != aged and fleet.fake.repo.parents(after) == [fleet.fake.repo.sha("main")]
    assert fleet.marked(HEAD) == "1.1.0"
    assert "- [ ] <!-- ia:rebase -->" in fleet.fake.pull(pr.number).body
    assert len(fleet.pulls()) == 1
    fleet.fake.reset_requests()
    fleet.reconcile()
    assert fleet.writes() == []  # cleared: the next run does not rebase again


def test_the_ignore_box_closes_it_and_refuses_that_version_only(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    _tick(fleet, pr.number, "ignore")
    done = fleet.reconcile()
    assert f"closed #{pr.number}" in done.stdout and "ignored by request" in done.stdout
    assert fleet.fake.pull(pr.number).state == "closed"
    assert HEAD not in fleet.fake.repo.branches()
    fleet.reconcile()
    assert len(fleet.pulls()) == 1  # 1.1.0 is not proposed again

    fleet.push("1.2.0")
    fleet.reconcile()
    closed, fresh = fleet.pulls()
    assert closed.number == pr.number and fresh.state == "open" and "1.2.0" in fresh.title


def test_reopening_a_closed_pull_request_wants_its_versions_again(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    ours = fleet.fake.repo.sha(HEAD)
    fleet.fake.human_close(pr.number)
    fleet.reconcile()
    assert HEAD not in fleet.fake.repo.branches()

    fleet.fake.repo.git("update-ref", f"refs/heads/{HEAD}", ours or "")  # "restore branch"
    fleet.fake.human_reopen(pr.number)
    done = fleet.reconcile()
    assert f"#{pr.number} was reopened" in done.stdout, done.stdout
    assert [(p.number, p.state) for p in fleet.pulls()] == [(pr.number, "open")]
    fleet.fake.reset_requests()
    steady = fleet.reconcile()
    assert f"unchanged #{pr.number}" in steady.stdout and fleet.writes() == []
