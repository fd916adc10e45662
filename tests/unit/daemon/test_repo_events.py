"""Push and commit-status deliveries of each forge (what wakes a promotion), table-driven from
the forges' webhook docs; partial or hostile ones are MALFORMED, never an exception."""

from __future__ import annotations

import pytest

from image_automation.daemon.forge_hooks import ForgeEvent, PullRequestAction, verify_forge_event
from image_automation.daemon.forge_wake import promotions_for_event
from image_automation.daemon.hooks import Verdict
from tests.unit.daemon.forge_payloads import (
    SECRET,
    Delivery,
    azure,
    azure_payload,
    bitbucket,
    gitea,
    github,
    gitlab,
)

SHA, OTHER = "a" * 40, "b" * 40
PUSHED, STATUS = PullRequestAction.PUSHED, PullRequestAction.STATUS
REPO = {"full_name": "org/fleet"}
AZURE_REPOSITORY = azure_payload()["resource"]["repository"]  # type: ignore[index]

ACCEPTED: list[tuple[str, str, Delivery, PullRequestAction, str, str, str]] = [
    ("github push", "github", github({"ref": "refs/heads/main", "after": SHA, "repository": REPO},
                                     event="push"), PUSHED, "org/fleet", "main", SHA),
    ("github status", "github", github({"sha": SHA, "state": "success", "repository": REPO},
                                       event="status"), STATUS, "org/fleet", "", SHA),
    ("github check run", "github",
     github({"action": "completed", "check_run": {"head_sha": SHA}, "repository": REPO},
            event="check_run"), STATUS, "org/fleet", "", SHA),
    ("github check suite", "github",
     github({"action": "completed", "check_suite": {"head_sha": SHA, "head_branch": "main"},
             "repository": REPO}, event="check_suite"),
     STATUS, "org/fleet", "main", SHA),
    ("gitlab push", "gitlab",
     gitlab({"object_kind": "push", "ref": "refs/heads/env/prod", "after": SHA,
             "project": {"path_with_namespace": "g/sub/fleet"}}, event="Push Hook"),
     PUSHED, "g/sub/fleet", "env/prod", SHA),
    ("gitlab pipeline", "gitlab",
     gitlab({"object_kind": "pipeline", "object_attributes": {"sha": SHA, "ref": "main",
             "tag": False, "status": "success"}, "project": {"path_with_namespace": "g/fleet"}},
            event="Pipeline Hook"), STATUS, "g/fleet", "main", SHA),
    ("gitea push", "gitea", gitea({"ref": "refs/heads/main", "after": SHA, "repository": REPO},
                                  event="push"), PUSHED, "org/fleet", "main", SHA),
    ("forgejo status", "forgejo",
     gitea({"sha": SHA, "state": "failure", "repository": REPO}, event="status", forge="Forgejo"),
     STATUS, "org/fleet", "", SHA),
    ("bitbucket push", "bitbucket",
     bitbucket({"push": {"changes": [{"new": {"type": "branch", "name": "main",
                                              "target": {"hash": SHA}}}]},
                "repository": {"full_name": "ws/fleet"}}, key="repo:push"),
     PUSHED, "ws/fleet", "main", SHA),
    ("bitbucket status", "bitbucket",
     bitbucket({"commit_status": {"state": "SUCCESSFUL", "refname": "main",
                                  "commit": {"hash": SHA}},
                "repository": {"full_name": "ws/fleet"}}, key="repo:commit_status_updated"),
     STATUS, "ws/fleet", "main", SHA),
    ("azure push", "azuredevops",
     azure({"eventType": "git.push", "resource": {
         "refUpdates": [{"name": "refs/heads/main", "newObjectId": SHA}],
         "repository": AZURE_REPOSITORY}}),
     PUSHED, "org/Fleet Project/_git/fleet", "main", SHA),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "delivery", "action", "repository", "branch", "sha"),
    [case[1:] for case in ACCEPTED],
    ids=[case[0] for case in ACCEPTED],
)
def test_a_push_or_status_event_is_accepted_with_its_branch_and_commit(
    provider: str, delivery: Delivery, action: PullRequestAction, repository: str, branch: str,
    sha: str,
) -> None:  # fmt: skip
    headers, body = delivery
    found = verify_forge_event(provider, secret=SECRET, headers=_ci(headers), body=body)
    assert found.verdict is Verdict.ACCEPTED, found.reason
    assert found.event is not None
    event = found.event
    assert (event.action, event.repository, event.base_branch, event.sha, event.number) == (
        action, repository, branch, sha, 0,
    )  # fmt: skip
    assert sha[:12] in event.describe() and repository in event.describe()


