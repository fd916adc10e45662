"""The auth flow step by step, without sockets: drive the generator with made-up responses."""

from __future__ import annotations

import base64
from collections.abc import Generator

import httpx
import pytest

from image_automation.errors import RegistryError
from image_automation.registry import Credential, RegistryAuth, TokenCache
from image_automation.registry.auth import (
    ANONYMOUS,
    Challenge,
    credential_identity,
    parse_challenges,
    scope_for,
)

URL = "https://reg.example/v2/team/app/tags/list"
BEARER = 'Bearer realm="https://auth.example/token",service="reg.example",scope="repository:team/app:pull"'
SECRET = "s3cr3t-password"


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _flow(
    auth: RegistryAuth,
) -> tuple[Generator[httpx.Request, httpx.Response, None], httpx.Request]:
    flow = auth.auth_flow(httpx.Request("GET", URL))
    return flow, next(flow)


def _token_response(token: str, expires_in: int | None = 300) -> httpx.Response:
    body: dict[str, object] = {"token": token}
    if expires_in is not None:
        body["expires_in"] = expires_in
    return httpx.Response(200, json=body)


@pytest.mark.parametrize(
    ("header", "expected"),
    [
        ('Basic realm="Registry Realm"', [Challenge("basic", {"realm": "Registry Realm"})]),
        (
            BEARER,
            [
                Challenge(
                    "bearer",
                    {
                        "realm": "https://auth.example/token",
                        "service": "reg.example",
                        "scope": "repository:team/app:pull",
                    },
                )
            ],
        ),
        (
            'Bearer realm="https://a/t",scope="repository:x:pull,push", Basic realm="r"',
            [
                Challenge("bearer", {"realm": "https://a/t", "scope": "repository:x:pull,push"}),
                Challenge("basic", {"realm": "r"}),
            ],
        ),
        ("Bearer realm=https://bare/token", [Challenge("bearer", {"realm": "https://bare/token"})]),
    ],
)
def test_www_authenticate_is_parsed(header: str, expected: list[Challenge]) -> None:
    assert parse_challenges([header]) == expected


def test_scope_is_derived_from_the_repository_path() -> None:
    assert scope_for(httpx.URL(URL)) == "repository:team/app:pull"
    assert scope_for(httpx.URL("https://r/v2/a/b/c/manifests/sha256:ab")) == "repository:a/b/c:pull"
    assert scope_for(httpx.URL("https://r/v2/")) is None


@pytest.mark.parametrize(
    ("path", "scope"),
    [
        ("/acr/v1/team/app/_tags?n=100", "repository:team/app:metadata_read"),
        ("/acr/v1/app/_tags", "repository:app:metadata_read"),
        ("/gitlab/v1/repositories/group/sub/app/tags/list/?n=1000",
         "repository:group/sub/app:pull"),
        ("/acr/v1/_catalog", None),
        ("/gitlab/v1/", None),
    ],
)  # fmt: skip
def test_vendor_push_time_paths_on_the_registry_ask_for_their_repository_scope(
    path: str, scope: str | None
) -> None:
    # Up front, a token is fetched for the request's own scope: ACR's tag API wants
    # metadata_read, GitLab's pull; a catalog scope would earn a 401 and a second token.
    assert scope_for(httpx.URL(f"https://r{path}")) == scope


def test_anonymous_request_passes_untouched_when_not_challenged() -> None:
    auth = RegistryAuth("reg.example", credential=None, tokens=TokenCache())
    flow, request = _flow(auth)
    assert "Authorization" not in request.headers
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200, json={"tags": []}))


def test_basic_challenge_is_answered_once_then_sent_up_front() -> None:
    cred = Credential("me", SECRET)
    auth = RegistryAuth("reg.example", credential=cred, tokens=TokenCache())
    flow, _ = _flow(auth)
    retry = flow.send(httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'}))
    expected = "Basic " + base64.b64encode(f"me:{SECRET}".encode()).decode()
    assert retry.headers["Authorization"] == expected
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200))
    _, second = _flow(auth)
    assert second.headers["Authorization"] == expected


