"""The fake GitHub: ETag/304 and rate limits, GitHub App tokens, GraphQL auto-merge."""

from __future__ import annotations

import time
from typing import Any

import httpx
import jwt
import pytest

from tests.forges.drivers import client_for
from tests.forges.hooks import Fault

pytestmark = pytest.mark.integration

ENABLE = """
mutation Enable($id: ID!, $method: PullRequestMergeMethod) {
  enablePullRequestAutoMerge(input: {pullRequestId: $id, mergeMethod: $method}) {
    pullRequest { number autoMergeRequest { mergeMethod enabledBy { login } } }
  }
}
"""


@pytest.fixture
def github(fake_forge_factory: Any) -> Any:
    fake = fake_forge_factory("github")
    fake.human_push("image-updates", {"deploy/app.yaml": "image: 2\n"}, "bump")
    return fake


async def _open(client: httpx.AsyncClient, fake: Any) -> dict[str, Any]:
    body = {"title": "Update", "head": "image-updates", "base": "main"}
    created = await client.post(f"/repos/{fake.repository}/pulls", json=body)
    assert created.status_code == 201, created.text
    return created.json()


async def test_an_unchanged_list_answers_304_and_costs_no_rate_limit(github: Any) -> None:
    async with client_for(github) as client:
        await _open(client, github)
        path, query = f"/repos/{github.repository}/pulls", {"head": "fleet-org:image-updates"}
        first = await client.get(path, params=query)
        remaining = int(first.headers["x-ratelimit-remaining"])
        again = await client.get(
            path, params=query, headers={"If-None-Match": first.headers["etag"]}
        )
        assert again.status_code == 304 and again.content == b""
        assert int(again.headers["x-ratelimit-remaining"]) == remaining
        await client.patch(f"{path}/1", json={"title": "Update to 3"})
        changed = await client.get(
            path, params=query, headers={"If-None-Match": first.headers["etag"]}
        )
        assert changed.status_code == 200 and changed.json()[0]["title"] == "Update to 3"
        assert int(changed.headers["x-ratelimit-remaining"]) == remaining - 2  # PATCH + this GET
    assert github.count("pulls/list", status=304) == 1


async def test_an_etag_on_an_operation_without_a_declared_304_still_answers_200(
    github: Any,
) -> None:
    async with client_for(github) as client:
        first = await client.get(f"/repos/{github.repository}")
        again = await client.get(
            f"/repos/{github.repository}", headers={"If-None-Match": first.headers["etag"]}
        )
    assert (first.status_code, again.status_code) == (200, 200)
    assert again.headers["etag"] == first.headers["etag"]


async def test_an_exhausted_primary_limit_answers_403_with_remaining_zero_and_reset(
    github: Any,
) -> None:
    github.set_rate_limit(remaining=0, reset_in=120)
    async with client_for(github) as client:
        refused = await client.get(f"/repos/{github.repository}")
    assert refused.status_code == 403
    assert refused.headers["x-ratelimit-remaining"] == "0"
    assert int(refused.headers["x-ratelimit-reset"]) > time.time()
    assert "rate limit" in refused.json()["message"]


async def test_a_secondary_rate_limit_is_a_403_with_retry_after_then_normal_again(
    github: Any,
) -> None:
    github.inject(Fault("secondary_rate_limit", operation="pulls/create", retry_after=7))
    async with client_for(github) as client:
        body = {"title": "Update", "head": "image-updates", "base": "main"}
        refused = await client.post(f"/repos/{github.repository}/pulls", json=body)
        assert refused.status_code == 403 and refused.headers["retry-after"] == "7"
        assert "secondary rate limit" in refused.json()["message"]
        assert int(refused.headers["x-ratelimit-remaining"]) > 0
        assert github.pulls == {}  # nothing was created
        assert (
            await client.post(f"/repos/{github.repository}/pulls", json=body)
        ).status_code == 201


def _app_jwt(fake: Any, *, issued: int | None = None, lifetime: int = 540) -> str:
    now = issued or int(time.time()) - 30
    claims = {"iat": now, "exp": now + lifetime, "iss": str(fake.app.app_id)}
    return jwt.encode(claims, fake.app.private_key_pem, algorithm="RS256")


async def test_an_app_jwt_buys_an_installation_token_that_works_until_it_expires(
    github: Any,
) -> None:
    async with httpx.AsyncClient(base_url=github.api_url) as raw:
        issued = await raw.post(
            f"/app/installations/{github.app.installation_id}/access_tokens",
            headers={"Authorization": f"Bearer {_app_jwt(github)}"},
        )
        assert issued.status_code == 201, issued.text
        token = issued.json()["token"]
        as_installation = {"Authorization": f"Bearer {token}"}
        assert (
            await raw.get(f"/repos/{github.repository}", headers=as_installation)
        ).status_code == 200
        github.expire_installation_tokens()
        assert (
            await raw.get(f"/repos/{github.repository}", headers=as_installation)
        ).status_code == 401
        too_long = {"Authorization": f"Bearer {_app_jwt(github, lifetime=3600)}"}
        path = f"/app/installations/{github.app.installation_id}/access_tokens"
        assert (await raw.post(path, headers=too_long)).status_code == 401
        as_app = {"Authorization": f"Bearer {_app_jwt(github)}"}
        assert (await raw.get(f"/repos/{github.repository}", headers=as_app)).status_code == 401


async def _graphql(client: httpx.AsyncClient, fake: Any, query: str, **variables: Any) -> Any:
    answer = await client.post(
        f"{fake.base_url}/api/graphql", json={"query": query, "variables": variables}
    )
    assert answer.status_code == 200
    return answer.json()


async def test_auto_merge_over_graphql_waits_for_green_checks_then_merges_for_real(
    github: Any,
) -> None:
    async with client_for(github) as client:
        pr = await _open(client, github)
        github.set_status("image-updates", "ci", "pending")
        result = await _graphql(client, github, ENABLE, id=pr["node_id"], method="SQUASH")
        assert "errors" not in result, result
        enabled = result["data"]["enablePullRequestAutoMerge"]["pullRequest"]
        assert enabled["autoMergeRequest"]["mergeMethod"] == "SQUASH"
        assert (await client.get(f"/repos/{github.repository}/pulls/1")).json()["auto_merge"][
            "merge_method"
        ] == "squash"
        github.set_status("image-updates", "ci", "success")
    merged = github.pull(1)
    assert merged.state == "merged"
    assert github.repo.parents(github.repo.sha("main") or "") == [pr["base"]["sha"]]  # squash


async def test_auto_merge_on_a_pr_with_nothing_to_wait_for_is_refused_as_clean(github: Any) -> None:
    async with client_for(github) as client:
        pr = await _open(client, github)
        result = await _graphql(client, github, ENABLE, id=pr["node_id"], method="MERGE")
    assert result["errors"][0]["type"] == "UNPROCESSABLE"
    assert "clean status" in result["errors"][0]["message"]
    assert github.violations == []  # a documented refusal, not a contract breach


async def test_a_graphql_query_outside_the_contract_is_a_violation(github: Any) -> None:
    async with client_for(github) as client:
        pr = await _open(client, github)
        query = ENABLE.replace("mergeMethod enabledBy", "mergeStrategy enabledBy")
        result = await _graphql(client, github, query, id=pr["node_id"], method="MERGE")
    assert "mergeStrategy" in result["errors"][0]["message"]
    (violation,) = github.take_violations()
    assert violation.where == "graphql"
    assert github.pull(1).auto_merge is None
