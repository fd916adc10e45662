"""The shared HTTP layer: rate limits, retries, error typing, pages, caps, no secrets.

Forge-shaped cases go through the GitHub client and its spec-checking mock; plumbing that
no forge operation shows (page bounds, redirects, size caps) talks to ForgeHttp directly.
"""

from __future__ import annotations

import email.utils
from collections.abc import AsyncIterator, Callable
from typing import Any

import httpx
import pytest

from image_automation.errors import (
    ForgeAuthError,
    ForgeConflict,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
)
from image_automation.forges import _http
from image_automation.forges._auth import StaticAuth
from image_automation.forges._http import ForgeHttp, link_next
from image_automation.forges.base import CachedResponse, ForgeSettings, NewPullRequest
from image_automation.forges.github import GitHubForge
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://api.github.com"
TOKEN = "ghp_TopSecretValue0123456789"
REPO = "/repos/{owner}/{repo}"
PULL = "/repos/{owner}/{repo}/pulls/{pull_number}"
NOW = 1_800_000_000.0


def _error(message: str) -> dict[str, str]:
    return {"message": message, "documentation_url": "https://docs.github.com/rest"}


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


@pytest.fixture
def gh() -> MockForge:
    return MockForge("github", ROOT)


def _client(gh: MockForge, clock: FakeClock, **settings: Any) -> GitHubForge:
    return GitHubForge(
        ForgeSettings("github", ROOT, "org/fleet", token=TOKEN, **settings),
        transport=gh.transport,
        clock=clock,
    )


@pytest.fixture
async def forge(gh: MockForge, clock: FakeClock) -> AsyncIterator[GitHubForge]:
    client = _client(gh, clock)
    yield client
    await client.aclose()


def _repo(gh: MockForge) -> dict[str, Any]:
    return gh.sample("GET", REPO, default_branch="main")  # type: ignore[no-any-return]


RATE_LIMITS = [
    pytest.param(429, {"retry-after": "30"}, "slow down", 30.0, id="429-retry-after"),
    pytest.param(
        429,
        {"retry-after": email.utils.formatdate(NOW + 90, usegmt=True)},
        "slow down",
        90.0,
        id="429-retry-after-date",
    ),
    pytest.param(429, {}, "slow down", 60.0, id="429-bare"),
    pytest.param(429, {"x-ratelimit-reset": str(int(NOW) + 45)}, "", 45.0, id="429-reset"),
    pytest.param(
        403,
        {"retry-after": "10"},
        "You have exceeded a secondary rate limit",
        10.0,
        id="403-secondary-retry-after",
    ),
    pytest.param(
        403,
        {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 120)},
        "API rate limit exceeded for installation",
        120.0,
        id="403-primary",
    ),
    pytest.param(
        403, {}, "You have exceeded a secondary rate limit. Please wait", 60.0, id="403-secondary"
    ),
    pytest.param(
        403, {"ratelimit-remaining": "0", "ratelimit-reset": "30"}, "", 30.0, id="403-ietf-delta"
    ),
]


@pytest.mark.parametrize(("status", "headers", "message", "delay"), RATE_LIMITS)
async def test_rate_limits_become_forge_rate_limited_with_the_delay(
    gh: MockForge,
    forge: GitHubForge,
    status: int,
    headers: dict[str, str],
    message: str,
    delay: float,
) -> None:
    gh.on("GET", REPO, reply(status, _error(message), headers))
    with pytest.raises(ForgeRateLimited) as caught:
        await forge.default_branch()
    assert caught.value.delay == pytest.approx(delay, abs=1.0)
    assert len(gh.seen) == 1  # not retried: max_rate_wait is 0


async def test_a_short_limit_is_sat_out_when_allowed_then_retried(
    gh: MockForge, clock: FakeClock
) -> None:
    gh.on("GET", REPO, reply(429, {}, {"retry-after": "5"}), reply(200, _repo(gh)))
    client = _client(gh, clock, max_rate_wait=30.0)
    try:
        assert await client.default_branch() == "main"
    finally:
        await client.aclose()
    assert clock.sleeps == [5.0]


