"""Forge requests one pull-request update costs, on each of the six fake forges: one read of
the pull request, one write. (GitLab, Gitea and Forgejo used to read it a second time, to
keep a draft's title prefix the first read had already told.)"""

from __future__ import annotations

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, flux_automation

pytestmark = pytest.mark.integration


def test_an_update_in_place_reads_the_pull_request_once_and_writes_once(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()
    (pr,) = fleet.pulls()
    fleet.push("1.2.0")
    fleet.fake.reset_requests()

    done = fleet.reconcile()

    assert f"updated #{pr.number}" in done.stdout, done.stdout
    with fleet.fake.lock:
        seen = [f"{s.operation or s.method + ' ' + s.path} {s.status}" for s in fleet.fake.requests]
    reads = [s for s in seen if s.startswith("GET ")]
    assert len(reads) == 1 and len(seen) == 2, seen
    assert "1.2.0" in fleet.fake.pull(pr.number).title


def test_a_second_reconcile_once_process_gets_a_304_for_the_steady_state_read(
    github_fleet: PrFleet,
) -> None:
    """Each ``reconcile --once`` run has a forge client of its own (so has each in-process run
    here: a new pool, an empty memory): the ETag it sends comes from the state store."""
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile()  # opens it
    fleet.reconcile()  # reads it by number for the first time: a 200, its ETag kept
    fleet.fake.reset_requests()

    steady = fleet.reconcile()

    assert "unchanged #" in steady.stdout, steady.stdout
    with fleet.fake.lock:
        seen = [(s.operation, s.status) for s in fleet.fake.requests]
        sent = [{k.lower(): v for k, v in s.headers.items()} for s in fleet.fake.requests]
    assert seen == [("GET /repos/{owner}/{repo}/pulls/{pull_number}", 304)], seen
    assert all(h.get("if-none-match") for h in sent), sent
    state = (fleet.root / "state.db").read_bytes()
    assert fleet.fake.token.encode() not in state  # the kept answer holds no credential
