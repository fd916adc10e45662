"""GitHub client against GitHub's official OpenAPI slice (every request and answer checked)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from image_automation.errors import ForgeConflict, ForgeError, ForgeNotFound
from image_automation.forges.base import ForgeSettings, NewPullRequest
from image_automation.forges.github import GitHubForge, graphql_url
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://api.github.com"
TOKEN = "ghp_S3cretT0ken0123456789abcdef"
PULLS = "/repos/{owner}/{repo}/pulls"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"
LABELS = "/repos/{owner}/{repo}/issues/{issue_number}/labels"
COMMENTS = "/repos/{owner}/{repo}/issues/{issue_number}/comments"


def label(gh: MockForge, name: str) -> dict[str, Any]:
    return {
        "id": 1,
        "node_id": "L",
        "url": "https://api.github.com/x",
        "name": name,
        "description": "",
        "color": "ffffff",
        "default": False,
    }


def pull(
    gh: MockForge,
    number: int = 7,
    *,
    full: bool = False,
    head: str = "auto/web",
    base: str = "main",
    labels: tuple[str, ...] = (),
    **fields: Any,
) -> dict[str, Any]:
    """A pull request as GitHub sends it (``full``: the single-PR shape)."""
    return gh.contract.schema_sample(
        "pull-request" if full else "pull-request-simple",
        number=number,
        state=fields.pop("state", "open"),
        html_url=f"https://github.com/org/fleet/pull/{number}",
        title=fields.pop("title", "Update web"),
        body=fields.pop("body", "the body"),
        node_id=f"PR_node{number}",
        head={"ref": head, "sha": "a" * 40},
        base={"ref": base},
        labels=[label(gh, n) for n in labels],
        **fields,
    )


@pytest.fixture
def gh() -> MockForge:
    return MockForge("github", ROOT)


@pytest.fixture
async def forge(gh: MockForge) -> AsyncIterator[GitHubForge]:
    settings = ForgeSettings("github", ROOT, "org/fleet", token=TOKEN)
    client = GitHubForge(settings, transport=gh.transport, clock=FakeClock())
    yield client
    await client.aclose()


async def test_find_asks_for_the_head_branch_and_returns_the_newest(
    gh: MockForge, forge: GitHubForge
) -> None:
    gh.on("GET", PULLS, reply(200, [pull(gh, 9), pull(gh, 7), pull(gh, 8, head="other")]))
    found = await forge.find_pull_request("auto/web", base="main")
    assert found is not None and found.number == 9
    [call] = gh.calls("GET", PULLS)
    assert call.param("head") == "org:auto/web"
    assert call.param("state") == "open"
    assert call.param("base") == "main"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"
    assert call.headers["x-github-api-version"] == "2022-11-28"


async def test_find_answers_none_when_no_pull_request_has_the_head(
    gh: MockForge, forge: GitHubForge
) -> None:
    gh.on("GET", PULLS, reply(200, [pull(gh, 3, head="someone-else")]))
    assert await forge.find_pull_request("auto/web", state="all") is None
    assert gh.calls()[0].param("state") == "all"


@pytest.mark.parametrize(
    ("state", "merged_at", "expected"),
    [
        ("open", None, "open"),
        ("closed", None, "closed"),
        ("closed", "2026-01-02T03:04:05Z", "merged"),
    ],
)
async def test_state_comes_from_state_and_merged_at(
    gh: MockForge, forge: GitHubForge, state: str, merged_at: str | None, expected: str
) -> None:
    gh.on("GET", PULLS, reply(200, [pull(gh, 4, state=state, merged_at=merged_at)]))
    found = await forge.find_pull_request("auto/web", state="all")
    assert found is not None and found.state == expected


async def test_open_sends_draft_then_sets_labels_by_name(gh: MockForge, forge: GitHubForge) -> None:
    gh.on("POST", PULLS, reply(201, pull(gh, 12, full=True, draft=True)))
    gh.on("PUT", LABELS, reply(200, [label(gh, "deps"), label(gh, "auto")]))
    gh.on("GET", PULL, reply(200, pull(gh, 12, full=True, draft=True, labels=("deps", "auto"))))
    new = NewPullRequest(
        "auto/web", "main", "Update web", "body", labels=("deps", "auto"), draft=True
    )
    opened = await forge.open_pull_request(new)
    assert (opened.number, opened.labels, opened.draft) == (12, ("deps", "auto"), True)
    create, labels, _read = gh.seen
    assert create.body == {
        "title": "Update web",
        "head": "auto/web",
        "base": "main",
        "body": "body",
        "draft": True,
    }
    assert (labels.template, labels.path, labels.body) == (
        LABELS,
        "/repos/org/fleet/issues/12/labels",
        {"labels": ["deps", "auto"]},
    )


async def test_open_without_labels_is_one_request(gh: MockForge, forge: GitHubForge) -> None:
    gh.on("POST", PULLS, reply(201, pull(gh, 5, full=True)))
    opened = await forge.open_pull_request(NewPullRequest("auto/web", "main", "t", "b"))
    assert opened.number == 5 and len(gh.seen) == 1
    assert "draft" not in gh.seen[0].body


async def test_a_second_pull_request_for_the_head_is_a_conflict(
    gh: MockForge, forge: GitHubForge
) -> None:
    error = {
        "message": "Validation Failed",
        "errors": [
            {
                "resource": "PullRequest",
                "code": "custom",
                "message": "A pull request already exists for org:auto/web.",
            }
        ],
        "documentation_url": "https://docs.github.com/rest",
    }
    gh.on("POST", PULLS, reply(422, error))
    with pytest.raises(ForgeConflict, match="already exists") as caught:
        await forge.open_pull_request(NewPullRequest("auto/web", "main", "t", "b"))
    assert caught.value.status == 422


async def test_update_patches_only_the_given_fields(gh: MockForge, forge: GitHubForge) -> None:
    gh.on("PATCH", PULL, reply(200, pull(gh, 7, full=True, title="New")))
    updated = await forge.update_pull_request(7, title="New", base="release")
    assert updated.title == "New"
    assert gh.seen[0].body == {"title": "New", "base": "release"}


async def test_update_of_labels_only_reads_the_pull_request_back(
    gh: MockForge, forge: GitHubForge
) -> None:
    gh.on("PUT", LABELS, reply(200, [label(gh, "x")]))
    gh.on("GET", PULL, reply(200, pull(gh, 7, full=True, labels=("x",))))
    updated = await forge.update_pull_request(7, labels=("x",))
    assert updated.labels == ("x",)
    assert [s.method for s in gh.seen] == ["PUT", "GET"]


async def test_an_empty_label_set_leaves_labels_alone(gh: MockForge, forge: GitHubForge) -> None:
    gh.on("GET", PULL, reply(200, pull(gh, 7, full=True, labels=("human",))))
    updated = await forge.update_pull_request(7, labels=())
    assert updated.labels == ("human",)
    assert [s.method for s in gh.seen] == ["GET"]


async def test_close_comments_first_then_closes(gh: MockForge, forge: GitHubForge) -> None:
    comment = gh.sample("POST", COMMENTS, 201)
    gh.on("POST", COMMENTS, reply(201, comment))
    gh.on("PATCH", PULL, reply(200, pull(gh, 7, full=True, state="closed")))
    closed = await forge.close_pull_request(7, comment="Superseded by #9")
    assert closed.state == "closed"
    first, second = gh.seen
    assert (first.template, first.body) == (COMMENTS, {"body": "Superseded by #9"})
    assert (second.template, second.body) == (PULL, {"state": "closed"})


async def test_review_requests_users_teams_and_assignees(gh: MockForge, forge: GitHubForge) -> None:
    reviewers = "/repos/{owner}/{repo}/pulls/{pull_number}/requested_reviewers"
    assignees = "/repos/{owner}/{repo}/issues/{issue_number}/assignees"
    gh.on("POST", reviewers, reply(201, pull(gh, 7)))
    gh.on("POST", assignees, reply(201, gh.sample("POST", assignees, 201)))
    await forge.request_review(7, reviewers=("alice", "org/platform"), assignees=("bob",))
    assert gh.seen[0].body == {"reviewers": ["alice"], "team_reviewers": ["platform"]}
    assert gh.seen[1].body == {"assignees": ["bob"]}


def _graphql(answer: dict[str, Any], seen: list[Any]) -> Any:
    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert set(body) == {"query", "variables"}
        assert "enablePullRequestAutoMerge" in body["query"]
        assert body["variables"]["mergeMethod"] in ("MERGE", "SQUASH", "REBASE")
        seen.append(body)
        return httpx.Response(200, json=answer)

    return handler


async def test_auto_merge_uses_the_graphql_mutation_with_the_node_id(
    gh: MockForge, forge: GitHubForge
) -> None:
    sent: list[Any] = []
    gh.on("GET", PULL, reply(200, pull(gh, 7, full=True)))
    answer = {"data": {"enablePullRequestAutoMerge": {"pullRequest": {"number": 7}}}}
    gh.outside[("POST", "/graphql")] = _graphql(answer, sent)
    assert await forge.enable_auto_merge(7, method="squash") is True
    assert sent[0]["variables"] == {"pullRequestId": "PR_node7", "mergeMethod": "SQUASH"}
    assert gh.seen[-1].headers["authorization"] == f"Bearer {TOKEN}"


@pytest.mark.parametrize(
    ("message", "kind", "outcome"),
    [
        ("Pull request Auto merge is not allowed for this repository", "UNPROCESSABLE", False),
        ("Pull request is in clean status", "UNPROCESSABLE", ForgeConflict),
        ("Could not resolve to a node", "NOT_FOUND", ForgeNotFound),
        ("Something else", None, ForgeError),
    ],
)
async def test_auto_merge_refusals_are_typed(
    gh: MockForge, forge: GitHubForge, message: str, kind: str | None, outcome: object
) -> None:
    gh.on("GET", PULL, reply(200, pull(gh, 7, full=True)))
    error: dict[str, Any] = {"message": message}
    if kind:
        error["type"] = kind
    gh.outside[("POST", "/graphql")] = _graphql({"data": None, "errors": [error]}, [])
    if outcome is False:
        assert await forge.enable_auto_merge(7) is False
    else:
        with pytest.raises(outcome):  # type: ignore[call-overload]
            await forge.enable_auto_merge(7)


def _status(gh: MockForge, context: str, state: str) -> dict[str, Any]:
    return gh.contract.schema_sample(
        "simple-commit-status", context=context, state=state, target_url=None
    )


def _run(gh: MockForge, name: str, status: str, conclusion: str | None) -> dict[str, Any]:
    return gh.contract.schema_sample(
        "check-run", name=name, status=status, conclusion=conclusion, html_url=None
    )


async def test_checks_join_commit_statuses_and_every_page_of_check_runs(
    gh: MockForge, forge: GitHubForge
) -> None:
    sha = "b" * 40
    combined = gh.sample(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/status",
        statuses=[_status(gh, "ci/lint", "success")],
        state="success",
    )
    runs = "/repos/{owner}/{repo}/commits/{ref}/check-runs"
    nxt = {
        "link": f'<{ROOT}/repos/org/fleet/commits/{sha}/check-runs?per_page=100&page=2>; rel="next"'
    }
    gh.on("GET", "/repos/{owner}/{repo}/commits/{ref}/status", reply(200, combined))
    gh.on(
        "GET",
        runs,
        reply(
            200, {"total_count": 2, "check_runs": [_run(gh, "build", "completed", "success")]}, nxt
        ),
        # GitHub sends conclusion null while a run is in progress, but its spec's enum has no
        # null (openapi-core rejects it): a schema-valid value; status decides anyway.
        reply(200, {"total_count": 2, "check_runs": [_run(gh, "e2e", "in_progress", "neutral")]}),
    )
    checks = await forge.checks(sha)
    assert checks.state == "pending"
    assert [(r.name, r.state) for r in checks.runs] == [
        ("ci/lint", "success"),
        ("build", "success"),
        ("e2e", "pending"),
    ]
    assert gh.calls("GET", runs)[1].param("page") == "2"


@pytest.mark.parametrize(
    ("status_state", "conclusion", "expected"),
    [
        ("success", "success", "success"),
        ("failure", "success", "failure"),
        ("error", "success", "failure"),
        ("success", "timed_out", "failure"),
        ("success", "skipped", "success"),
        ("pending", "neutral", "pending"),
    ],
)
async def test_overall_check_state(
    gh: MockForge, forge: GitHubForge, status_state: str, conclusion: str, expected: str
) -> None:
    combined = gh.sample(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/status",
        statuses=[_status(gh, "s", status_state)],
    )
    gh.on("GET", "/repos/{owner}/{repo}/commits/{ref}/status", reply(200, combined))
    gh.on(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        reply(200, {"total_count": 1, "check_runs": [_run(gh, "r", "completed", conclusion)]}),
    )
    assert (await forge.checks("c" * 40)).state == expected


async def test_no_statuses_and_no_runs_is_none_not_pending(
    gh: MockForge, forge: GitHubForge
) -> None:
    # GitHub's combined state is "pending" when no status exists at all.
    combined = gh.sample("GET", "/repos/{owner}/{repo}/commits/{ref}/status", state="pending")
    gh.on("GET", "/repos/{owner}/{repo}/commits/{ref}/status", reply(200, combined))
    gh.on(
        "GET",
        "/repos/{owner}/{repo}/commits/{ref}/check-runs",
        reply(200, {"total_count": 0, "check_runs": []}),
    )
    assert (await forge.checks("d" * 40)).state == "none"


async def test_repeated_reads_are_conditional_and_304_costs_nothing(
    gh: MockForge, forge: GitHubForge
) -> None:
    repo = gh.sample("GET", "/repos/{owner}/{repo}", default_branch="trunk")
    etag = '"abc123"'

    def second(request: httpx.Request) -> httpx.Response:
        assert request.headers.get("if-none-match") == etag
        return httpx.Response(304, headers={"etag": etag})

    gh.on("GET", "/repos/{owner}/{repo}", reply(200, repo, {"etag": etag}), second)
    assert await forge.default_branch() == "trunk"
    assert await forge.default_branch() == "trunk"
    assert "if-none-match" not in gh.seen[0].headers
    assert (forge.http.counters.requests, forge.http.counters.not_modified) == (2, 1)


async def test_a_missing_pull_request_is_not_found_and_names_no_token(
    gh: MockForge, forge: GitHubForge
) -> None:
    gh.on(
        "GET",
        PULL,
        reply(404, {"message": f"Not Found {TOKEN}", "documentation_url": "https://d"}),
    )
    with pytest.raises(ForgeNotFound) as caught:
        await forge.get_pull_request(404)
    assert TOKEN not in str(caught.value)
    assert "/repos/org/fleet/pulls/404" in str(caught.value)


async def test_enterprise_server_uses_its_api_v3_root_and_api_graphql() -> None:
    gh = MockForge("github", "https://ghe.example.com/api/v3")
    gh.on("GET", PULL, reply(200, pull(gh, 3, full=True)))
    gh.outside[("POST", "/api/graphql")] = _graphql({"data": {}}, [])
    settings = ForgeSettings("github", "https://ghe.example.com/api/v3", "org/fleet", token=TOKEN)
    client = GitHubForge(settings, transport=gh.transport, clock=FakeClock())
    try:
        assert await client.enable_auto_merge(3) is True
    finally:
        await client.aclose()
    assert gh.seen[0].path == "/repos/org/fleet/pulls/3"
    assert graphql_url("https://api.github.com") == "https://api.github.com/graphql"


@pytest.mark.parametrize("repository", ["org", "org/fleet/extra", "/", "org//fleet"])
def test_repository_must_be_owner_and_name(repository: str) -> None:
    with pytest.raises(ForgeError, match="owner/name"):
        GitHubForge(
            ForgeSettings("github", ROOT, repository, token=TOKEN),
            transport=None,
            clock=FakeClock(),
        )