async def test_a_long_limit_is_not_sat_out(gh: MockForge, clock: FakeClock) -> None:
    gh.on("GET", REPO, reply(429, {}, {"retry-after": "600"}))
    client = _client(gh, clock, max_rate_wait=30.0)
    try:
        with pytest.raises(ForgeRateLimited):
            await client.default_branch()
    finally:
        await client.aclose()
    assert clock.sleeps == [] and len(gh.seen) == 1


async def test_a_create_is_never_repeated_even_for_a_short_limit(
    gh: MockForge, clock: FakeClock
) -> None:
    gh.on("POST", "/repos/{owner}/{repo}/pulls", reply(429, {}, {"retry-after": "1"}))
    client = _client(gh, clock, max_rate_wait=30.0)
    try:
        with pytest.raises(ForgeRateLimited):
            await client.open_pull_request(NewPullRequest("h", "main", "t", "b"))
    finally:
        await client.aclose()
    assert len(gh.seen) == 1


async def test_a_spent_window_holds_the_next_request_back(
    gh: MockForge, forge: GitHubForge, clock: FakeClock
) -> None:
    spent = {"x-ratelimit-remaining": "0", "x-ratelimit-reset": str(int(NOW) + 50)}
    gh.on("GET", REPO, reply(200, _repo(gh), spent), reply(200, _repo(gh)))
    await forge.default_branch()
    with pytest.raises(ForgeRateLimited, match="not sent") as caught:
        await forge.default_branch()
    assert caught.value.delay == pytest.approx(50.0)
    assert len(gh.seen) == 1
    clock.now += 50
    assert await forge.default_branch() == "main"
    assert len(gh.seen) == 2


@pytest.mark.parametrize(
    ("status", "message", "error"),
    [
        (401, "Bad credentials", ForgeAuthError),
        (403, "Resource not accessible by integration", ForgeAuthError),
        (404, "Not Found", ForgeNotFound),
        (410, "Gone", ForgeNotFound),
        (409, "Conflict", ForgeConflict),
        (422, "A pull request already exists for org:x.", ForgeConflict),
        (422, "Validation Failed: base is invalid", ForgeError),
        (400, "Problems parsing JSON", ForgeError),
    ],
)
async def test_refusals_are_typed_by_what_the_caller_can_do(
    gh: MockForge, forge: GitHubForge, status: int, message: str, error: type[ForgeError]
) -> None:
    gh.on("GET", PULL, reply(status, _error(f"{message} {TOKEN}")))
    with pytest.raises(ForgeError) as caught:
        await forge.get_pull_request(1)
    assert type(caught.value) is error
    assert caught.value.status == status
    assert TOKEN not in str(caught.value)
    assert len(gh.seen) == 1  # a 4xx is never retried


async def test_5xx_on_a_read_is_retried_with_backoff(
    gh: MockForge, forge: GitHubForge, clock: FakeClock
) -> None:
    gh.on("GET", REPO, reply(502), reply(503), reply(200, _repo(gh)))
    assert await forge.default_branch() == "main"
    assert clock.sleeps == [0.5, 1.0]
    assert forge.http.counters.retries == 2


async def test_5xx_that_persists_is_unavailable_after_the_bounded_attempts(
    gh: MockForge, forge: GitHubForge
) -> None:
    gh.on("GET", REPO, reply(500))
    with pytest.raises(ForgeUnavailable, match="3 times"):
        await forge.default_branch()
    assert len(gh.seen) == 3


async def test_5xx_on_a_create_is_not_retried(gh: MockForge, forge: GitHubForge) -> None:
    gh.on("POST", "/repos/{owner}/{repo}/pulls", reply(502))
    with pytest.raises(ForgeUnavailable):
        await forge.open_pull_request(NewPullRequest("h", "main", "t", "b"))
    assert len(gh.seen) == 1


def _raising(exc: Exception, then: Callable[[httpx.Request], httpx.Response] | None = None) -> Any:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        if then is not None and len(calls) > 1:
            return then(request)
        raise exc

    handler.calls = calls  # type: ignore[attr-defined]
    return handler