def test_wrong_basic_credentials_are_not_retried_forever() -> None:
    auth = RegistryAuth("reg.example", credential=Credential("me", SECRET), tokens=TokenCache())
    flow, _ = _flow(auth)
    flow.send(httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'}))
    _, request = _flow(auth)  # now Basic up front
    flow2 = auth.auth_flow(request)
    sent = next(flow2)
    assert sent.headers["Authorization"].startswith("Basic ")
    with pytest.raises(StopIteration):
        flow2.send(httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'}))


def test_bearer_challenge_fetches_a_token_with_basic_credentials() -> None:
    cache = TokenCache(Clock())
    auth = RegistryAuth("reg.example", credential=Credential("me", SECRET), tokens=cache)
    flow, _ = _flow(auth)
    token_request = flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    assert token_request.url.host == "auth.example"
    assert token_request.url.params["service"] == "reg.example"
    assert token_request.url.params["scope"] == "repository:team/app:pull"
    assert token_request.headers["Authorization"].startswith("Basic ")
    retry = flow.send(_token_response("tok-1"))
    assert retry.headers["Authorization"] == "Bearer tok-1"
    assert retry.url == httpx.URL(URL)
    with pytest.raises(StopIteration):
        flow.send(httpx.Response(200))
    identity = Credential("me", SECRET).fingerprint
    assert cache.get("reg.example", "repository:team/app:pull", identity=identity) == "tok-1"


def test_cached_token_goes_up_front_until_it_expires() -> None:
    clock = Clock()
    cache = TokenCache(clock)
    auth = RegistryAuth("reg.example", credential=None, tokens=cache)
    flow, _ = _flow(auth)
    flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    flow.send(_token_response("tok-1", expires_in=None))  # default lifetime: 60 s
    _, request = _flow(auth)
    assert request.headers["Authorization"] == "Bearer tok-1"
    clock.now += 61
    flow, token_request = _flow(auth)  # expired: fetch first, no 401 round trip
    assert token_request.url.host == "auth.example"
    assert "Authorization" not in token_request.headers  # anonymous token
    request = flow.send(_token_response("tok-2"))
    assert request.headers["Authorization"] == "Bearer tok-2"


def test_a_401_with_a_cached_token_refreshes_exactly_once() -> None:
    cache = TokenCache(Clock())
    cache.put("reg.example", "repository:team/app:pull", "stale", 300, identity=ANONYMOUS)
    auth = RegistryAuth("reg.example", credential=None, tokens=cache)
    auth._known = parse_challenges([BEARER])[0]
    flow, request = _flow(auth)
    assert request.headers["Authorization"] == "Bearer stale"
    token_request = flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    retry = flow.send(_token_response("fresh"))
    assert retry.headers["Authorization"] == "Bearer fresh"
    with pytest.raises(StopIteration):  # a second 401 is the caller's to report
        flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    assert token_request.method == "GET"


def test_registry_answering_basic_to_a_bearer_client_gets_basic() -> None:
    cache = TokenCache(Clock())
    me = Credential("me", SECRET)
    cache.put("reg.example", "repository:team/app:pull", "tok", 300, identity=me.fingerprint)
    auth = RegistryAuth("reg.example", credential=me, tokens=cache)
    auth._known = parse_challenges([BEARER])[0]
    flow, request = _flow(auth)
    assert request.headers["Authorization"] == "Bearer tok"
    retry = flow.send(httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'}))
    assert retry.headers["Authorization"].startswith("Basic ")


def test_identity_token_uses_the_oauth2_refresh_grant() -> None:
    auth = RegistryAuth(
        "reg.example", credential=Credential(identity_token="refresh-xyz"), tokens=TokenCache()
    )
    flow, _ = _flow(auth)
    token_request = flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    assert token_request.method == "POST"
    form = dict(httpx.QueryParams(token_request.content.decode()))
    assert form["grant_type"] == "refresh_token"
    assert form["refresh_token"] == "refresh-xyz"
    assert form["scope"] == "repository:team/app:pull"
    retry = flow.send(httpx.Response(200, json={"access_token": "acc", "expires_in": 60}))
    assert retry.headers["Authorization"] == "Bearer acc"


def test_token_service_refusal_is_an_error_without_secrets() -> None:
    auth = RegistryAuth("reg.example", credential=Credential("me", SECRET), tokens=TokenCache())
    flow, _ = _flow(auth)
    flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    with pytest.raises(RegistryError, match="HTTP 401") as info:
        flow.send(httpx.Response(401, json={"details": "no"}))
    assert SECRET not in str(info.value) and SECRET not in repr(info.value)


def test_credential_repr_hides_the_secret() -> None:
    cred = Credential("me", SECRET, "idt")
    assert SECRET not in repr(cred) and SECRET not in str(cred)
    assert "idt" not in repr(Credential(identity_token="idt"))


SCOPE = "repository:team/app:pull"


def test_token_cache_is_keyed_by_host_scope_and_credential() -> None:
    cache = TokenCache(Clock())
    a, b = Credential("robot", "secret-a"), Credential("robot", "secret-b")
    cache.put("reg.example", SCOPE, "tok-a", 300, identity=credential_identity(a))
    assert cache.get("reg.example", SCOPE, identity=credential_identity(a)) == "tok-a"
    # Same user name, same scope, other secret: not the same caller.
    assert cache.get("reg.example", SCOPE, identity=credential_identity(b)) is None
    assert cache.get("reg.example", SCOPE, identity=ANONYMOUS) is None
    assert cache.get("other.example", SCOPE, identity=credential_identity(a)) is None
    cache.drop("reg.example", SCOPE, identity=credential_identity(b))  # not a's token
    assert cache.get("reg.example", SCOPE, identity=credential_identity(a)) == "tok-a"


def test_credential_identity_is_stable_distinct_and_holds_no_secret() -> None:
    a = Credential("robot", SECRET)
    assert credential_identity(a) == credential_identity(Credential("robot", SECRET))
    identities = {
        credential_identity(c)
        for c in (a, Credential("robot", SECRET + "x"), Credential("other", SECRET), None)
    }
    assert len(identities) == 4
    assert SECRET not in credential_identity(a) and "robot" not in credential_identity(a)
    assert credential_identity(None) == ANONYMOUS


def test_a_token_fetched_with_one_credential_is_not_sent_with_another() -> None:
    cache = TokenCache(Clock())
    first = RegistryAuth("reg.example", credential=Credential("a", SECRET), tokens=cache)
    flow, _ = _flow(first)
    flow.send(httpx.Response(401, headers={"WWW-Authenticate": BEARER}))
    flow.send(_token_response("tok-a"))
    second = RegistryAuth("reg.example", credential=Credential("b", SECRET), tokens=cache)
    second._known = parse_challenges([BEARER])[0]  # host scheme known: credentials up front
    flow, token_request = _flow(second)
    assert token_request.url.host == "auth.example"  # its own token, not a's
    assert token_request.url.params["account"] == "b"
    request = flow.send(_token_response("tok-b"))
    assert request.headers["Authorization"] == "Bearer tok-b"
    _, again = _flow(first)
    assert again.headers["Authorization"] == "Bearer tok-a"
