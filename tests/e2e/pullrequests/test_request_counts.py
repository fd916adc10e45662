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
