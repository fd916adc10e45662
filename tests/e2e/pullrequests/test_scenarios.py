"""More of the lifecycle through ``reconcile --once`` on each fake forge: dry run, grouping and
superseding, two automations on one repository, limits, rate limits, and no credential leaks."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, flux_automation, native_automation
from tests.forges.hooks import Fault

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"


def test_dry_run_prints_the_pull_request_and_writes_nothing_anywhere(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    branches = fleet.fake.repo.branches()

    dry = fleet.reconcile("--dry-run")
    assert f"branch {HEAD}: would-open" in dry.stdout, dry.stdout
    assert "    title: chore(images): update" in dry.stdout and "1.1.0" in dry.stdout
    assert "    body:" in dry.stdout and "<!-- image-automation: automation=" in dry.stdout
    assert f"+          image: {fleet.image()}:1.1.0" in dry.stdout  # the diff
    assert fleet.writes() == [] and fleet.pulls() == []
    assert fleet.fake.repo.branches() == branches

    fleet.reconcile()
    (pr,) = fleet.pulls()
    fleet.push("1.2.0")
    fleet.fake.reset_requests()
    dry = fleet.reconcile("--dry-run")
    assert f"branch {HEAD}: would-update #{pr.number}" in dry.stdout, dry.stdout
    assert "1.2.0" in dry.stdout and fleet.writes() == []
    assert fleet.marked(HEAD) == "1.1.0" and "1.2.0" not in fleet.fake.pull(pr.number).title


def test_grouping_per_policy_opens_one_each_and_supersedes_the_shared_one(fleet: PrFleet) -> None:
    fleet.seed(native_automation(fleet.fake), policies=("app", "web"))
    fleet.push("1.1.0", policy="app")
    fleet.push("1.1.0", policy="web")
    fleet.reconcile()
    (shared,) = fleet.pulls()
    assert "2 images" in shared.title

    grouped = native_automation(fleet.fake, pull_request="    grouping: policy\n")
    stray = 'image: x:1 # {"$imagepolicy": "apps:nosuch"}\n'
    files = {"automation/automation.yaml": grouped, "clusters/stray.yaml": stray}
    fleet.fake.move_base(files, "one PR per policy")
    second = fleet.reconcile()
    old, app, web = fleet.pulls()
    assert (old.number, old.state) == (shared.number, "closed"), second.stdout
    assert (app.head, web.head) == (f"{HEAD}-app", f"{HEAD}-web")
    assert f"superseded by #{app.number}" in second.stdout
    warnings = [line for line in second.stdout.splitlines() if "warning" in line]
    assert warnings == ["  warning: clusters/stray.yaml:1: unknown policy apps:nosuch"], warnings
    assert any(f"#{app.number}" in c.body for c in fleet.fake.comments(old.number))
    assert HEAD not in fleet.fake.repo.branches()
    for pr, policy in ((app, "app"), (web, "web")):
        changed = fleet.fake.repo.git("diff", "--name-only", "main", pr.head).split()
        assert changed == [f"clusters/{policy}/app.yaml"]


def test_two_automations_on_one_repository_keep_to_their_own_pull_requests(
    fleet: PrFleet,
) -> None:
    docs = native_automation(fleet.fake, name="fleet-a", path="./clusters/app")
    docs += native_automation(fleet.fake, name="fleet-b", path="./clusters/web")
    fleet.seed(docs, policies=("app", "web"))
    fleet.push("1.1.0", policy="app")
    fleet.push("1.2.0", policy="web")
    fleet.reconcile()
    a, b = sorted(fleet.pulls(), key=lambda p: p.head)
    assert (a.head, b.head) == ("image-automation/fleet-a", "image-automation/fleet-b")
    assert fleet.marked(a.head, "app") == "1.1.0" and fleet.marked(a.head, "web") == "1.0.0"
    assert fleet.marked(b.head, "web") == "1.2.0" and fleet.marked(b.head, "app") == "1.0.0"
    fleet.fake.reset_requests()
    again = fleet.reconcile()
    assert again.stdout.count(": unchanged #") == 2, again.stdout
    assert fleet.writes() == []


def test_hourly_and_open_limits_defer_opening_but_never_an_update(fleet: PrFleet) -> None:
    limits = "    grouping: policy\n    limits: {perHour: 1}\n"
    fleet.seed(native_automation(fleet.fake, pull_request=limits), policies=("a", "b", "c"))
    for policy in ("a", "b", "c"):
        fleet.push("1.1.0", policy=policy)
    first = fleet.reconcile()
    assert len(fleet.pulls()) == 1
    assert first.stdout.count("deferred: limit: 1 opened in the last hour") == 2, first.stdout

    limits = "    grouping: policy\n    limits: {open: 2}\n"
    fleet.fake.move_base(
        {"automation/automation.yaml": native_automation(fleet.fake, pull_request=limits)}, "2"
    )
    fleet.push("1.2.0", policy="a")
    second = fleet.reconcile()
    assert len(fleet.pulls("open")) == 2, second.stdout
    assert "deferred: limit: 2 open (limits.open 2)" in second.stdout
    assert f"branch {HEAD}-a: updated" in second.stdout  # an open one is still updated


def test_a_rate_limited_forge_is_waited_out_and_no_duplicate_is_opened(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    create = fleet.create_op()
    if fleet.fake.provider == "github":
        fleet.fake.inject(Fault("secondary_rate_limit", operation=create, retry_after=1))
    fleet.fake.inject(Fault("retry_after", operation=create, retry_after=1))
    done = fleet.reconcile()
    assert len(fleet.pulls()) == 1, done.stdout
    assert fleet.creates() == (3 if fleet.fake.provider == "github" else 2)
    assert "opened #1" in done.stdout


def test_a_long_rate_limit_defers_the_pull_request_to_the_next_run(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.fake.inject(Fault("retry_after", operation=fleet.create_op(), retry_after=3600))
    deferred = fleet.reconcile()
    assert "deferred: the forge's rate limit: try again in 3600s" in deferred.stdout
    assert fleet.pulls() == []
    fleet.reconcile()
    assert len(fleet.pulls()) == 1 and fleet.creates() == 2


def _holding(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_the_forge_token_is_in_no_log_url_body_comment_or_git_config(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake))
    fleet.push("1.1.0")
    fleet.reconcile("--verbose", process=True)  # a process: its whole log is on stderr
    fleet.fake.human_push(HEAD, {"NOTES.md": "mine\n"}, "human")
    fleet.push("1.2.0")
    fleet.reconcile("--verbose", process=True)
    token = fleet.fake.token
    for run in fleet.runs:
        assert token not in run.stdout and token not in run.stderr
        assert "INFO" in run.stderr  # verbose logs were there to be searched
    for pr in fleet.pulls():
        assert token not in pr.body + pr.title + pr.head
        assert all(token not in c.body for c in pr.comments)
    assert _holding(fleet.root / "work", token) == []
    assert _holding(fleet.root, token) == [fleet.root / "secrets" / "forge-auth" / "bearerToken"]
    assert all(token not in seen.path for seen in fleet.fake.requests)
