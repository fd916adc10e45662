"""Gitea and Forgejo client against each one's official slice (one class, two flavours)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from image_automation.errors import ForgeConflict, ForgeNotFound
from image_automation.forges.base import ForgeSettings, NewPullRequest
from image_automation.forges.gitea import GiteaForge
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://git.example.com/api/v1"
TOKEN = "gtea_0123456789abcdef0123456789abcdef"
PULLS = "/repos/{owner}/{repo}/pulls"
PULL = "/repos/{owner}/{repo}/pulls/{index}"
LABELS = "/repos/{owner}/{repo}/labels"
ISSUE_LABELS = "/repos/{owner}/{repo}/issues/{index}/labels"
COMMENTS = "/repos/{owner}/{repo}/issues/{index}/comments"
MERGE = "/repos/{owner}/{repo}/pulls/{index}/merge"


def pull(m: MockForge, number: int = 3, *, head: str = "auto/web", **fields: Any) -> Any:
    return m.contract.schema_sample(
        "PullRequest",
        number=number,
        html_url=f"https://git.example.com/org/fleet/pulls/{number}",
        state=fields.pop("state", "open"),
        merged=fields.pop("merged", False),
        title=fields.pop("title", "Update web"),
        body="the body",
        draft=fields.pop("draft", False),
        head={"ref": head, "sha": "e" * 40},
        base={"ref": fields.pop("base", "main")},
        labels=[{"id": 1, "name": n} for n in fields.pop("labels", ())],
        **fields,
    )


@pytest.fixture(params=["gitea", "forgejo"])
def flavour(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture
def mock(flavour: str) -> MockForge:
    return MockForge(flavour, ROOT)


@pytest.fixture
async def forge(mock: MockForge, flavour: str) -> AsyncIterator[GiteaForge]:
    client = GiteaForge(
        ForgeSettings(flavour, ROOT, "org/fleet", token=TOKEN),
        transport=mock.transport,
        clock=FakeClock(),
    )
    yield client
    await client.aclose()


async def test_find_filters_by_head_itself_and_returns_the_newest(
    mock: MockForge, forge: GiteaForge, flavour: str
) -> None:
    mock.on("GET", PULLS, reply(200, [pull(mock, 2), pull(mock, 5), pull(mock, 9, head="x")]))
    found = await forge.find_pull_request("auto/web", base="main")
    assert found is not None and found.number == 5
    [call] = mock.seen
    assert call.headers["authorization"] == f"token {TOKEN}"
    if flavour == "forgejo":
        assert (call.param("head"), call.param("base")) == ("auto/web", "main")
    else:
        assert (call.param("head"), call.param("base_branch")) == (None, "main")


async def test_find_follows_link_pages(mock: MockForge, forge: GiteaForge) -> None:
    nxt = {"link": f'<{ROOT}/repos/org/fleet/pulls?state=open&limit=50&page=2>; rel="next"'}
    mock.on("GET", PULLS, reply(200, [pull(mock, 1, head="a")], nxt), reply(200, [pull(mock, 4)]))
    found = await forge.find_pull_request("auto/web")
    assert found is not None and found.number == 4
    assert mock.seen[1].param("page") == "2"


@pytest.mark.parametrize(
    ("state", "merged", "expected"),
    [("open", False, "open"), ("closed", False, "closed"), ("closed", True, "merged")],
)
async def test_state_comes_from_state_and_merged(
    mock: MockForge, forge: GiteaForge, state: str, merged: bool, expected: str
) -> None:
    mock.on("GET", PULL, reply(200, pull(mock, 3, state=state, merged=merged)))
    assert (await forge.get_pull_request(3)).state == expected


async def test_open_draft_with_labels_sends_wip_prefix_and_label_ids(
    mock: MockForge, forge: GiteaForge
) -> None:
    mock.on("GET", LABELS, reply(200, [{"id": 11, "name": "deps"}, {"id": 12, "name": "auto"}]))
    mock.on(
        "POST",
        PULLS,
        reply(201, pull(mock, 8, title="WIP: Update web", draft=True, labels=("auto",))),
    )
    new = NewPullRequest("auto/web", "main", "Update web", "b", labels=("auto",), draft=True)
    opened = await forge.open_pull_request(new)
    assert (opened.title, opened.draft, opened.labels) == ("Update web", True, ("auto",))
    create = mock.calls("POST", PULLS)[0]
    assert create.body == {
        "head": "auto/web",
        "base": "main",
        "title": "WIP: Update web",
        "body": "b",
        "labels": [12],
    }


async def test_labels_are_looked_up_once_and_a_missing_one_is_named(
    mock: MockForge, forge: GiteaForge
) -> None:
    mock.on("GET", LABELS, reply(200, [{"id": 11, "name": "deps"}]))
    mock.on("PUT", ISSUE_LABELS, reply(200, [{"id": 11, "name": "deps"}]))
    mock.on("GET", PULL, reply(200, pull(mock, 3, labels=("deps",))))
    await forge.update_pull_request(3, labels=("deps",))
    await forge.update_pull_request(3, labels=("deps",))
    assert len(mock.calls("GET", LABELS)) == 1
    assert mock.calls("PUT", ISSUE_LABELS)[0].body == {"labels": [11]}
    with pytest.raises(ForgeNotFound, match="'nope'"):
        await forge.update_pull_request(3, labels=("nope",))
    assert len(mock.calls("GET", LABELS)) == 2  # looked again before giving up


async def test_retitling_a_draft_keeps_it_a_draft(mock: MockForge, forge: GiteaForge) -> None:
    mock.on("GET", PULL, reply(200, pull(mock, 3, title="WIP: old", draft=True)))
    mock.on("PATCH", PULL, reply(201, pull(mock, 3, title="WIP: new", draft=True)))
    updated = await forge.update_pull_request(3, title="new", body="nb")
    assert updated.title == "new"
    assert mock.calls("PATCH", PULL)[0].body == {"title": "WIP: new", "body": "nb"}


async def test_close_comments_then_sets_state_closed(mock: MockForge, forge: GiteaForge) -> None:
    mock.on("POST", COMMENTS, reply(201, mock.contract.schema_sample("Comment", body="bye")))
    mock.on("PATCH", PULL, reply(201, pull(mock, 3, state="closed")))
    closed = await forge.close_pull_request(3, comment="bye")
    assert closed.state == "closed"
    assert [s.body for s in mock.seen] == [{"body": "bye"}, {"state": "closed"}]


async def test_auto_merge_field_case_differs_between_flavours(
    mock: MockForge, forge: GiteaForge, flavour: str
) -> None:
    mock.on("POST", MERGE, reply(200))
    assert await forge.enable_auto_merge(3, method="squash") is True
    action = "Do" if flavour == "forgejo" else "do"
    assert mock.seen[0].body == {action: "squash", "merge_when_checks_succeed": True}


async def test_auto_merge_on_a_conflicting_pull_request_is_a_conflict(
    mock: MockForge, forge: GiteaForge
) -> None:
    mock.on("POST", MERGE, reply(409, {"message": "merge conflict", "url": "https://x"}))
    with pytest.raises(ForgeConflict):
        await forge.enable_auto_merge(3)


async def test_assignees_gitea_adds_forgejo_edits_keeping_the_present_ones(
    mock: MockForge, forge: GiteaForge, flavour: str
) -> None:
    reviewers = "/repos/{owner}/{repo}/pulls/{index}/requested_reviewers"
    mock.on("POST", reviewers, reply(201, [mock.contract.schema_sample("PullReview")]))
    if flavour == "gitea":
        assignees = "/repos/{owner}/{repo}/issues/{index}/assignees"
        mock.on("POST", assignees, reply(201, mock.contract.schema_sample("Issue")))
    else:
        present = pull(mock, 3, assignees=[mock.contract.schema_sample("User", login="carol")])
        mock.on("GET", PULL, reply(200, present))
        mock.on("PATCH", PULL, reply(201, pull(mock, 3)))
    await forge.request_review(3, reviewers=("alice", "org/ops"), assignees=("bob",))
    assert mock.seen[0].body == {"reviewers": ["alice"], "team_reviewers": ["ops"]}
    if flavour == "gitea":
        assert mock.seen[1].body == {"assignees": ["bob"]}
    else:
        assert mock.calls("PATCH", PULL)[0].body == {"assignees": ["carol", "bob"]}


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        ((), "none"),
        (("success", "warning", "skipped"), "success"),
        (("success", "pending"), "pending"),
        (("pending", "error"), "failure"),
        (("failure",), "failure"),
    ],
)
async def test_checks_come_from_the_combined_status(
    mock: MockForge, forge: GiteaForge, states: tuple[str, ...], expected: str
) -> None:
    statuses = [
        mock.contract.schema_sample("CommitStatus", context=f"ci/{i}", status=s)
        for i, s in enumerate(states)
    ]
    combined = mock.contract.schema_sample("CombinedStatus", statuses=statuses)
    mock.on("GET", "/repos/{owner}/{repo}/commits/{ref}/status", reply(200, combined))
    checks = await forge.checks("f" * 40)
    assert checks.state == expected
    assert len(checks.runs) == len(states)


async def test_default_branch(mock: MockForge, forge: GiteaForge) -> None:
    repo = mock.contract.schema_sample("Repository", default_branch="develop")
    mock.on("GET", "/repos/{owner}/{repo}", reply(200, repo))
    assert await forge.default_branch() == "develop"
