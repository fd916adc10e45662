"""GitLab client against the GitLab contract (see specs.slice_path: no official file here)."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from image_automation.errors import ForgeConflict, ForgeError, ForgeNotFound
from image_automation.forges.base import ForgeSettings, NewPullRequest
from image_automation.forges.gitlab import GitLabForge, label_string
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://gitlab.example.com/api/v4"
TOKEN = "glpat-0123456789abcdefghij"
MRS = "/projects/{id}/merge_requests"
MR = MRS + "/{merge_request_iid}"


def mr(m: MockForge, iid: int = 6, *, head: str = "auto/web", **fields: Any) -> Any:
    # MergeRequestDetail (single-MR answers) is MergeRequest plus fields; lists accept it too.
    return m.contract.schema_sample(
        "MergeRequestDetail",
        iid=iid,
        web_url=f"https://gitlab.example.com/g/sub/fleet/-/merge_requests/{iid}",
        state=fields.pop("state", "opened"),
        source_branch=head,
        target_branch=fields.pop("base", "main"),
        title=fields.pop("title", "Update web"),
        description=fields.pop("description", "the body"),
        sha="9" * 40,
        draft=fields.pop("draft", False),
        labels=list(fields.pop("labels", ())),
        **fields,
    )


def user(uid: int, name: str) -> dict[str, Any]:
    return {
        "id": uid,
        "username": name,
        "name": name,
        "state": "active",
        "avatar_url": None,
        "web_url": f"https://gitlab.example.com/{name}",
    }


@pytest.fixture
def gl() -> MockForge:
    return MockForge("gitlab", ROOT)


@pytest.fixture
async def forge(gl: MockForge) -> AsyncIterator[GitLabForge]:
    client = GitLabForge(
        ForgeSettings("gitlab", ROOT, "g/sub/fleet", token=TOKEN),
        transport=gl.transport,
        clock=FakeClock(),
    )
    yield client
    await client.aclose()


async def test_the_project_path_is_one_encoded_segment(gl: MockForge, forge: GitLabForge) -> None:
    gl.on(
        "GET",
        "/projects/{id}",
        reply(200, gl.contract.schema_sample("Project", default_branch="main")),
    )
    assert await forge.default_branch() == "main"
    assert gl.seen[0].path == "/projects/g%2Fsub%2Ffleet"
    assert gl.seen[0].headers["authorization"] == f"Bearer {TOKEN}"


async def test_an_empty_project_has_no_default_branch(gl: MockForge, forge: GitLabForge) -> None:
    gl.on("GET", "/projects/{id}", reply(200, gl.contract.schema_sample("Project")))
    with pytest.raises(ForgeError, match="no default branch"):
        await forge.default_branch()


async def test_find_filters_by_source_branch_and_state(gl: MockForge, forge: GitLabForge) -> None:
    gl.on("GET", MRS, reply(200, [mr(gl, 8), mr(gl, 6)]))
    found = await forge.find_pull_request("auto/web", base="main")
    assert found is not None and found.number == 8
    call = gl.seen[0]
    assert (call.param("source_branch"), call.param("target_branch"), call.param("state")) == (
        "auto/web",
        "main",
        "opened",
    )


async def test_find_follows_x_next_page(gl: MockForge, forge: GitLabForge) -> None:
    gl.on(
        "GET",
        MRS,
        reply(200, [], {"x-next-page": "2"}),
        reply(200, [mr(gl, 3, state="merged")], {"x-next-page": ""}),
    )
    # An empty first page ends the listing, whatever X-Next-Page says.
    assert await forge.find_pull_request("auto/web", state="all") is None
    gl.seen.clear()
    gl.on(
        "GET",
        MRS,
        reply(200, [mr(gl, 1, head="other")], {"x-next-page": "2"}),
        reply(200, [mr(gl, 3, state="merged")], {"x-next-page": ""}),
    )
    found = await forge.find_pull_request("auto/web", state="all")
    assert found is not None and found.state == "merged"
    assert [c.param("page") for c in gl.seen] == [None, "2"]
    assert gl.seen[0].param("state") == "all"


@pytest.mark.parametrize(
    ("state", "expected"),
    [("opened", "open"), ("closed", "closed"), ("merged", "merged"), ("locked", "open")],
)
async def test_state_mapping(gl: MockForge, forge: GitLabForge, state: str, expected: str) -> None:
    gl.on("GET", MR, reply(200, mr(gl, 6, state=state)))
    assert (await forge.get_pull_request(6)).state == expected


async def test_open_draft_prefixes_the_title_and_joins_labels(
    gl: MockForge, forge: GitLabForge
) -> None:
    gl.on("POST", MRS, reply(201, mr(gl, 9, title="Draft: T", draft=True, labels=("a", "b"))))
    opened = await forge.open_pull_request(
        NewPullRequest("auto/web", "main", "T", "B", labels=("a", "b"), draft=True)
    )
    assert (opened.title, opened.draft, opened.labels) == ("T", True, ("a", "b"))
    assert gl.seen[0].body == {
        "source_branch": "auto/web",
        "target_branch": "main",
        "title": "Draft: T",
        "description": "B",
        "labels": "a,b",
    }


async def test_a_second_merge_request_for_the_branch_is_a_conflict(
    gl: MockForge, forge: GitLabForge
) -> None:
    said = {"message": ["Another open merge request already exists for this source branch: !6"]}
    gl.on("POST", MRS, reply(409, said))
    with pytest.raises(ForgeConflict, match="already exists"):
        await forge.open_pull_request(NewPullRequest("auto/web", "main", "T", "B"))


async def test_update_keeps_a_draft_a_draft_and_sets_labels(
    gl: MockForge, forge: GitLabForge
) -> None:
    gl.on("GET", MR, reply(200, mr(gl, 6, title="Draft: old", draft=True)))
    gl.on("PUT", MR, reply(200, mr(gl, 6, title="Draft: new", draft=True, labels=("x",))))
    updated = await forge.update_pull_request(6, title="new", body="nb", labels=("x",), base="rel")
    assert (updated.title, updated.labels) == ("new", ("x",))
    assert gl.calls("PUT", MR)[0].body == {
        "title": "Draft: new",
        "description": "nb",
        "labels": "x",
        "target_branch": "rel",
    }


async def test_close_notes_then_closes(gl: MockForge, forge: GitLabForge) -> None:
    gl.on("POST", MR + "/notes", reply(201, gl.contract.schema_sample("Note", id=1, body="bye")))
    gl.on("PUT", MR, reply(200, mr(gl, 6, state="closed")))
    assert (await forge.close_pull_request(6, comment="bye")).state == "closed"
    assert [s.body for s in gl.seen] == [{"body": "bye"}, {"state_event": "close"}]


async def test_reviewers_and_assignees_by_id_keep_the_ones_present(
    gl: MockForge, forge: GitLabForge
) -> None:
    gl.on("GET", "/users", reply(200, [user(11, "alice")]), reply(200, [user(12, "bob")]))
    gl.on("GET", MR, reply(200, mr(gl, 6, reviewers=[user(5, "carol")], assignees=[])))
    gl.on("PUT", MR, reply(200, mr(gl, 6)))
    await forge.request_review(6, reviewers=("alice",), assignees=("@bob",))
    assert [c.param("username") for c in gl.calls("GET", "/users")] == ["alice", "bob"]
    assert gl.calls("PUT", MR)[0].body == {"reviewer_ids": [5, 11], "assignee_ids": [12]}
    await forge.request_review(6, reviewers=("alice",))  # ids are cached per client
    assert len(gl.calls("GET", "/users")) == 2


async def test_an_unknown_username_is_not_found(gl: MockForge, forge: GitLabForge) -> None:
    gl.on("GET", "/users", reply(200, []))
    with pytest.raises(ForgeNotFound, match="'ghost'"):
        await forge.request_review(6, reviewers=("ghost",))


async def test_auto_merge_is_pinned_to_the_head_sha(gl: MockForge, forge: GitLabForge) -> None:
    gl.on("GET", MR, reply(200, mr(gl, 6)))
    gl.on("PUT", MR + "/merge", reply(200, mr(gl, 6)))
    assert await forge.enable_auto_merge(6, method="squash") is True
    assert gl.calls("PUT", MR + "/merge")[0].body == {
        "auto_merge": True,
        "merge_when_pipeline_succeeds": True,
        "sha": "9" * 40,
        "squash": True,
    }


async def test_auto_merge_refused_with_405_is_a_conflict(gl: MockForge, forge: GitLabForge) -> None:
    gl.on("GET", MR, reply(200, mr(gl, 6)))
    gl.on("PUT", MR + "/merge", reply(405, {"message": "405 Method Not Allowed"}))
    with pytest.raises(ForgeConflict, match="cannot be set to merge now") as caught:
        await forge.enable_auto_merge(6)
    assert caught.value.status == 405


@pytest.mark.parametrize(
    ("statuses", "expected"),
    [
        (("success", "skipped"), "success"),
        (("success", "running"), "pending"),
        (("manual",), "pending"),
        (("failed", "running"), "failure"),
        (("canceled",), "failure"),
        ((), "none"),
    ],
)
async def test_checks_from_commit_statuses(
    gl: MockForge, forge: GitLabForge, statuses: tuple[str, ...], expected: str
) -> None:
    values = [
        gl.contract.schema_sample("CommitStatus", name=f"job{i}", status=s)
        for i, s in enumerate(statuses)
    ]
    gl.on("GET", "/projects/{id}/repository/commits/{sha}/statuses", reply(200, values))
    assert (await forge.checks("9" * 40)).state == expected


@pytest.mark.parametrize("labels", [("a,b",), ("",), (" ",)])
def test_labels_that_a_comma_string_cannot_carry_are_refused(labels: tuple[str, ...]) -> None:
    with pytest.raises(ForgeError, match="comma"):
        label_string(labels)


@pytest.mark.parametrize("repository", ["fleet", "/fleet/", "g//fleet"])
def test_repository_must_have_a_group(repository: str) -> None:
    with pytest.raises(ForgeError, match="group/project"):
        GitLabForge(
            ForgeSettings("gitlab", ROOT, repository, token=TOKEN),
            transport=None,
            clock=FakeClock(),
        )
