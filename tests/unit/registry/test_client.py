"""RegistryClient over httpx.MockTransport: pagination, digests, caches, retries, redirects."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import json
import ssl
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.registry import (
    MANIFEST_ACCEPT,
    Credential,
    Platform,
    RegistryClient,
    RegistrySettings,
    StaticCredentials,
)

HOST = "reg.example"
IMAGE = f"{HOST}/team/app"


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


class Recorder:
    """A MockTransport handler that records requests and answers from a function."""

    def __init__(self, answer: Callable[[httpx.Request], httpx.Response]) -> None:
        self.answer = answer
        self.requests: list[httpx.Request] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        self.requests.append(request)
        return self.answer(request)


def client(handler: Recorder, **kwargs: Any) -> RegistryClient:
    kwargs.setdefault("clock", FakeClock())
    return RegistryClient(transport=httpx.MockTransport(handler), **kwargs)


def tags_response(tags: list[Any], headers: dict[str, str] | None = None) -> httpx.Response:
    return httpx.Response(200, json={"name": "team/app", "tags": tags}, headers=headers)


async def test_link_pages_are_followed_to_the_end() -> None:
    pages = {
        None: (["1.0.0", "1.1.0"], '</v2/team/app/tags/list?last=1.1.0&n=2>; rel="next"'),
        "1.1.0": (["1.2.0", "1.3.0"], '</v2/team/app/tags/list?last=1.3.0&n=2>; rel="next"'),
        "1.3.0": (["2.0.0"], None),
    }

    def answer(request: httpx.Request) -> httpx.Response:
        tags, link = pages[request.url.params.get("last")]
        return tags_response(tags, {"Link": link} if link else None)

    handler = Recorder(answer)
    async with client(handler) as c:
        listing = await c.list_tags(IMAGE)
    assert listing.tags == ("1.0.0", "1.1.0", "1.2.0", "1.3.0", "2.0.0")
    assert (listing.pages, listing.requests, c.requests) == (3, 3, 3)
    assert str(handler.requests[0].url) == f"https://{HOST}/v2/team/app/tags/list?n=1000"


async def test_without_link_a_full_page_continues_with_n_and_last() -> None:
    everything = [f"t{i}" for i in range(7)]

    def answer(request: httpx.Request) -> httpx.Response:
        n = int(request.url.params["n"])
        last = request.url.params.get("last")
        start = everything.index(last) + 1 if last else 0
        return tags_response(everything[start : start + n])

    settings = RegistrySettings().with_host(HOST, page_size=3)
    handler = Recorder(answer)
    async with client(handler, settings=settings) as c:
        listing = await c.list_tags(IMAGE)
    assert listing.tags == tuple(everything)
    assert [r.url.params.get("last") for r in handler.requests] == [None, "t2", "t5"]


async def test_a_registry_ignoring_last_does_not_loop() -> None:
    handler = Recorder(lambda r: tags_response(["a", "b"]))
    settings = RegistrySettings().with_host(HOST, page_size=2)
    async with client(handler, settings=settings) as c:
        listing = await c.list_tags(IMAGE)
    assert listing.tags == ("a", "b")
    assert len(handler.requests) == 2


async def test_invalid_tags_are_dropped_and_counted() -> None:
    handler = Recorder(
        lambda r: tags_response(["ok", "-bad", "sig+x", "also_ok", "a" * 129, "two\nlines"])
    )
    async with client(handler) as c:
        listing = await c.list_tags(IMAGE)
    assert listing.tags == ("ok", "also_ok")
    assert listing.dropped_invalid == 4


async def test_an_all_valid_page_keeps_every_tag_in_order() -> None:
    tags = [f"v{i}.0" for i in range(300)] + ["_underscore", "A" * 128]
    handler = Recorder(lambda r: tags_response(tags))
    async with client(handler) as c:
        listing = await c.list_tags(IMAGE)
    assert listing.tags == tuple(tags)
    assert listing.dropped_invalid == 0


@pytest.mark.parametrize(
    "body",
    [b'{"name": "x", "tags": ["a", ', b"[1, 2]", b'{"tags": [1, 2]}', b'{"tags": "a"}'],
)
async def test_malformed_tag_lists_are_registry_errors(body: bytes) -> None:
    handler = Recorder(lambda r: httpx.Response(200, content=body))
    async with client(handler) as c:
        with pytest.raises(RegistryError, match="team/app"):
            await c.list_tags(IMAGE)


async def test_null_tags_mean_an_empty_repository() -> None:
    handler = Recorder(lambda r: httpx.Response(200, json={"name": "x", "tags": None}))
    async with client(handler) as c:
        assert (await c.list_tags(IMAGE)).tags == ()


async def test_page_cap_is_enforced() -> None:
    handler = Recorder(
        lambda r: tags_response(
            [f"t{len(handler.requests)}"], {"Link": '</v2/team/app/tags/list?x=1>; rel="next"'}
        )
    )
    settings = RegistrySettings().with_host(HOST, max_pages=3)
    async with client(handler, settings=settings) as c:
        with pytest.raises(RegistryError, match="more than 3 pages"):
            await c.list_tags(IMAGE)
    assert len(handler.requests) == 3


async def test_404_names_the_image_and_the_code() -> None:
    body = {"errors": [{"code": "NAME_UNKNOWN", "message": "repository name not known"}]}
    handler = Recorder(lambda r: httpx.Response(404, json=body))
    async with client(handler) as c:
        with pytest.raises(
            RegistryError, match=r"reg.example/team/app: tags: not found.*NAME_UNKNOWN"
        ):
            await c.list_tags(IMAGE)


MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {
            "digest": "sha256:"
            + hashlib.sha256(b'{"created": "2024-05-06T07:08:09.123456789Z"}').hexdigest()
        },
        "layers": [],
    }
).encode()
MANIFEST_DIGEST = "sha256:" + hashlib.sha256(MANIFEST).hexdigest()
CONFIG = b'{"created": "2024-05-06T07:08:09.123456789Z"}'


def registry_answer(request: httpx.Request, *, digest_header: bool = True) -> httpx.Response:
    path = request.url.path
    if path.endswith("/manifests/v1") and request.method == "HEAD":
        headers = {"Docker-Content-Digest": MANIFEST_DIGEST} if digest_header else {}
        return httpx.Response(200, headers=headers)
    if "/manifests/" in path:
        return httpx.Response(
            200,
            content=MANIFEST,
            headers={"Content-Type": "application/vnd.oci.image.manifest.v1+json"},
        )
    if "/blobs/" in path:
        return httpx.Response(200, content=CONFIG)
    return httpx.Response(404)


async def test_digest_comes_from_a_head_with_every_manifest_type_accepted() -> None:
    handler = Recorder(registry_answer)
    async with client(handler) as c:
        assert await c.head_digest(IMAGE, "v1") == MANIFEST_DIGEST
    (request,) = handler.requests
    assert request.method == "HEAD"
    assert request.headers["Accept"] == MANIFEST_ACCEPT
    for media in ("oci.image.index", "oci.image.manifest", "manifest.list.v2", "manifest.v2"):
        assert media in request.headers["Accept"]


async def test_missing_digest_header_falls_back_to_hashing_the_body() -> None:
    handler = Recorder(lambda r: registry_answer(r, digest_header=False))
    async with client(handler) as c:
        assert await c.head_digest(IMAGE, "v1") == MANIFEST_DIGEST
    assert [r.method for r in handler.requests] == ["HEAD", "GET"]


async def test_manifests_and_configs_are_fetched_once_per_digest() -> None:
    handler = Recorder(registry_answer)
    async with client(handler) as c:
        first = await c.image_created(IMAGE, "v1")
        second = await c.image_created(IMAGE, "v1")
    assert first == second
    assert first is not None and first.isoformat() == "2024-05-06T07:08:09.123456+00:00"
    assert [r.method for r in handler.requests] == ["HEAD", "GET", "GET", "HEAD"]


async def test_index_resolves_to_the_requested_platform() -> None:
    index = json.dumps(
        {
            "mediaType": "application/vnd.oci.image.index.v1+json",
            "manifests": [
                {
                    "digest": "sha256:" + "a" * 64,
                    "platform": {"os": "linux", "architecture": "amd64"},
                },
                {
                    "digest": MANIFEST_DIGEST,
                    "platform": {"os": "linux", "architecture": "arm64", "variant": "v8"},
                },
            ],
        }
    ).encode()
    index_digest = "sha256:" + hashlib.sha256(index).hexdigest()

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path.endswith("/manifests/multi"):
            return httpx.Response(200, headers={"Docker-Content-Digest": index_digest})
        if request.url.path.endswith(index_digest):
            return httpx.Response(200, content=index)
        return registry_answer(request)

    async with client(Recorder(answer)) as c:
        created = await c.image_created(IMAGE, "multi", Platform.parse("linux/arm64/v8"))
        assert created is not None and created.year == 2024
        with pytest.raises(RegistryError, match="no manifest for platform linux/s390x"):
            await c.image_created(IMAGE, "multi", Platform.parse("linux/s390x"))


async def test_a_manifest_whose_body_does_not_match_its_digest_is_rejected() -> None:
    handler = Recorder(lambda r: httpx.Response(200, content=b'{"evil": true}'))
    async with client(handler) as c:
        with pytest.raises(RegistryError, match="has digest"):
            await c.get_manifest(IMAGE, MANIFEST_DIGEST)


async def test_5xx_is_retried_with_growing_backoff_then_gives_up() -> None:
    handler = Recorder(lambda r: httpx.Response(502))
    clock = FakeClock()
    settings = RegistrySettings.model_validate(
        {"retry": {"attempts": 4, "baseDelay": 1, "maxDelay": 100}}
    )
    async with client(handler, clock=clock, settings=settings) as c:
        with pytest.raises(RegistryUnavailable, match="HTTP 502 4 times") as info:
            await c.list_tags(IMAGE)
    assert len(handler.requests) == 4
    assert len(clock.slept) == 3
    for attempt, slept in enumerate(clock.slept):
        assert 2**attempt / 2 <= slept <= 2**attempt  # half fixed, half jitter
    assert info.value.delay > 0


async def test_connection_errors_are_retried() -> None:
    calls = 0

    def answer(request: httpx.Request) -> httpx.Response:
        nonlocal calls
        calls += 1
        if calls < 3:
            raise httpx.ConnectError("refused", request=request)
        return tags_response(["x"])

    async with client(Recorder(answer)) as c:
        listing = await c.list_tags(IMAGE)
    assert listing.tags == ("x",)
    assert listing.requests == 3


def _ssl_error(text: str, reason: str | None) -> ssl.SSLError:
    error = ssl.SSLError(1, text)
    error.reason = reason  # set by the ssl module when OpenSSL raises it
    return error


@pytest.mark.parametrize(
    "cause",
    [
        # OpenSSL 3.0/3.1 and 3.2+ word a non-TLS answer to our ClientHello differently.
        _ssl_error("[SSL: WRONG_VERSION_NUMBER] wrong version number (_ssl.c:1006)", None),
        _ssl_error("[SSL] record layer failure (_ssl.c:1000)", "RECORD_LAYER_FAILURE"),
    ],
    ids=["wrong-version-number", "record-layer-failure"],
)
async def test_a_plain_http_answer_to_tls_is_permanent_and_names_insecure(
    cause: ssl.SSLError,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError(str(cause), request=request) from cause

    handler = Recorder(answer)
    async with client(handler) as c:
        with pytest.raises(RegistryError, match=f"{HOST} speaks plain HTTP") as info:
            await c.list_tags(IMAGE)
    assert "insecure: true" in str(info.value)
    assert len(handler.requests) == 1


@pytest.mark.parametrize(
    "exc",
    [
        # httpx's own transport: ConnectError from OSError from ConnectionRefusedError.
        httpx.ConnectError("All connection attempts failed"),
        # httpx-aiohttp maps aiohttp's connector error to a ConnectTimeout: a mislabel.
        httpx.ConnectTimeout("Cannot connect to host reg.example:443 ssl:default"),
    ],
    ids=["httpx", "httpx-aiohttp"],
)
async def test_connection_refused_is_reported_as_refused_not_as_a_timeout(
    exc: httpx.TransportError,
) -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        exc.request = request
        try:
            raise OSError("All connection attempts failed") from ConnectionRefusedError(
                111, "Connect call failed"
            )
        except OSError as inner:
            raise exc from inner

    settings = RegistrySettings.model_validate({"retry": {"attempts": 2}})
    async with client(Recorder(answer), settings=settings) as c:
        with pytest.raises(RegistryUnavailable) as info:
            await c.list_tags(IMAGE)
    assert str(info.value).endswith(f"{HOST} unreachable after 2 tries (connection refused)")


async def test_a_real_timeout_keeps_its_name() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        try:
            raise TimeoutError
        except TimeoutError as inner:
            raise httpx.ReadTimeout("timed out", request=request) from inner

    settings = RegistrySettings.model_validate({"retry": {"attempts": 1}})
    async with client(Recorder(answer), settings=settings) as c:
        with pytest.raises(RegistryUnavailable, match=r"after 1 tries \(ReadTimeout: timed out\)"):
            await c.list_tags(IMAGE)


async def test_authorization_never_follows_a_redirect_to_another_host() -> None:
    seen: dict[str, httpx.Headers] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        seen[request.url.host] = request.headers
        if request.url.host == HOST:
            if "Authorization" not in request.headers:
                return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
            return httpx.Response(307, headers={"Location": "https://cdn.example/blob"})
        return httpx.Response(200, content=CONFIG)

    creds = StaticCredentials({HOST: Credential("me", "pw-redirect")})
    async with client(Recorder(answer), credentials=creds) as c:
        config = await c.get_config(IMAGE, "sha256:" + hashlib.sha256(CONFIG).hexdigest())
    assert "created" in config
    assert "Authorization" in seen[HOST]
    assert "Authorization" not in seen["cdn.example"]


async def test_bodies_over_the_cap_are_refused_with_the_image_named() -> None:
    big = json.dumps({"tags": [f"t{i}" for i in range(20000)]}).encode()
    handler = Recorder(lambda r: httpx.Response(200, content=big))
    settings = RegistrySettings().with_host(HOST, max_body_bytes=4096)
    async with client(handler, settings=settings) as c:
        with pytest.raises(RegistryError, match=r"reg.example/team/app: .*4096-byte cap"):
            await c.list_tags(IMAGE)


async def test_mirror_prefix_and_plain_http_rewrite_the_url() -> None:
    handler = Recorder(lambda r: tags_response(["1"]))
    settings = RegistrySettings.model_validate(
        {
            "hosts": {
                "docker.io": {"mirror": "mirror.local:5000/hub"},
                "mirror.local:5000": {"insecure": True},
            }
        }
    )
    async with client(handler, settings=settings) as c:
        listing = await c.list_tags("nginx")
    assert listing.image == "docker.io/library/nginx"
    assert str(handler.requests[0].url).startswith(
        "http://mirror.local:5000/v2/hub/library/nginx/tags/list"
    )


async def test_docker_hub_is_asked_at_registry_1() -> None:
    handler = Recorder(lambda r: tags_response(["1"]))
    async with client(handler) as c:
        await c.list_tags("nginx")
    assert handler.requests[0].url.host == "registry-1.docker.io"


async def test_a_mirror_gets_its_own_credentials_never_the_mirrored_registrys() -> None:
    seen: list[httpx.Request] = []

    def answer(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if "Authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="m"'})
        return tags_response(["1"])

    settings = RegistrySettings.model_validate({"hosts": {"docker.io": {"mirror": "mirror.local"}}})
    hub_only = StaticCredentials({"docker.io": Credential("hub", "pw-redirect")})
    async with client(Recorder(answer), settings=settings, credentials=hub_only) as c:
        with pytest.raises(RegistryError, match="refused"):
            await c.list_tags("nginx")
    assert all("Authorization" not in r.headers for r in seen)
    both = StaticCredentials(
        {"docker.io": Credential("hub", "pw-redirect"), "mirror.local": Credential("m", "x")}
    )
    async with client(Recorder(answer), settings=settings, credentials=both) as c:
        assert (await c.list_tags("nginx")).tags == ("1",)


async def test_concurrent_first_requests_share_one_auth_challenge() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if "Authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        return tags_response(["1"])

    handler = Recorder(answer)
    creds = StaticCredentials({HOST: Credential("me", "pw-redirect")})
    async with client(handler, credentials=creds) as c:
        listings = await asyncio.gather(*(c.list_tags(f"{HOST}/team/app{i}") for i in range(5)))
    assert [x.tags for x in listings] == [("1",)] * 5
    assert len(handler.requests) == 6  # one 401, then five listings with Basic up front


async def test_requests_waiting_for_the_first_one_then_run_in_parallel() -> None:
    in_flight = peak = 0

    async def answer(request: httpx.Request) -> httpx.Response:
        nonlocal in_flight, peak
        in_flight += 1
        peak = max(peak, in_flight)
        for _ in range(5):
            await asyncio.sleep(0)
        in_flight -= 1
        return tags_response(["1"])

    async with RegistryClient(transport=httpx.MockTransport(answer), clock=FakeClock()) as c:
        await asyncio.gather(*(c.list_tags(f"{HOST}/team/app{i}") for i in range(6)))
    assert peak > 1  # not serialised behind the lock that settled the host's auth


def _basic_user(request: httpx.Request) -> str | None:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Basic "):
        return None
    return base64.b64decode(header[6:]).decode().partition(":")[0]


async def test_a_repositorys_own_credentials_come_before_the_shared_ones() -> None:
    users: dict[str, str | None] = {}

    def answer(request: httpx.Request) -> httpx.Response:
        if "Authorization" not in request.headers:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        users[request.url.path.split("/")[2]] = _basic_user(request)
        return tags_response(["1"])

    shared = StaticCredentials({HOST: Credential("shared", "pw-shared")})
    own = {
        f"{HOST}/org-a/app": StaticCredentials({HOST: Credential("a", "pw-a")}),
        f"{HOST}/org-b/app": StaticCredentials({HOST: Credential("b", "pw-b")}),
        # A secret without an entry for this registry: the shared sources answer.
        f"{HOST}/org-d/app": StaticCredentials({"elsewhere.example": Credential("x", "y")}),
    }
    async with client(Recorder(answer), credentials=shared, repository_credentials=own) as c:
        for org in ("org-a", "org-b", "org-c", "org-d"):
            await c.list_tags(f"{HOST}/{org}/app")
    assert users == {"org-a": "a", "org-b": "b", "org-c": "shared", "org-d": "shared"}


class CountingCredentials:
    """A credential source that counts its calls and yields while it answers, like a
    credential helper subprocess; ``failures`` first calls raise."""

    def __init__(self, failures: int = 0) -> None:
        self.calls = 0
        self.failures = failures

    async def credential_for(self, registry: str) -> Credential | None:
        self.calls += 1
        for _ in range(3):
            await asyncio.sleep(0)
        if self.calls <= self.failures:
            raise RegistryError(f"credential helper for {registry} failed")
        return Credential("me", "pw-counted")


async def test_concurrent_first_requests_ask_the_shared_credentials_once() -> None:
    source = CountingCredentials()
    async with client(Recorder(lambda _: tags_response(["1"])), credentials=source) as c:
        await asyncio.gather(*(c.list_tags(f"{HOST}/org-{n}/app") for n in range(5)))
    assert source.calls == 1


async def test_a_failed_credential_lookup_is_asked_again_next_time() -> None:
    source = CountingCredentials(failures=1)
    async with client(Recorder(lambda _: tags_response(["1"])), credentials=source) as c:
        with pytest.raises(RegistryError, match="credential helper"):
            await c.list_tags(f"{HOST}/org-a/app")
        await c.list_tags(f"{HOST}/org-a/app")
    assert source.calls == 2
