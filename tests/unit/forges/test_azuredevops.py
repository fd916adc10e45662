"""Azure DevOps client against the official Git 7.2 slice (converted to OpenAPI 3)."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from image_automation.errors import ForgeError, ForgeUnsupported
from image_automation.forges.azuredevops import MAX_DESCRIPTION, AzureDevOpsForge, fit
from image_automation.forges.base import ForgeSettings, NewPullRequest
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://dev.azure.com"
TOKEN = "azdo-pat-0123456789abcdefghijklmnopqrstuvwxyz"
R = "/{organization}/{project}/_apis/git/repositories/{repositoryId}"
PULLS = R + "/pullrequests"
PULL = PULLS + "/{pullRequestId}"
CREATOR = "11111111-2222-3333-4444-555555555555"


def pull(m: MockForge, number: int = 21, *, head: str = "auto/web", **fields: Any) -> Any:
    return m.contract.schema_sample(
        "GitPullRequest",
        pullRequestId=number,
        status=fields.pop("status", "active"),
        sourceRefName=f"refs/heads/{head}",
        targetRefName=f"refs/heads/{fields.pop('base', 'main')}",
        title=fields.pop("title", "Update web"),
        description="the body",
        lastMergeSourceCommit={"commitId": "c" * 40},
        createdBy={"id": CREATOR},
        labels=[{"name": n, "active": True} for n in fields.pop("labels", ())],
        **fields,
    )


def listing(values: list[Any]) -> dict[str, Any]:
    return {"count": len(values), "value": values}


@pytest.fixture
def az() -> MockForge:
    return MockForge("azure-devops", ROOT)


@pytest.fixture
async def forge(az: MockForge) -> AsyncIterator[AzureDevOpsForge]:
    client = AzureDevOpsForge(
        ForgeSettings("azuredevops", f"{ROOT}/org", "org/proj/_git/fleet", token=TOKEN),
        transport=az.transport,
        clock=FakeClock(),
    )
    yield client
    await client.aclose()


async def test_find_filters_by_source_ref_and_sends_the_pat_as_basic_password(
    az: MockForge, forge: AzureDevOpsForge
) -> None:
    az.on("GET", PULLS, reply(200, listing([pull(az, 21), pull(az, 30), pull(az, 40, head="x")])))
    found = await forge.find_pull_request("auto/web", base="main")
    assert found is not None and found.number == 30
    assert found.url == f"{ROOT}/org/proj/_git/fleet/pullrequest/30"
    [call] = az.seen
    assert call.path == "/org/proj/_apis/git/repositories/fleet/pullrequests"
    assert call.param("searchCriteria.sourceRefName") == "refs/heads/auto/web"
    assert call.param("searchCriteria.targetRefName") == "refs/heads/main"
    assert call.param("searchCriteria.status") == "active"
    assert call.param("api-version") == "7.2-preview.2"
    assert (
        call.headers["authorization"] == "Basic " + base64.b64encode(f":{TOKEN}".encode()).decode()
    )


async def test_find_pages_by_skip_while_pages_are_full(
    az: MockForge, forge: AzureDevOpsForge
) -> None:
    full = [pull(az, n, head="other") for n in range(1, 101)]
    az.on("GET", PULLS, reply(200, listing(full)), reply(200, listing([pull(az, 120)])))
    found = await forge.find_pull_request("auto/web", state="all")
    assert found is not None and found.number == 120
    assert [c.param("$skip") for c in az.seen] == [None, "100"]
    assert az.seen[0].param("searchCriteria.status") == "all"


@pytest.mark.parametrize(
    ("status", "expected"),
    [("active", "open"), ("completed", "merged"), ("abandoned", "closed")],
)
async def test_state_mapping(
    az: MockForge, forge: AzureDevOpsForge, status: str, expected: str
) -> None:
    az.on("GET", PULL, reply(200, pull(az, 5, status=status)))
    assert (await forge.get_pull_request(5)).state == expected


async def test_open_sends_refs_draft_labels_and_a_description_that_fits(
    az: MockForge, forge: AzureDevOpsForge
) -> None:
    az.on("POST", PULLS, reply(200, pull(az, 22, isDraft=True, labels=("deps",))))
    long_body = "x" * (MAX_DESCRIPTION + 10)
    new = NewPullRequest("auto/web", "main", "T", long_body, labels=("deps",), draft=True)
    opened = await forge.open_pull_request(new)
    assert (opened.number, opened.draft, opened.labels, opened.head_sha) == (
        22,
        True,
        ("deps",),
        "c" * 40,
    )
    sent = az.seen[0].body
    assert sent["sourceRefName"] == "refs/heads/auto/web"
    assert sent["targetRefName"] == "refs/heads/main"
    assert (sent["isDraft"], sent["labels"]) == (True, [{"name": "deps"}])
    assert len(sent["description"]) == MAX_DESCRIPTION
    assert sent["description"].endswith("(truncated)")


async def test_labels_are_added_where_missing_never_removed(
    az: MockForge, forge: AzureDevOpsForge
) -> None:
    labels = R + "/pullRequests/{pullRequestId}/labels"
    az.on("GET", PULL, reply(200, pull(az, 5, labels=("deps", "human"))))
    az.on("POST", labels, reply(200, az.contract.schema_sample("WebApiTagDefinition", name="auto")))
    await forge.update_pull_request(5, labels=("deps", "auto"))
    posted = az.calls("POST", labels)
    assert [c.body for c in posted] == [{"name": "auto"}]
    assert posted[0].param("api-version") == "7.2-preview.1"


async def test_update_and_close(az: MockForge, forge: AzureDevOpsForge) -> None:
    threads = R + "/pullRequests/{pullRequestId}/threads"
    az.on(
        "PATCH",
        PULL,
        reply(200, pull(az, 5, title="New")),
        reply(200, pull(az, 5, status="abandoned")),
    )
    az.on("POST", threads, reply(200, az.contract.schema_sample("GitPullRequestCommentThread")))
    await forge.update_pull_request(5, title="New", body="B", base="release")
    closed = await forge.close_pull_request(5, comment="superseded by !9")
    assert closed.state == "closed"
    patch, thread, abandon = az.seen
    assert patch.body == {"title": "New", "description": "B", "targetRefName": "refs/heads/release"}
    assert thread.body == {
        "comments": [{"parentCommentId": 0, "content": "superseded by !9", "commentType": "text"}],
        "status": "closed",
    }
    assert abandon.body == {"status": "abandoned"}


async def test_auto_complete_is_set_by_the_creator_with_a_strategy(
    az: MockForge, forge: AzureDevOpsForge
) -> None:
    az.on("GET", PULL, reply(200, pull(az, 5)))
    az.on("PATCH", PULL, reply(200, pull(az, 5)))
    assert await forge.enable_auto_merge(5, method="squash") is True
    assert az.calls("PATCH", PULL)[0].body == {
        "autoCompleteSetBy": {"id": CREATOR},
        "completionOptions": {"mergeStrategy": "squash", "deleteSourceBranch": False},
    }


async def test_reviewers_by_identity_id_and_no_assignees(
    az: MockForge, forge: AzureDevOpsForge
) -> None:
    reviewers = R + "/pullRequests/{pullRequestId}/reviewers"
    az.on(
        "POST", reviewers, reply(200, listing([az.contract.schema_sample("IdentityRefWithVote")]))
    )
    await forge.request_review(5, reviewers=(CREATOR,))
    assert az.seen[0].body == [{"id": CREATOR}]
    with pytest.raises(ForgeUnsupported):
        await forge.request_review(5, assignees=("bob",))


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("succeeded", "notApplicable"), "success"),
        (("succeeded", "pending"), "pending"),
        (("failed", "pending"), "failure"),
        (("error",), "failure"),
        ((), "none"),
    ],
)
async def test_checks_from_commit_statuses(
    az: MockForge, forge: AzureDevOpsForge, states: tuple[str, ...], expected: str
) -> None:
    statuses = R + "/commits/{commitId}/statuses"
    values = [
        az.contract.schema_sample("GitStatus", state=s, context={"genre": "ci", "name": f"n{i}"})
        for i, s in enumerate(states)
    ]
    az.on("GET", statuses, reply(200, listing(values)))
    checks = await forge.checks("c" * 40)
    assert checks.state == expected
    assert [r.name for r in checks.runs] == [f"ci/n{i}" for i in range(len(states))]


async def test_default_branch_drops_refs_heads(az: MockForge, forge: AzureDevOpsForge) -> None:
    repo = az.contract.schema_sample("GitRepository", defaultBranch="refs/heads/trunk")
    az.on("GET", R, reply(200, repo))
    assert await forge.default_branch() == "trunk"


@pytest.mark.parametrize("repository", ["org/proj/fleet", "org/proj/_git/", "_git/fleet"])
def test_repository_must_name_project_and_repo(repository: str) -> None:
    with pytest.raises(ForgeError, match="_git"):
        AzureDevOpsForge(
            ForgeSettings("azuredevops", ROOT + "/org", repository, token=TOKEN),
            transport=None,
            clock=FakeClock(),
        )


def test_fit_leaves_short_text_alone() -> None:
    assert fit("short") == "short"
    assert len(fit("y" * 5000, 100)) == 100