MALFORMED = [
    ("github push without after", "github",
     github({"ref": "refs/heads/main", "repository": REPO}, event="push")),
    ("github status with a bad sha", "github",
     github({"sha": "not-a-sha", "repository": REPO}, event="status")),
    ("gitlab pipeline without a sha", "gitlab",
     gitlab({"object_attributes": {}, "project": {"path_with_namespace": "g/f"}},
            event="Pipeline Hook")),
    ("bitbucket push with changes not a list", "bitbucket",
     bitbucket({"push": {"changes": "x"}, "repository": {"full_name": "ws/f"}}, key="repo:push")),
    ("azure push without ref updates", "azuredevops",
     azure({"eventType": "git.push", "resource": {"repository": AZURE_REPOSITORY}})),
    ("gitea push with a branch holding a line break", "gitea",
     gitea({"ref": "refs/heads/ma\nin", "after": SHA, "repository": REPO}, event="push")),
    ("github push with a 100k-character branch", "github",
     github({"ref": "refs/heads/" + "b" * 100_000, "after": SHA, "repository": REPO},
            event="push")),
    ("github push with a repository holding a line break", "github",
     github({"ref": "refs/heads/main", "after": SHA,
             "repository": {"full_name": "org/fl\neet"}}, event="push")),
    ("github push with a 100k-character repository", "github",
     github({"ref": "refs/heads/main", "after": SHA,
             "repository": {"full_name": "o/" + "f" * 100_000}}, event="push")),
    ("gitea push with a repository not a string", "gitea",
     gitea({"ref": "refs/heads/main", "after": SHA, "repository": {"full_name": ["a"]}},
           event="push")),
    ("gitea status with the sha a list", "gitea",
     gitea({"sha": [SHA], "state": "success", "repository": REPO}, event="status")),
    ("github push whose payload is a list", "github", github([1, 2], event="push")),
]  # fmt: skip


@pytest.mark.parametrize(
    ("provider", "delivery"), [c[1:] for c in MALFORMED], ids=[c[0] for c in MALFORMED]
)
def test_a_partial_or_hostile_push_or_status_is_malformed(
    provider: str, delivery: Delivery
) -> None:
    headers, body = delivery
    found = verify_forge_event(provider, secret=SECRET, headers=_ci(headers), body=body)
    assert found.verdict is Verdict.MALFORMED and found.event is None


def test_an_unfinished_check_run_wakes_nothing() -> None:
    headers, body = github(
        {"action": "created", "check_run": {"head_sha": SHA}, "repository": REPO}, event="check_run"
    )
    found = verify_forge_event("github", secret=SECRET, headers=_ci(headers), body=body)
    assert found.verdict is Verdict.IGNORED


def _event(
    action: PullRequestAction, repository: str, branch: str = "", number: int = 0
) -> ForgeEvent:
    return ForgeEvent(
        "github", repository, number, "head" if number else "", branch, action, sha=SHA
    )


PLACES = {
    "Promotion/apps/web": (("https://github.com/org/fleet.git", "main"),),
    "Promotion/apps/api": (("https://github.com/org/fleet.git", "env/staging"),
                           ("https://github.com/org/fleet-prod.git", "main")),
}  # fmt: skip
WAKES = [
    ("a push to a stage's branch", _event(PullRequestAction.PUSHED, "org/fleet", "main"),
     ["Promotion/apps/web"]),
    ("a push to another branch", _event(PullRequestAction.PUSHED, "org/fleet", "feature"), []),
    ("a status in a stage's repository", _event(PullRequestAction.STATUS, "org/fleet-prod"),
     ["Promotion/apps/api"]),
    ("a status in a stage's repository wakes every promotion there",
     _event(PullRequestAction.STATUS, "org/fleet"), ["Promotion/apps/api", "Promotion/apps/web"]),
    ("a merge into a stage", _event(PullRequestAction.MERGED, "org/fleet", "env/staging", 3),
     ["Promotion/apps/api"]),
    ("another repository", _event(PullRequestAction.PUSHED, "org/other", "main"), []),
]  # fmt: skip


@pytest.mark.parametrize(("event", "woken"), [c[1:] for c in WAKES], ids=[c[0] for c in WAKES])
def test_an_event_wakes_the_promotions_with_a_stage_there(
    event: ForgeEvent, woken: list[str]
) -> None:
    assert promotions_for_event(event, PLACES) == woken


def _ci(headers: dict[str, str]):  # type: ignore[no-untyped-def]
    from multidict import CIMultiDict

    return CIMultiDict(headers)
