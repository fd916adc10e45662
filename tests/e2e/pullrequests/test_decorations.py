"""Labels, reviewers, assignees, draft and auto-merge where each forge has them, through
``reconcile --once``; what a forge lacks is a warning in the report, never a failed run."""

from __future__ import annotations

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, native_automation
from tests.forges.server import FakeForge

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"
NO_ASSIGNEES = ("bitbucket", "azuredevops")


def _user(fake: FakeForge, name: str) -> str:
    """How ``name`` is named as a reviewer on ``fake``'s forge."""
    if fake.provider == "bitbucket":
        return str(fake.accounts[name])  # type: ignore[attr-defined]
    if fake.provider == "azuredevops":
        ids = fake.identities  # type: ignore[attr-defined]
        return next(guid for guid, who in ids.items() if who == name)
    return name


def test_labels_reviewers_assignees_and_draft_land_where_the_forge_has_them(
    fleet: PrFleet,
) -> None:
    fake = fleet.fake
    extra = (
        "    labels: [dependencies]\n"
        f'    reviewers: ["{_user(fake, "alice")}"]\n'
        "    assignees: [bob]\n"
        "    draft: true\n"
    )
    fleet.seed(native_automation(fake, pull_request=extra))
    fleet.push("1.1.0")
    done = fleet.reconcile()
    (pr,) = fleet.pulls()
    prefix = {"gitlab": "Draft: ", "gitea": "WIP: ", "forgejo": "WIP: "}.get(fake.provider)
    if prefix:  # these forges keep a draft as a title prefix
        assert pr.title.startswith(prefix) and pr.title.count(prefix) == 1, done.stdout
    else:
        assert pr.draft, done.stdout
    assert pr.reviewers == ["alice"], done.stdout
    assert pr.labels == ([] if fake.provider == "bitbucket" else ["dependencies"])
    if fake.provider in NO_ASSIGNEES:
        assert f"warning: {fake.provider} has no assignees" in done.stdout
        assert pr.assignees == []
    else:
        assert pr.assignees == ["bob"]

    fake.reset_requests()
    fleet.reconcile()
    assert fleet.writes() == []  # all of it is seen as done: nothing is sent twice


def test_auto_merge_merges_once_checks_pass_and_the_next_version_opens_afresh(
    fleet: PrFleet,
) -> None:
    fake = fleet.fake

    def ci_starts() -> None:
        if fake.repo.sha(HEAD):
            fake.set_status(HEAD, "ci", "pending")

    fleet.git.on_push = ci_starts
    fleet.seed(native_automation(fake, pull_request="    autoMerge: squash\n"))
    fleet.push("1.1.0")
    done = fleet.reconcile()
    (pr,) = fleet.pulls()
    if fake.provider == "bitbucket":
        assert "auto-merge is not available on bitbucket" in done.stdout
        return
    assert pr.auto_merge is not None, done.stdout
    fake.set_status(HEAD, "ci", "success")
    assert fake.pull(pr.number).state == "merged"  # the forge merged it, not us
    assert fleet.marked("main") == "1.1.0"

    fleet.push("1.2.0")
    after = fleet.reconcile()
    assert f"#{pr.number} was merged" in after.stdout
    merged, fresh = fleet.pulls()
    assert merged.state == "merged" and fresh.state == "open" and "1.2.0" in fresh.title


def test_a_label_the_forge_does_not_know_is_a_warning_not_a_failed_run(fleet: PrFleet) -> None:
    fake = fleet.fake
    fleet.seed(native_automation(fake, pull_request="    labels: [no-such-label]\n"))
    fleet.push("1.1.0")
    done = fleet.reconcile()
    (pr,) = fleet.pulls()
    assert pr.state == "open", done.stdout
    if fake.provider in ("gitea", "forgejo"):  # labels by id: one must exist first
        assert "warning: labels not set" in done.stdout and "no-such-label" in done.stdout
        assert pr.labels == []
