"""One HTTP exchange with a registry: endpoint, TLS, auth, redirects, retries, size cap.

All httpx errors become ours here, in one place: connection errors and 5xx after bounded
retries become :class:`RegistryUnavailable` (named by :mod:`._failures`: "connection refused",
not the library's label), TLS problems no retry can fix (plain HTTP, an untrusted certificate)
and oversized bodies :class:`RegistryError` at once. Messages
name the image and host and never carry a header value.
"""

from __future__ import annotations

import asyncio
import json
import random
import re
import ssl
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

import httpx

from image_automation.domain import ImageRef
from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.registry._failures import permanent_problem, unreachable_reason
from image_automation.registry.auth import RegistryAuth, TokenCache, credential_identity
from image_automation.registry.credentials import Credential, CredentialSource
from image_automation.registry.limits import (
    Clock,
    Limits,
    PoliteTransport,
    RequestCounter,
    RetryPolicy,
)
from image_automation.registry.settings import HostSettings, RegistrySettings

_Site = tuple[str, str, HostSettings, tuple[str, bytes], httpx.Timeout]
TransportFactory = Callable[[ssl.SSLContext | bool], httpx.AsyncBaseTransport]
_MAX_REDIRECTS = 5
_LINK_NEXT_RE = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an image's repository is served: base URL, path name, settings."""

    base: str  # scheme://host[:port]
    name: str  # repository path on that host (mirror prefix applied)
    host: str  # host[:port] of the API server
    settings: HostSettings
    image: str  # registry/repository as the user wrote it (normalised): messages, own secrets
    origin: tuple[str, bytes]  # (scheme, netloc): the only place credentials may go
    timeout: httpx.Timeout
    credential_key: str  # whose credentials: the registry's, or a mirror's own (never mixed)


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL


def load_json(body: bytes, ep: Endpoint, what: str) -> Any:
    """``body`` parsed; a body that is not JSON is a :class:`RegistryError` naming ``what``."""
    try:
        return json.loads(body)
    except ValueError:
        raise RegistryError(
            f"{ep.image}: {what} from {ep.host} is not valid JSON ({len(body)} bytes)"
        ) from None


def check_pages(pages: int, ep: Endpoint, *, max_pages: int, what: str, hint: str) -> None:
    """Stop a listing that goes on past ``max_pages`` pages (a registry that loops)."""
    if pages > max_pages:
        raise RegistryError(
            f"{ep.image}: more than {max_pages} pages of {what} on {ep.host} ({hint})"
        )


def same_origin(reply: Reply, ep: Endpoint, link: str, *, what: str) -> str:
    """``link`` resolved against the reply's URL; one to another origin is refused."""
    target = reply.url.join(link)
    if (target.scheme, target.netloc) != (reply.url.scheme, reply.url.netloc):
        raise RegistryError(f"{ep.image}: {what} leaves {ep.host}")
    return str(target)


def link_next(reply: Reply, ep: Endpoint, *, what: str) -> str | None:
    """The ``Link: <…>; rel="next"`` page of ``reply`` (same origin only), else ``None``."""
    for value in reply.headers.get_list("link"):
        match = _LINK_NEXT_RE.search(value)
        if match:
            return same_origin(reply, ep, match.group(1), what=what)
    return None


_system_context: ssl.SSLContext | None = None


def system_ssl_context() -> ssl.SSLContext:
    """The default trust store, loaded once per process (loading it costs ~60 ms)."""
    global _system_context
    if _system_context is None:
        _system_context = httpx.create_ssl_context()
    return _system_context


def default_transport(verify: ssl.SSLContext | bool) -> httpx.AsyncBaseTransport:
    """httpx over aiohttp (PyPI httpx-aiohttp): about twice the throughput of httpx's own
    pool here, see bench/RESULTS.md."""
    from httpx_aiohttp import AiohttpTransport

    context = system_ssl_context() if verify is True else verify
    return AiohttpTransport(verify=context, limits=httpx.Limits(max_connections=100))


