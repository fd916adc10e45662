"""``promote --once`` killed with SIGKILL mid-promotion (right after the push of the head
branch, and right after the forge created the pull request), on GitHub, GitLab and Gitea
fakes: the next run ends with exactly one promotion pull request and no stray branch."""

from __future__ import annotations

import signal

import pytest

from tests.e2e.promotion.fleet import IMAGE, PromoFleet, digest, policy_doc, promotion_doc
from tests.e2e.pullrequests.test_kill import _kill_after_push, _kill_at_request

pytestmark = pytest.mark.integration

HEAD = "image-automation/promote-web-staging"
STAGES = """\
    - {name: dev, path: clusters/dev}
    - {name: staging, path: clusters/staging}
"""


@pytest.mark.parametrize("point", ["pushed", "created"])
def test_a_promotion_killed_mid_run_leaves_one_pull_request(fleet: PromoFleet, point: str) -> None:
    one, two = f"{IMAGE}:1.0.0@{digest('1.0.0')}", f"{IMAGE}:1.1.0@{digest('1.1.0')}"
    files = fleet.stage_files(["dev", "staging"], one)
    files["automation/policies.yaml"] = policy_doc()
    files["automation/promotion.yaml"] = promotion_doc(fleet.fake, STAGES)
    fleet.seed(files)
    fleet.set_stage("dev", two)
    if point == "pushed":
        arm = _kill_after_push(fleet)  # type: ignore[arg-type]
    else:
        arm = _kill_at_request(fleet, ("create_pull", "create_mr", "create_pr"), before=False)  # type: ignore[arg-type]
    proc = fleet.spawn()
    arm(proc.pid)
    out, err = proc.communicate(timeout=180)
    assert proc.returncode == -signal.SIGKILL, f"{point}: not killed\n{out}\n{err}"

    after = fleet.cli()
    (pr,) = fleet.pulls()
    assert pr.state == "open" and pr.head == HEAD, after.stdout
    assert f"#{pr.number}" in after.stdout and fleet.marked("staging", HEAD) == two
    assert sorted(fleet.fake.repo.branches()) == [HEAD, "main"]
    again = fleet.cli()
    assert len(fleet.pulls()) == 1 and f"unchanged #{pr.number}" in again.stdout, again.stdout
