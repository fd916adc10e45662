"""A request or reply that breaks a forge's description is caught, answered and fails the test."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from tests.forges.azuredevops import list_envelope
from tests.forges.drivers import client_for, driver_for
from tests.forges.fixtures import _verdict, start_fake
from tests.forges.server import FakeForge
from tests.forges.specs import Operation

pytestmark = pytest.mark.integration

# (provider, method, path below the API prefix, JSON body, what the violation says)
BAD_REQUESTS = [
    (
        "github",
        "POST",
        "/repos/fleet-org/fleet/pulls",
        {"title": "t", "base": "main"},
        "'head' is a required",
    ),
    (
        "github",
        "POST",
        "/repos/fleet-org/fleet/pulls",
        {"title": 5, "head": "x", "base": "main"},
        "not of type 'string'",
    ),
    ("github", "GET", "/repos/fleet-org/fleet/pulls?state=merged", None, "is not one of"),
    ("github", "GET", "/repos/fleet-org/fleet/git/ref/heads/a/b", None, "no such operation"),
    (
        "github",
        "POST",
        "/repos/fleet-org/fleet/merges",
        {"base": "main", "head": "x"},
        "no such operation",
    ),
    (
        "gitlab",
        "PUT",
        "/projects/fleet-org%2Fplatform%2Ffleet/merge_requests/1",
        {"draft": True},
        "'draft' was unexpected",
    ),
    (
        "gitlab",
        "POST",
        "/projects/fleet-org%2Fplatform%2Ffleet/merge_requests",
        {"source_branch": "x", "target_branch": "main"},
        "'title' is a required",
    ),
    ("gitlab", "GET", "/projects/fleet-org/platform/fleet", None, "no such operation"),
    (
        "gitlab",
        "PUT",
        "/projects/fleet-org%2Fplatform%2Ffleet/merge_requests/1",
        {"labels": ["a", "b"]},
        "not of type 'string'",
    ),
    (
        "gitea",
        "POST",
        "/repos/fleet-org/fleet/pulls/1/merge",
        {"Do": "merge"},
        "'do' is a required",
    ),
    (
        "forgejo",
        "POST",
        "/repos/fleet-org/fleet/pulls/1/merge",
        {"do": "merge"},
        "'Do' is a required",
    ),
    (
        "forgejo",
        "POST",
        "/repos/fleet-org/fleet/issues/1/assignees",
        {"assignees": ["a"]},
        "no such operation",
    ),
    ("gitea", "GET", "/repos/fleet-org/fleet/branches/feature/x", None, "no such operation"),
    (
        "bitbucket",
        "POST",
        "/repositories/fleet-ws/fleet/pullrequests",
        {"title": "t"},
        "'type' is a required",
    ),
    (
        "bitbucket",
        "POST",
        "/repositories/fleet-ws/fleet/pullrequests/1/merge",
        {"type": "pullrequest_merge_parameters", "merge_strategy": "octopus"},
        "is not one of",
    ),
    (
        "azuredevops",
        "POST",
        "/platform/_apis/git/repositories/fleet/pullrequests",
        {"title": "t"},
        "api-version",
    ),
    (
        "azuredevops",
        "PATCH",
        "/platform/_apis/git/repositories/fleet/pullrequests/1?api-version=7.2-preview.2",
        {"status": "merged"},
        "is not one of",
    ),
]


@pytest.mark.parametrize(("provider", "method", "path", "body", "expected"), BAD_REQUESTS)
async def test_a_request_the_description_does_not_allow_is_answered_with_an_error_and_recorded(
    fake_forge_factory: Any, provider: str, method: str, path: str, body: Any, expected: str
) -> None:
    fake = fake_forge_factory(provider)
    async with client_for(fake) as client:
        answer = await client.request(method, path, json=body)
    assert answer.status_code in (400, 404)
    found = fake.take_violations()
    assert found, "no violation recorded"
    assert expected in "\n".join(str(v) for v in found)


async def test_a_violation_nobody_looked_at_fails_the_test_at_teardown(tmp_path: Any) -> None:
    fake = start_fake("github", tmp_path)
    async with client_for(fake) as client:
        answer = await client.post(f"/repos/{fake.repository}/pulls", json={"title": "no head"})
    assert answer.status_code == 400  # a client that swallows this error ...
    with pytest.raises(pytest.fail.Exception, match="'head' is a required property"):
        _verdict([fake])  # ... still fails the test


async def test_a_clean_run_passes_the_teardown_check(tmp_path: Any) -> None:
    fake = start_fake("gitea", tmp_path)
    async with client_for(fake) as client:
        assert (await client.get(f"/repos/{fake.repository}")).status_code == 200
    _verdict([fake])  # does not raise


async def test_a_reply_that_breaks_the_description_becomes_a_500_and_a_violation(
    fake_forge_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_forge_factory("github")
    real = fake.repo_json
    monkeypatch.setattr(
        fake, "repo_json", lambda full=False: {**real(full=full), "default_branch": 7}
    )
    async with client_for(fake) as client:
        answer = await client.get(f"/repos/{fake.repository}")
    assert answer.status_code == 500
    assert "default_branch: 7 is not of type 'string'" in answer.json()["message"]
    (violation,) = fake.take_violations()
    assert violation.where == "response"


def _op(fake: FakeForge, method: str, path: str) -> Operation:
    return fake.check.find(method, path)


async def test_azure_list_replies_must_be_exactly_the_count_value_envelope(
    fake_forge_factory: Any,
) -> None:
    fake = fake_forge_factory("azuredevops")
    listing = _op(fake, "GET", "/fleet-org/platform/_apis/git/repositories/fleet/pullrequests")
    single = _op(fake, "GET", "/fleet-org/platform/_apis/git/repositories/fleet")
    assert list_envelope(listing, 200, {"count": 1, "value": [{"x": 1}]}) == [{"x": 1}]
    assert list_envelope(single, 200, {"id": "r"}) == {"id": "r"}  # not a list: untouched
    for wrong in (
        [],
        {"value": []},
        {"count": 2, "value": [{}]},
        {"count": 0, "value": [], "x": 1},
    ):
        with pytest.raises(ValueError):
            list_envelope(listing, 200, wrong)


async def test_azure_a_bare_array_reply_is_a_violation_even_though_the_description_says_array(
    fake_forge_factory: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    fake = fake_forge_factory("azuredevops")
    monkeypatch.setattr(fake, "wire_list", lambda items: fake_reply(items))
    async with client_for(fake) as client:
        path = "/platform/_apis/git/repositories/fleet/pullrequests"
        answer = await client.get(path, params={"api-version": "7.2-preview.2"})
    assert answer.status_code == 500
    assert "documented deviation does not fit" in str(fake.take_violations()[0])


def fake_reply(items: list[Any]) -> Any:
    from tests.forges.server import Reply

    return Reply(200, items)


async def test_azure_basic_pat_and_bearer_pass_but_no_credentials_do_not(
    fake_forge_factory: Any,
) -> None:
    fake = fake_forge_factory("azuredevops")
    path = f"{fake.api_url}/platform/_apis/git/repositories/fleet?api-version=7.2-preview.2"
    async with httpx.AsyncClient() as raw:
        anonymous = await raw.get(path)
        bearer = await raw.get(path, headers={"Authorization": f"Bearer {fake.token}"})
    async with client_for(fake) as client:
        basic = await client.get(path)
    assert (anonymous.status_code, bearer.status_code, basic.status_code) == (400, 200, 200)
    assert "Security not found" in str(fake.take_violations())


async def test_a_wrong_token_is_refused_with_401_and_is_no_violation(fake_forge: FakeForge) -> None:
    real, fake_forge.token = fake_forge.token, "not-the-token"
    client = client_for(fake_forge)  # its headers carry the wrong token
    fake_forge.token = real
    async with client:
        with pytest.raises(AssertionError, match=r"^401"):
            await driver_for(fake_forge, client).default_branch()
    assert fake_forge.violations == []


def test_a_fake_that_cannot_start_raises_instead_of_skipping(
    tmp_path: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tests.forges import fixtures
    from tests.integration.fixture_base import FixtureError

    monkeypatch.setattr(fixtures.shutil, "which", lambda name: None)
    with pytest.raises(FixtureError, match="git is not installed"):
        start_fake("gitlab", tmp_path)