def _ssl_context(settings: HostSettings) -> ssl.SSLContext | bool:
    if settings.insecure:
        return True  # plain HTTP: unused
    if not settings.tls_verify:
        ctx = ssl.create_default_context()
        ctx.check_hostname = False
        ctx.verify_mode = ssl.CERT_NONE
    elif settings.ca_file is not None:
        ctx = ssl.create_default_context(cafile=str(settings.ca_file))
    elif settings.cert_file is None:
        return True
    else:
        ctx = ssl.create_default_context()
    if settings.cert_file is not None:
        ctx.load_cert_chain(str(settings.cert_file), str(settings.key_file or settings.cert_file))
    return ctx


class _NoCookies(httpx.Cookies):
    """A cookie jar that keeps nothing (httpx has no switch to turn cookies off)."""

    def extract_cookies(self, response: httpx.Response) -> None:
        return None


class Http:
    """Shared plumbing for :class:`RegistryClient`: one per client.

    Credentials are per repository: its own source (``repository_credentials``, keyed by
    ``registry/repository``) first, then the shared ``credentials``. TLS and politeness stay
    per host. One :class:`RegistryAuth` serves each (host, credential) pair.
    """

    def __init__(
        self,
        *,
        settings: RegistrySettings,
        credentials: CredentialSource | None,
        repository_credentials: Mapping[str, CredentialSource],
        transport: httpx.AsyncBaseTransport | None,
        transport_factory: TransportFactory | None,
        clock: Clock,
        rng: random.Random,
    ) -> None:
        self.settings = settings
        self.counter = RequestCounter()
        self._credentials = credentials
        self._own = repository_credentials
        self._shared: dict[str, Credential | None] = {}  # registry -> shared answer
        self._shared_locks: dict[str, asyncio.Lock] = {}  # registry -> its first lookup
        self._resolved: dict[str, Credential | None] = {}  # repository -> its credential
        self._transport = transport
        self._factory = transport_factory or default_transport
        self._clock = clock
        self._rng = rng
        self._retry: RetryPolicy = settings.retry.policy()
        self._limits = Limits(lambda h: settings.for_host(h).politeness(), clock)
        self._tokens = TokenCache(clock.monotonic)
        self._clients: dict[object, httpx.AsyncClient] = {}
        self._endpoints: dict[ImageRef, Endpoint] = {}
        self._sites: dict[str, _Site] = {}
        self._first: dict[tuple[str, str], asyncio.Lock] = {}
        self._auths: dict[tuple[str, str], RegistryAuth] = {}

    @property
    def token_cache(self) -> TokenCache:
        return self._tokens

    def endpoint(self, ref: ImageRef) -> Endpoint:
        key = ImageRef(ref.registry, ref.repository)
        found = self._endpoints.get(key)
        if found is None:
            found = self._endpoints[key] = self._make_endpoint(key)
        return found

    def _make_endpoint(self, ref: ImageRef) -> Endpoint:
        site = self._sites.get(ref.registry)
        if site is None:
            site = self._sites[ref.registry] = self._make_site(ref)
        host, prefix, settings, origin, timeout = site
        name = f"{prefix}/{ref.repository}" if prefix else ref.repository
        base = f"{origin[0]}://{host}"
        key = ref.registry if host == ref.api_host else host
        return Endpoint(
            base,
            name,
            host,
            settings,
            ref.name,
            origin=origin,
            timeout=timeout,
            credential_key=key,
        )

    def _make_site(self, ref: ImageRef) -> _Site:
        """Per registry, once: API host, mirror prefix, merged settings, origin, timeout."""
        settings = self.settings.for_host(ref.registry)
        if ref.api_host != ref.registry and ref.api_host in self.settings.hosts:
            settings = self.settings.for_host(ref.api_host)
        host, prefix = ref.api_host, ""
        if settings.mirror:
            host, _, prefix = settings.mirror.strip("/").partition("/")
            settings = settings.model_copy(update={"mirror": None, **self._explicit(host)})
        scheme = "http" if settings.insecure else "https"
        url = httpx.URL(f"{scheme}://{host}")
        return host, prefix, settings, (url.scheme, url.netloc), httpx.Timeout(settings.timeout)

    def _explicit(self, host: str) -> dict[str, object]:
        override = self.settings.hosts.get(host.lower())
        if override is None:
            return {}
        return {k: getattr(override, k) for k in override.model_fields_set}

    def _client(self, settings: HostSettings) -> httpx.AsyncClient:
        key: object = "injected"
        if self._transport is None:
            key = (settings.ca_file, settings.cert_file, settings.key_file, settings.tls_verify)
        client = self._clients.get(key)
        if client is None:
            if self._transport is not None:
                inner, owns = self._transport, False
            else:
                inner, owns = self._factory(_ssl_context(settings)), True
            polite = PoliteTransport(
                inner, limits=self._limits, counter=self.counter, owns_inner=owns
            )
            client = httpx.AsyncClient(transport=polite, follow_redirects=False)
            client._cookies = _NoCookies()  # registries need none; extracting costs ~10% CPU
            self._clients[key] = client
        return client

    async def _credential(self, endpoint: Endpoint) -> Credential | None:
        """The repository's own credential (its ``secretRef``), else the shared one.

        Looked up once per repository; the shared sources once per registry (a credential
        helper is a subprocess). ``credential_key`` is the registry, or a mirror's own host.
        """
        repository = endpoint.image
        if repository in self._resolved:
            return self._resolved[repository]
        found: Credential | None = None
        own = self._own.get(repository)
        if own is not None:
            found = await own.credential_for(endpoint.credential_key)
        if found is None:
            found = await self._shared_credential(endpoint.credential_key)
        self._resolved[repository] = found
        return found

    async def _shared_credential(self, registry: str) -> Credential | None:
        """Asked once per registry: concurrent first requests wait for the one lookup. A
        lookup that raises stores nothing, so the next request asks again."""
        if registry not in self._shared:
            async with self._shared_locks.setdefault(registry, asyncio.Lock()):
                if registry not in self._shared:  # else a request we waited for asked
                    found = None
                    if self._credentials is not None:
                        found = await self._credentials.credential_for(registry)
                    self._shared[registry] = found
        return self._shared[registry]

    async def credential_for(self, endpoint: Endpoint) -> Credential | None:
        """``endpoint``'s repository credential, as its registry requests get it.

        The seam for vendor APIs that take a token rather than the registry's challenge flow
        (GHCR's packages API, Artifact Registry's REST API): whatever source answers for the
        registry (a docker config, a mounted secret, a cloud provider's credential source)
        answers here too, and the API reads its token from that answer.
        """
        return await self._credential(endpoint)

    async def basic_auth(self, endpoint: Endpoint) -> httpx.Auth | None:
        """Basic auth with ``endpoint``'s repository credentials (vendor APIs such as
        Harbor's), or ``None`` when there are none or they are an identity token."""
        credential = await self._credential(endpoint)
        if credential is None or credential.identity_token:
            return None
        return httpx.BasicAuth(credential.username, credential.password)

    async def _auth(self, endpoint: Endpoint) -> RegistryAuth:
        credential = await self._credential(endpoint)
        key = (endpoint.host, credential_identity(credential))
        auth = self._auths.get(key)
        if auth is None:
            auth = RegistryAuth(endpoint.host, credential=credential, tokens=self._tokens)
            self._auths[key] = auth
        return auth

    async def _send_settling(
        self,
        method: str,
        endpoint: Endpoint,
        url: str,
        *,
        headers: Mapping[str, str],
    ) -> Reply:
        """The first request to a host (per credential) goes alone: the others then know its
        auth scheme instead of each collecting the same 401 (a first scan would pay one per
        slot)."""
        auth = await self._auth(endpoint)
        if not auth.settled:
            async with self._first.setdefault((endpoint.host, auth.identity), asyncio.Lock()):
                if not auth.settled:  # the waiters go on in parallel once it is settled
                    return await self._send(method, endpoint, url, auth=auth, headers=headers)
        return await self._send(method, endpoint, url, auth=auth, headers=headers)

    async def request(
        self,
        method: str,
        endpoint: Endpoint,
        url: str,
        *,
        headers: Mapping[str, str],
        what: str,
        auth: httpx.Auth | Literal["registry"] | None = "registry",
    ) -> Reply:
        """Send with retries; return the final reply (any status but 429/5xx).

        ``auth`` is the registry's own flow by default; a vendor API (push times) passes its
        own ``httpx.Auth`` or ``None`` (anonymous). Either only ever goes to ``endpoint.origin``.
        """
        attempts = self._retry.attempts
        for attempt in range(attempts):
            last = attempt + 1 >= attempts
            try:
                if auth == "registry":
                    reply = await self._send_settling(method, endpoint, url, headers=headers)
                else:
                    reply = await self._send(method, endpoint, url, auth=auth, headers=headers)
            except httpx.TransportError as exc:
                problem = permanent_problem(exc, endpoint.host)
                if problem is not None:  # no retry: the same handshake fails the same way
                    raise RegistryError(f"{endpoint.image}: {what} failed, {problem}") from exc
                if last:
                    raise RegistryUnavailable(
                        f"{endpoint.image}: {what} failed, {endpoint.host} unreachable after "
                        f"{attempts} tries ({unreachable_reason(exc)})",
                        delay=self._retry.backoff(attempt, self._rng),
                    ) from exc
                await self._clock.sleep(self._retry.backoff(attempt, self._rng))
                continue
            if reply.status == 429 or reply.status >= 500:
                delay = self._retry.backoff(attempt, self._rng)
                if last:
                    raise RegistryUnavailable(
                        f"{endpoint.image}: {what} failed, {endpoint.host} answered HTTP "
                        f"{reply.status} {attempts} times",
                        delay=delay,
                    )
                if reply.status >= 500:
                    await self._clock.sleep(delay)
                # 429: the host limiter already holds the next request until Retry-After.
                continue
            return reply
        raise AssertionError("unreachable")  # pragma: no cover

    async def _send(
        self,
        method: str,
        endpoint: Endpoint,
        url: str,
        *,
        auth: httpx.Auth | None,
        headers: Mapping[str, str],
    ) -> Reply:
        client = self._client(endpoint.settings)
        target = httpx.URL(url)
        timeout = endpoint.timeout
        for _hop in range(_MAX_REDIRECTS + 1):
            request = client.build_request(method, target, headers=dict(headers), timeout=timeout)
            same_origin = (target.scheme, target.netloc) == endpoint.origin
            # Credentials only ever go to the registry host itself, never after a redirect.
            response = await client.send(request, auth=auth if same_origin else None, stream=True)
            try:
                if response.is_redirect and "location" in response.headers:
                    target = target.join(response.headers["location"])
                    continue
                body = await self._read(response, endpoint)
            finally:
                await response.aclose()
            return Reply(response.status_code, response.headers, body, target)
        raise RegistryError(f"{endpoint.image}: more than {_MAX_REDIRECTS} redirects")

    async def _read(self, response: httpx.Response, endpoint: Endpoint) -> bytes:
        cap = endpoint.settings.max_body_bytes
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > cap:
            raise RegistryError(
                f"{endpoint.image}: response from {endpoint.host} is {declared} bytes, "
                f"over the {cap}-byte cap (maxBodyBytes)"
            )
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > cap:
                raise RegistryError(
                    f"{endpoint.image}: response from {endpoint.host} exceeds the "
                    f"{cap}-byte cap (maxBodyBytes)"
                )
            chunks.append(chunk)
        return b"".join(chunks)

    async def aclose(self) -> None:
        clients, self._clients = list(self._clients.values()), {}
        for client in clients:
            await client.aclose()