async def _http_client(
    handler: Callable[[httpx.Request], httpx.Response],
    *,
    clock: FakeClock | None = None,
    conditional: bool = False,
    **settings: Any,
) -> ForgeHttp:
    return ForgeHttp(
        forge="test",
        settings=ForgeSettings("github", "https://forge.test/api", "o/r", token=TOKEN, **settings),
        auth=StaticAuth("Authorization", f"Bearer {TOKEN}"),
        transport=httpx.MockTransport(handler),
        clock=clock or FakeClock(NOW),
        conditional=conditional,
    )


@pytest.mark.parametrize(
    ("exc", "words"),
    [(httpx.ConnectError("refused"), "failed"), (httpx.ReadTimeout("slow"), "timed out")],
)
async def test_connection_errors_retry_reads_and_never_writes(exc: Exception, words: str) -> None:
    handler = _raising(exc, then=lambda r: httpx.Response(200, json={"ok": 1}))
    http = await _http_client(handler)
    try:
        assert await http.json("GET", "/x") == {"ok": 1}
        assert len(handler.calls) == 2
        handler.calls.clear()
        with pytest.raises(ForgeUnavailable, match=words) as caught:
            await http.json("POST", "/x", json_body={})
        assert "may have been applied" in str(caught.value)
        assert len(handler.calls) == 1
    finally:
        await http.aclose()


async def test_listings_stop_at_the_page_bound() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)  # a forge whose next page is itself, forever
        return httpx.Response(200, json=[1], headers={"link": f'<{request.url}>; rel="next"'})

    http = await _http_client(handler, max_pages=3)
    try:
        with pytest.raises(ForgeError, match="more than 3 pages"):
            await http.collect("/items", params={}, paging=link_next)
    finally:
        await http.aclose()
    assert len(calls) == 3


async def test_a_next_link_to_another_host_is_refused_and_gets_no_token() -> None:
    hosts: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        hosts.append(request.url.host)
        return httpx.Response(200, json=[1], headers={"link": '<https://evil.test/x>; rel="next"'})

    http = await _http_client(handler)
    try:
        with pytest.raises(ForgeError, match="leaves the API host"):
            await http.collect("/items", params={}, paging=link_next)
    finally:
        await http.aclose()
    assert hosts == ["forge.test"]


async def test_redirects_are_followed_on_the_same_host_only() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        if request.url.path == "/api/old":
            return httpx.Response(301, headers={"location": "/api/new"})
        if request.url.path == "/api/new":
            return httpx.Response(200, json={"moved": True})
        return httpx.Response(302, headers={"location": "https://elsewhere.test/steal"})

    http = await _http_client(handler)
    try:
        assert await http.json("GET", "/old") == {"moved": True}
        with pytest.raises(ForgeError, match="leaves the API host"):
            await http.json("GET", "/away")
    finally:
        await http.aclose()
    assert not any("elsewhere" in url for url in seen)


@pytest.mark.parametrize("declared", [True, False])
async def test_oversized_answers_are_refused(
    monkeypatch: pytest.MonkeyPatch, declared: bool
) -> None:
    monkeypatch.setattr(_http, "MAX_BODY_BYTES", 1000)

    async def chunks() -> AsyncIterator[bytes]:  # no Content-Length: counted while read
        for _ in range(2):
            yield b"x" * 600

    def handler(request: httpx.Request) -> httpx.Response:
        if declared:
            return httpx.Response(200, content=b"x" * 2000)
        return httpx.Response(200, content=chunks())

    http = await _http_client(handler)
    try:
        with pytest.raises(ForgeError, match="over 1000"):
            await http.json("GET", "/big")
    finally:
        await http.aclose()


async def test_an_answer_that_is_not_json_or_lacks_fields_is_our_error(
    gh: MockForge, forge: GitHubForge
) -> None:
    http = await _http_client(lambda r: httpx.Response(200, content=b"<html>"))
    try:
        with pytest.raises(ForgeError, match="not JSON"):
            await http.json("GET", "/x")
    finally:
        await http.aclose()
    with pytest.raises(ForgeError, match="unexpected answer"):
        forge.http.parse("GET thing", lambda: {}["missing"])


