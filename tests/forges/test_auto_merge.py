"""Auto-merge where the forge has it: set while checks are pending, a real merge once green."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx
import pytest

from tests.forges.drivers import client_for, driver_for
from tests.forges.server import FakeForge

pytestmark = pytest.mark.integration


async def _enable(fake: FakeForge, client: httpx.AsyncClient, number: int) -> httpx.Response:
    """The forge's own way to ask for a merge once checks pass (GitHub: see test_github)."""
    if fake.provider == "gitlab":
        path = f"/projects/{quote(fake.repository, safe='')}/merge_requests/{number}/merge"
        return await client.put(
            path, json={"auto_merge": True, "squash": True, "should_remove_source_branch": True}
        )
    if fake.provider in ("gitea", "forgejo"):
        field = "Do" if fake.provider == "forgejo" else "do"
        body = {
            field: "squash",
            "merge_when_checks_succeed": True,
            "delete_branch_after_merge": True,
        }
        return await client.post(f"/repos/{fake.repository}/pulls/{number}/merge", json=body)
    assert fake.provider == "azuredevops"
    path = "/platform/_apis/git/repositories/fleet/pullrequests/1"
    version = {"api-version": "7.2-preview.2"}
    creator = (await client.get(path, params=version)).json()["createdBy"]["id"]
    body = {
        "autoCompleteSetBy": {"id": creator},
        "completionOptions": {"mergeStrategy": "squash", "deleteSourceBranch": True},
    }
    return await client.patch(path, params=version, json=body)


@pytest.mark.parametrize("provider", ["gitlab", "gitea", "forgejo", "azuredevops"])
async def test_auto_merge_waits_for_pending_checks_and_squashes_once_they_pass(
    fake_forge_factory: Any, provider: str
) -> None:
    fake = fake_forge_factory(provider)
    head = fake.human_push("image-updates", {"deploy/app.yaml": "image: 2\n"}, "bump")
    base = fake.repo.sha("main")
    fake.set_status(head, "ci", "pending")
    async with client_for(fake) as client:
        number = await driver_for(fake, client).open("image-updates", "main", "Update", "")
        answer = await _enable(fake, client, number)
        assert answer.status_code == 200, answer.text
        assert fake.pull(number).state == "open" and fake.pull(number).auto_merge == "squash"
        fake.set_status(head, "ci", "failure")
        assert fake.pull(number).state == "open"
        fake.set_status(head, "ci", "success")
        assert (await driver_for(fake, client).get(number))["state"] == "merged"
    assert fake.repo.parents(fake.repo.sha("main") or "") == [base]  # one squashed commit
    assert "image-updates" not in fake.repo.branches()  # as asked when auto-merge was set


async def test_bitbucket_has_no_auto_merge_operation_at_all(fake_forge_factory: Any) -> None:
    fake = fake_forge_factory("bitbucket")
    async with client_for(fake) as client:
        answer = await client.post(f"/repositories/{fake.repository}/pullrequests/1/automerge")
    assert answer.status_code == 404
    assert "no such operation" in str(fake.take_violations())


async def test_lists_paginate_the_way_each_forge_documents(fake_forge: FakeForge) -> None:
    """Three open PRs, two per page, walked with the forge's own next-page mechanism."""
    for n in range(3):
        fake_forge.human_push(f"updates/{n}", {f"f{n}.txt": str(n)}, f"c{n}")
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        for n in range(3):
            await forge.open(f"updates/{n}", "main", f"PR {n}", "")
        numbers = await _walk(fake_forge, client)
    assert sorted(numbers) == [1, 2, 3]


async def _walk(fake: FakeForge, client: httpx.AsyncClient) -> list[int]:
    provider, numbers = fake.provider, []
    if provider == "azuredevops":
        path, skip = "/platform/_apis/git/repositories/fleet/pullrequests", 0
        while True:
            query = {"api-version": "7.2-preview.2", "$top": "2", "$skip": str(skip)}
            page = (await client.get(path, params=query)).json()["value"]
            numbers += [p["pullRequestId"] for p in page]
            if len(page) < 2:
                return numbers
            skip += 2
    paths = {
        "github": (f"/repos/{fake.repository}/pulls", {"per_page": "2"}),
        "gitea": (f"/repos/{fake.repository}/pulls", {"limit": "2"}),
        "forgejo": (f"/repos/{fake.repository}/pulls", {"limit": "2"}),
        "gitlab": (
            f"/projects/{quote(fake.repository, safe='')}/merge_requests",
            {"per_page": "2"},
        ),
        "bitbucket": (f"/repositories/{fake.repository}/pullrequests", {"pagelen": "2"}),
    }
    url, query = paths[provider]
    response = await client.get(url, params=query)
    while True:
        body = response.json()
        items = body["values"] if provider == "bitbucket" else body
        numbers += [p.get("iid", p.get("number", p.get("id"))) for p in items]
        if provider == "bitbucket":
            following = body.get("next")
        elif provider == "gitlab":
            following = (
                response.headers["X-Next-Page"]
                and f"{url}?per_page=2&page={response.headers['X-Next-Page']}"
            )
        else:
            following = response.links.get("next", {}).get("url")
        if not following:
            return numbers
        response = await client.get(following)
