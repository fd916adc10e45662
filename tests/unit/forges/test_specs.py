"""The spec checks the forge tests rely on do catch violations (else every test is void)."""

from __future__ import annotations

import httpx
import pytest

from tests.unit.forges.specs import FIXTURES, FORGES, contract, slice_path


def _request(method: str, url: str, **kwargs: object) -> httpx.Request:
    return httpx.Request(method, url, **kwargs)  # type: ignore[arg-type]


@pytest.mark.parametrize("forge", FORGES)
def test_every_forge_has_a_committed_description(forge: str) -> None:
    path = slice_path(forge)
    assert path.is_file()
    assert path.is_relative_to(FIXTURES)


@pytest.mark.parametrize(
    ("forge", "body", "valid"),
    [
        ("gitea", {"do": "merge"}, True),
        ("gitea", {"Do": "merge"}, False),
        ("forgejo", {"Do": "merge"}, True),
        ("forgejo", {"do": "merge"}, False),
        ("gitea", {"do": "octopus"}, False),
    ],
)
def test_request_bodies_are_checked(forge: str, body: object, valid: bool) -> None:
    path = "/repos/o/r/pulls/1/merge"
    request = _request("POST", f"https://x{path}", json=body, headers={"Authorization": "token t"})
    if valid:
        contract(forge).check_request(request, path)
    else:
        with pytest.raises(AssertionError, match="violates the spec"):
            contract(forge).check_request(request, path)


def test_a_request_without_credentials_is_refused_where_the_spec_demands_them() -> None:
    path = "/repos/o/r"
    with pytest.raises(AssertionError, match="sent no credentials"):
        contract("gitea").check_request(_request("GET", f"https://x{path}"), path)


def test_query_parameters_are_checked() -> None:
    path = "/repos/o/r/pulls"
    bad = _request("GET", f"https://x{path}", params={"state": "bogus"})
    with pytest.raises(AssertionError, match="violates the spec"):
        contract("github").check_request(bad, path)


def test_an_operation_outside_the_slice_is_refused() -> None:
    path = "/repos/o/r/forks"
    with pytest.raises(AssertionError, match="not an operation of the slice"):
        contract("github").check_request(_request("POST", f"https://x{path}"), path)


def test_answers_are_checked_too() -> None:
    github = contract("github")
    path = "/repos/o/r/pulls/1"
    request = _request("GET", f"https://x{path}")
    good = github.sample("GET", "/repos/{owner}/{repo}/pulls/{pull_number}")
    github.check_response(request, path, httpx.Response(200, json=good))
    with pytest.raises(AssertionError, match="violates the spec"):
        github.check_response(request, path, httpx.Response(200, json={**good, "state": "weird"}))


def test_azure_api_version_must_be_the_one_the_spec_names() -> None:
    path = "/org/proj/_apis/git/repositories/repo"
    for version, ok in (("7.2-preview.2", True), ("7.1", False)):
        request = _request(
            "GET",
            f"https://x{path}",
            params={"api-version": version},
            headers={"Authorization": "Basic OnQ="},
        )
        if ok:
            contract("azure-devops").check_request(request, path)
        else:
            with pytest.raises(AssertionError, match="api-version"):
                contract("azure-devops").check_request(request, path)


def test_azure_lists_are_checked_inside_their_count_value_envelope() -> None:
    azure = contract("azure-devops")
    path = "/org/proj/_apis/git/repositories/repo/pullrequests"
    request = _request(
        "GET",
        f"https://x{path}",
        params={"api-version": "7.2-preview.2"},
        headers={"Authorization": "Basic OnQ="},
    )
    azure.check_response(request, path, httpx.Response(200, json={"count": 0, "value": []}))
    with pytest.raises(AssertionError, match="violates the spec"):
        bad = {"count": 1, "value": [{"status": "merged"}]}
        azure.check_response(request, path, httpx.Response(200, json=bad))
