"""Bitbucket Cloud client against Bitbucket's official (converted) slice."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from typing import Any

import pytest

from image_automation.errors import ForgeUnsupported
from image_automation.forges.base import ForgeSettings, NewPullRequest
from image_automation.forges.bitbucket import BitbucketForge, bbql_string
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://api.bitbucket.org/2.0"
TOKEN = "ATCTT3xFfGN0_secret_token_value"
REPO = "/repositories/{workspace}/{repo_slug}"
PULLS = REPO + "/pullrequests"
PULL = PULLS + "/{pull_request_id}"


def pull(m: MockForge, number: int = 4, *, head: str = "auto/web", **fields: Any) -> Any:
    return m.contract.schema_sample(
        "pullrequest",
        id=number,
        title=fields.pop("title", "Update web"),
        state=fields.pop("state", "OPEN"),
        links={"html": {"href": f"https://bitbucket.org/ws/fleet/pull-requests/{number}"}},
        source={"branch": {"name": head}, "commit": {"hash": "abcdef012345"}},
        destination={"branch": {"name": fields.pop("base", "main")}},
        summary={"raw": "the body"},
        **fields,
    )


def page(values: list[Any], next_url: str | None = None) -> dict[str, Any]:
    out: dict[str, Any] = {"values": values, "pagelen": 50}
    if next_url:
        out["next"] = next_url
    return out


@pytest.fixture
def bb() -> MockForge:
    return MockForge("bitbucket-cloud", ROOT)


@pytest.fixture
async def forge(bb: MockForge) -> AsyncIterator[BitbucketForge]:
    client = BitbucketForge(
        ForgeSettings("bitbucket", ROOT, "ws/fleet", token=TOKEN),
        transport=bb.transport,
        clock=FakeClock(),
    )
    yield client
    await client.aclose()


async def test_find_filters_with_bbql_and_stops_at_the_first_page_with_a_match(
    bb: MockForge, forge: BitbucketForge
) -> None:
    nxt = f"{ROOT}/repositories/ws/fleet/pullrequests?page=2"
    bb.on("GET", PULLS, reply(200, page([pull(bb, 8), pull(bb, 5)], nxt)))
    found = await forge.find_pull_request("auto/web", base="main")
    assert found is not None and found.number == 8
    [call] = bb.seen
    assert call.query["state"] == ["OPEN"]
    assert call.param("q") == 'source.branch.name = "auto/web" AND destination.branch.name = "main"'
    assert call.param("sort") == "-created_on"
    assert call.headers["authorization"] == f"Bearer {TOKEN}"


async def test_find_all_repeats_the_state_parameter_and_follows_next(
    bb: MockForge, forge: BitbucketForge
) -> None:
    nxt = f"{ROOT}/repositories/ws/fleet/pullrequests?page=2"
    bb.on("GET", PULLS, reply(200, page([], None)))
    assert await forge.find_pull_request("auto/web", state="all") is None
    assert bb.seen[0].query["state"] == ["OPEN", "MERGED", "DECLINED", "SUPERSEDED"]
    bb.seen.clear()
    bb.on("GET", PULLS, reply(200, page([], nxt)), reply(200, page([pull(bb, 2)])))
    # An empty first page ends the listing: Bitbucket sends no next without values.
    assert await forge.find_pull_request("auto/web", state="all") is None


async def test_find_reads_on_while_a_page_holds_none_of_ours(
    bb: MockForge, forge: BitbucketForge
) -> None:
    nxt = f"{ROOT}/repositories/ws/fleet/pullrequests?page=2"
    bb.on(
        "GET",
        PULLS,
        reply(200, page([pull(bb, 9, head="other")], nxt)),
        reply(200, page([pull(bb, 3)])),
    )
    found = await forge.find_pull_request("auto/web")
    assert found is not None and found.number == 3
    assert bb.seen[1].param("page") == "2"


@pytest.mark.parametrize(
    ("state", "expected"),
    [("OPEN", "open"), ("MERGED", "merged"), ("DECLINED", "closed"), ("SUPERSEDED", "closed")],
)
async def test_state_mapping(
    bb: MockForge, forge: BitbucketForge, state: str, expected: str
) -> None:
    bb.on("GET", PULL, reply(200, pull(bb, 4, state=state)))
    assert (await forge.get_pull_request(4)).state == expected


async def test_open_sends_a_typed_pullrequest_with_branches_and_draft(
    bb: MockForge, forge: BitbucketForge
) -> None:
    bb.on("POST", PULLS, reply(201, pull(bb, 9, draft=True)))
    opened = await forge.open_pull_request(NewPullRequest("auto/web", "main", "T", "B", draft=True))
    assert (opened.number, opened.body, opened.draft, opened.head_sha) == (
        9,
        "the body",
        True,
        "abcdef012345",
    )
    assert bb.seen[0].body == {
        "type": "pullrequest",
        "title": "T",
        "source": {"branch": {"name": "auto/web"}},
        "destination": {"branch": {"name": "main"}},
        "summary": {"raw": "B"},
        "description": "B",
        "draft": True,
    }


async def test_labels_and_assignees_are_unsupported_before_any_request(
    bb: MockForge, forge: BitbucketForge
) -> None:
    assert not forge.capabilities.labels and not forge.capabilities.assignees
    with pytest.raises(ForgeUnsupported, match="labels"):
        await forge.open_pull_request(NewPullRequest("a", "main", "t", "b", labels=("x",)))
    with pytest.raises(ForgeUnsupported, match="labels"):
        await forge.update_pull_request(1, labels=("x",))
    with pytest.raises(ForgeUnsupported, match="assignees"):
        await forge.request_review(1, assignees=("bob",))
    assert await forge.enable_auto_merge(1) is False
    assert bb.seen == []


async def test_update_of_the_body_carries_the_current_title(
    bb: MockForge, forge: BitbucketForge
) -> None:
    bb.on("GET", PULL, reply(200, pull(bb, 4, title="Current")))
    bb.on("PUT", PULL, reply(200, pull(bb, 4, title="Current")))
    await forge.update_pull_request(4, body="new body", base="release")
    assert bb.calls("PUT", PULL)[0].body == {
        "type": "pullrequest",
        "title": "Current",
        "summary": {"raw": "new body"},
        "description": "new body",
        "destination": {"branch": {"name": "release"}},
    }


async def test_close_comments_then_declines(bb: MockForge, forge: BitbucketForge) -> None:
    comments = PULL + "/comments"
    bb.on("POST", comments, reply(201, bb.contract.schema_sample("pullrequest_comment", id=1)))
    bb.on("POST", PULL + "/decline", reply(200, pull(bb, 4, state="DECLINED")))
    closed = await forge.close_pull_request(4, comment="superseded")
    assert closed.state == "closed"
    assert bb.seen[0].body == {"type": "pullrequest_comment", "content": {"raw": "superseded"}}
    assert bb.seen[1].template == PULL + "/decline"


async def test_reviewers_are_added_to_the_present_ones_by_uuid(
    bb: MockForge, forge: BitbucketForge
) -> None:
    present = [bb.contract.schema_sample("account", uuid="{aaa}")]
    bb.on("GET", PULL, reply(200, pull(bb, 4, reviewers=present)))
    bb.on("PUT", PULL, reply(200, pull(bb, 4)))
    await forge.request_review(4, reviewers=("{bbb}", "{aaa}"))
    assert bb.calls("PUT", PULL)[0].body["reviewers"] == [
        {"type": "user", "uuid": "{aaa}"},
        {"type": "user", "uuid": "{bbb}"},
    ]


@pytest.mark.parametrize(
    ("states", "expected"),
    [
        (("SUCCESSFUL",), "success"),
        (("SUCCESSFUL", "INPROGRESS"), "pending"),
        (("STOPPED", "INPROGRESS"), "failure"),
        (("FAILED",), "failure"),
        ((), "none"),
    ],
)
async def test_checks_page_through_commit_statuses(
    bb: MockForge, forge: BitbucketForge, states: tuple[str, ...], expected: str
) -> None:
    statuses = REPO + "/commit/{commit}/statuses"
    values = [
        bb.contract.schema_sample("commitstatus", key=f"k{i}", state=s)
        for i, s in enumerate(states)
    ]
    nxt = f"{ROOT}/repositories/ws/fleet/commit/abc/statuses?page=2"
    bb.on("GET", statuses, reply(200, page(values[:1], nxt)), reply(200, page(values[1:])))
    checks = await forge.checks("abc")
    assert checks.state == expected
    assert [r.name for r in checks.runs] == [f"k{i}" for i in range(len(states))]


async def test_app_password_is_sent_as_basic_auth(bb: MockForge) -> None:
    bb.on(
        "GET",
        REPO,
        reply(
            200,
            bb.contract.schema_sample("repository", mainbranch={"type": "branch", "name": "main"}),
        ),
    )
    client = BitbucketForge(
        ForgeSettings("bitbucket", ROOT, "ws/fleet", token="app-pass", username="robot"),
        transport=bb.transport,
        clock=FakeClock(),
    )
    try:
        assert await client.default_branch() == "main"
    finally:
        await client.aclose()
    expected = "Basic " + base64.b64encode(b"robot:app-pass").decode()
    assert bb.seen[0].headers["authorization"] == expected


async def test_workspace_in_braces_is_percent_encoded(bb: MockForge) -> None:
    bb.on(
        "GET",
        REPO,
        reply(
            200,
            bb.contract.schema_sample("repository", mainbranch={"type": "branch", "name": "dev"}),
        ),
    )
    client = BitbucketForge(
        ForgeSettings("bitbucket", ROOT, "{0f1e}/fleet", token=TOKEN),
        transport=bb.transport,
        clock=FakeClock(),
    )
    try:
        await client.default_branch()
    finally:
        await client.aclose()
    assert bb.seen[0].path == "/repositories/%7B0f1e%7D/fleet"


@pytest.mark.parametrize(
    ("value", "literal"),
    [("main", '"main"'), ('a"b', '"a\\"b"'), ("a\\b", '"a\\\\b"')],
)
def test_bbql_strings_are_escaped(value: str, literal: str) -> None:
    assert bbql_string(value) == literal
