"""The safety gates in pull-request delivery, through ``reconcile --once`` on the GitHub fake.

A merged pull request's change is ours (we recorded what it carried), so a later human
commit on the base that sets an older value is a rollback: the policy is held, its value is
not proposed again, and the body of the pull request the other policies still get says why.
"""

from __future__ import annotations

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, flux_automation, manifest

pytestmark = pytest.mark.integration


def test_a_human_revert_after_a_merged_pull_request_holds_the_policy(github_fleet: PrFleet) -> None:
    fleet = github_fleet
    fleet.seed(flux_automation(fleet.fake), policies=("app", "web"))
    fleet.push("1.1.0", policy="app")
    fleet.push("1.1.0", policy="web")
    fleet.reconcile()
    (first,) = fleet.pulls()
    fleet.fake.human_merge(first.number)
    assert fleet.marked("main", "app") == fleet.marked("main", "web") == "1.1.0"
    revert = fleet.fake.move_base(
        {"clusters/app/app.yaml": manifest(f"{fleet.image('app')}:1.0.0", "app")},
        "Revert app to 1.0.0: 1.1.0 breaks logins",
    )
    fleet.push("1.2.0", policy="web")

    held = fleet.reconcile()  # settles the merge and sees the revert in the same run
    assert f"#{first.number} was merged" in held.stdout, held.stdout
    reason = "held at 1.0.0: rolled back from 1.1.0 by"
    assert f"policy apps/app: {reason}" in held.stdout and revert[:12] in held.stdout
    merged, fresh = fleet.pulls()
    assert (merged.state, fresh.state) == ("merged", "open")
    assert fleet.marked(fresh.head, "web") == "1.2.0"
    assert fleet.marked(fresh.head, "app") == "1.0.0"  # the human's version is not re-proposed
    assert "apps/app" in fresh.body and reason in fresh.body, fresh.body

    again = fleet.reconcile()
    assert f"policy apps/app: {reason}" in again.stdout, again.stdout
    assert fleet.marked(fresh.head, "app") == "1.0.0" and len(fleet.pulls()) == 2

    fleet.push("1.1.1", policy="app")  # newer than the version rolled back from
    moved = fleet.reconcile()
    assert f"updated #{fresh.number}" in moved.stdout, moved.stdout
    assert fleet.marked(fresh.head, "app") == "1.1.1"
    assert reason not in fleet.fake.pull(fresh.number).body