async def test_without_conditional_support_no_etag_is_sent_back() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        return httpx.Response(200, json={}, headers={"etag": '"e1"'})

    for conditional, expected in ((False, None), (True, '"e1"')):
        seen.clear()
        http = await _http_client(handler, conditional=conditional)
        try:
            await http.json("GET", "/x")
            await http.json("GET", "/x")
        finally:
            await http.aclose()
        assert seen[1].get("if-none-match") == expected


@pytest.mark.parametrize(
    "api_url",
    [
        "ftp://forge.test/api",
        "https://robot:hunter2@forge.test/api",
        "https://forge.test/api?token=hunter2",
        "https://forge.test/api#hunter2",
        "https://" + "a" * 3000,
        "not a url",
        "",
    ],
)
def test_hostile_api_urls_are_refused_without_echo(api_url: str) -> None:
    with pytest.raises(ForgeError) as caught:
        GitHubForge(
            ForgeSettings("github", api_url, "o/r", token=TOKEN), transport=None, clock=FakeClock()
        )
    assert "hunter2" not in str(caught.value)
    assert "a" * 100 not in str(caught.value)


@pytest.mark.parametrize("token", [TOKEN + "\r\nX-Injected: 1", "tok\x00en"])
def test_a_token_with_control_characters_is_refused_without_echo(token: str) -> None:
    with pytest.raises(ForgeError, match="control character") as caught:
        GitHubForge(
            ForgeSettings("github", ROOT, "o/r", token=token), transport=None, clock=FakeClock()
        )
    assert TOKEN not in str(caught.value)


def test_secrets_stay_out_of_reprs() -> None:
    from image_automation.forges.base import GitHubApp

    app = GitHubApp("123", 45, "-----BEGIN RSA PRIVATE KEY-----\nMIIsecret\n")
    settings = ForgeSettings("github", ROOT, "o/r", token=TOKEN, app=app)
    for text in (repr(settings), str(settings), repr(StaticAuth("Authorization", TOKEN))):
        assert TOKEN not in text and "MIIsecret" not in text


class _KeptResponses:
    """A ResponseCache in a dict (the engine keeps it in the state store)."""

    def __init__(self) -> None:
        self.kept: dict[str, CachedResponse] = {}

    async def load(self, key: str) -> CachedResponse | None:
        return self.kept.get(key)

    async def save(self, key: str, response: CachedResponse) -> None:
        self.kept[key] = response


async def test_a_new_client_sends_the_etag_its_settings_cache_kept_and_takes_the_304() -> None:
    seen: list[httpx.Headers] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request.headers)
        if request.headers.get("if-none-match") == '"e1"':
            return httpx.Response(304, headers={"etag": '"e1"'})
        return httpx.Response(200, json={"n": 1}, headers={"etag": '"e1"'})

    cache = _KeptResponses()
    for _process in range(2):  # each a client of its own, as each reconcile --once has
        http = await _http_client(handler, conditional=True, cache=cache)
        try:
            assert await http.json("GET", "/pulls/7", params={"state": "open"}) == {"n": 1}
        finally:
            await http.aclose()
    assert [h.get("if-none-match") for h in seen] == [None, '"e1"']
    assert http.counters.not_modified == 1
    assert list(cache.kept) == ["/api/pulls/7?state=open"]  # path and query: no host, no token
    assert cache.kept["/api/pulls/7?state=open"] == CachedResponse('"e1"', b'{"n":1}')


@pytest.mark.parametrize("conditional", [False, True], ids=["no-conditional-requests", "token"])
async def test_the_settings_cache_is_never_asked_without_conditional_requests_or_for_a_secret(
    conditional: bool,
) -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(200, json={}, headers={"etag": '"e1"'})

    cache = _KeptResponses()
    http = await _http_client(handler, conditional=conditional, cache=cache)
    try:
        # A query naming our token (no forge of ours sends one; a hostile next-page link might).
        await http.json("GET", "/x", params={"q": TOKEN} if conditional else None)
    finally:
        await http.aclose()
    assert cache.kept == {}
