"""One HTTP exchange with a forge API, shared by all five forges.

Everything a forge client must get right once goes here: auth headers (and one refresh on
401 for tokens that expire), conditional GETs (ETag → ``If-None-Match`` → a 304 answered
from our cache and counted; kept in memory, and in ``settings.cache`` when one is given, so
a new process sends them too), rate limits (``Retry-After``, ``x-ratelimit-*`` /
``ratelimit-*``, GitHub's secondary limit; read by ``_limits``) turned into
:class:`ForgeRateLimited`, bounded
retries for idempotent requests only (a create is never sent twice: the caller finds the
pull request by its head branch instead), pagination with a page bound, a body size cap,
and the translation of every httpx error into ours. Messages name the forge, the method and
the path, never a header value or a token.
"""

from __future__ import annotations

import json
import re
from collections import OrderedDict
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple, TypeVar
from urllib.parse import quote

import httpx

from image_automation.domain import redact
from image_automation.errors import (
    ForgeAuthError,
    ForgeConflict,
    ForgeError,
    ForgeNotFound,
    ForgeRateLimited,
    ForgeUnavailable,
)
from image_automation.forges._auth import Auth, check_settings
from image_automation.forges._limits import Clock, limit_delay, remaining, reset_delay
from image_automation.forges.base import CachedResponse, ForgeSettings

_T = TypeVar("_T")
MAX_BODY_BYTES = 16 * 1024 * 1024
_CACHE_ENTRIES = 512
_IDEMPOTENT = frozenset({"GET", "HEAD", "PUT", "PATCH", "DELETE"})
_REDIRECTS = frozenset({301, 302, 307, 308})
_LINK_NEXT = re.compile(r'<([^>]+)>\s*;[^,]*\brel="?next"?')


@dataclass(frozen=True, slots=True)
class Reply:
    status: int
    headers: httpx.Headers
    body: bytes
    url: httpx.URL
    cached: bool = False
    """Answered 304 Not Modified: ``body`` is the one we kept from the last 200."""


@dataclass(slots=True)
class Counters:
    """What this client cost: requests sent, of them answered 304, and retries."""

    requests: int = 0
    not_modified: int = 0
    retries: int = 0


class Page(NamedTuple):
    items: list[Any]
    next_url: str | None = None
    next_params: httpx.QueryParams | None = None


Paging = Callable[[Reply, Any, httpx.QueryParams], Page]
Params = Mapping[str, Any] | list[tuple[str, Any]] | httpx.QueryParams


def seg(value: str | int) -> str:
    """One path segment, percent-encoded whole (branch names and GitLab paths hold ``/``)."""
    return quote(str(value), safe="")


def split_repository(repository: str, forge: str) -> tuple[str, str]:
    """``owner/name`` → its two parts; anything else is refused."""
    parts = repository.strip("/").split("/")
    if len(parts) != 2 or not all(parts):
        raise ForgeError(f"{forge}: repository must be 'owner/name', got {repository[:200]!r}")
    return parts[0], parts[1]


def link_next(reply: Reply, data: Any, params: httpx.QueryParams) -> Page:
    """GitHub and Gitea: the list is the body, the next page is ``Link: <…>; rel=next``."""
    items = data if isinstance(data, list) else []
    for value in reply.headers.get_list("link"):
        match = _LINK_NEXT.search(value)
        if match:
            return Page(items, str(reply.url.join(match.group(1))))
    return Page(items)


def error_message(body: bytes) -> str:
    """The forge's own words from an error body (``message``, ``error``, ``errors``)."""
    try:
        data = json.loads(body)
    except ValueError:
        return body[:200].decode("utf-8", "replace").strip()
    parts: list[str] = []
    if isinstance(data, dict):
        for key in ("message", "error", "error_description", "errors"):
            value = data.get(key)
            if isinstance(value, dict):
                value = value.get("message") or value.get("detail")
            if value:
                parts.append(value if isinstance(value, str) else json.dumps(value)[:200])
    return "; ".join(parts)


class ForgeHttp:
    """Requests to one forge API root on behalf of one repository's client."""

    def __init__(
        self,
        *,
        forge: str,
        settings: ForgeSettings,
        auth: Auth,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock,
        conditional: bool,
        headers: Mapping[str, str] | None = None,
    ) -> None:
        check_settings(forge, settings)
        self.forge = forge
        self.settings = settings
        self.base = settings.api_url.rstrip("/")
        self.origin = httpx.URL(self.base).copy_with(path="/", query=None)
        self.auth = auth
        self.clock = clock
        self.counters = Counters()
        self._conditional = conditional
        self._cache: OrderedDict[str, tuple[str, bytes]] = OrderedDict()
        self._blocked_until = 0.0
        self._headers = {"User-Agent": settings.user_agent, "Accept": "application/json"}
        self._headers.update(headers or {})
        self._client = httpx.AsyncClient(
            transport=transport,
            timeout=httpx.Timeout(settings.timeout),
            follow_redirects=False,
        )

    def secrets(self) -> tuple[str, ...]:
        return (self.settings.token, *self.auth.secrets())

    def fail(
        self, message: str, *, cls: type[ForgeError] = ForgeError, status: int = 0
    ) -> ForgeError:
        """An error of ours, redacted (a message may quote a forge's answer)."""
        return cls(redact(f"{self.forge}: {message}", self.secrets()), status=status)

    def url(self, path: str) -> str:
        """``path`` under the API root; an absolute URL must stay on the API's origin."""
        if "://" not in path:
            return self.base + path
        target = httpx.URL(path)
        if (target.scheme, target.netloc) != (self.origin.scheme, self.origin.netloc):
            raise self.fail("a next-page link leaves the API host; refused")
        return path

    async def request(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
        ok: frozenset[int] = frozenset({200, 201, 202, 204}),
        auth_headers: Mapping[str, str] | None = None,
    ) -> Reply:
        """Send ``method path`` and return a reply whose status is in ``ok``.

        Retries only an idempotent request (by default GET/PUT/PATCH/DELETE); any request
        is repeated once after a 401 when the credential could be refreshed (a 401 means
        nothing happened). ``auth_headers`` replaces the credential (the GitHub App JWT).
        """
        what = f"{method} {httpx.URL(self.url(path)).path}"
        retry = method in _IDEMPOTENT if idempotent is None else idempotent
        attempts = max(1, self.settings.retries) if retry else 1
        refreshed = auth_headers is not None
        attempt = 0
        while True:
            last = attempt + 1 >= attempts
            await self._wait_for_limit(what, retry=retry and not last)
            headers = dict(auth_headers) if auth_headers is not None else {}
            if auth_headers is None:
                headers.update(await self.auth.headers(self))
            try:
                reply = await self._send(method, path, params=params, body=json_body, auth=headers)
            except httpx.TransportError as exc:
                if last:
                    raise self._unreachable(what, exc, retry=retry) from exc
                attempt = await self._pause(self._backoff_delay(attempt), attempt)
                continue
            if reply.status == 401 and not refreshed and await self.auth.refresh(self):
                refreshed = True  # a 401 means nothing happened: safe to send again
                continue
            if reply.status in ok:
                return reply
            pause = self._judge(reply, what, attempt=attempt, retry=retry and not last)
            attempt = await self._pause(pause, attempt)

    def _judge(self, reply: Reply, what: str, *, attempt: int, retry: bool) -> float:
        """How long to wait before sending again, or the error that ends it."""
        delay = limit_delay(
            reply.status, reply.headers, error_message(reply.body), now=self.clock.time()
        )
        if delay is not None:
            if retry and delay <= self.settings.max_rate_wait:
                return delay
            raise ForgeRateLimited(
                f"{self.forge}: {what} rate-limited (HTTP {reply.status}); retry in {delay:.0f}s",
                delay=delay,
            )
        if reply.status >= 500:
            if retry:
                return self._backoff_delay(attempt)
            times = f" {attempt + 1} times" if attempt else ""
            raise ForgeUnavailable(
                f"{self.forge}: {what} answered HTTP {reply.status}{times}",
                delay=self._backoff_delay(attempt),
            )
        raise self._refused(what, reply)

    async def json(
        self,
        method: str,
        path: str,
        *,
        params: Params | None = None,
        json_body: Any = None,
        idempotent: bool | None = None,
    ) -> Any:
        """The JSON body of a successful request (None for an empty body)."""
        reply = await self.request(
            method, path, params=params, json_body=json_body, idempotent=idempotent
        )
        return self.decode(reply, f"{method} {path}")

    def parse(self, what: str, build: Callable[[], _T]) -> _T:
        """``build()``, with a missing or mistyped field in the forge's answer reported as
        our error instead of a KeyError deep inside a client."""
        try:
            return build()
        except (KeyError, TypeError, ValueError, AttributeError, IndexError) as exc:
            raise self.fail(f"{what}: unexpected answer ({type(exc).__name__}: {exc})") from None

    def decode(self, reply: Reply, what: str) -> Any:
        if not reply.body.strip():
            return None
        try:
            return json.loads(reply.body)
        except ValueError:
            raise self.fail(f"{what} answered {len(reply.body)} bytes that are not JSON") from None

    async def collect(
        self,
        path: str,
        *,
        params: Params,
        paging: Paging,
        stop: Callable[[list[Any]], bool] | None = None,
    ) -> list[Any]:
        """All items of a listing, following ``paging`` for at most ``max_pages`` pages;
        ``stop`` ends it early once the items so far hold what the caller wants."""
        items: list[Any] = []
        target: str | None = path
        query: httpx.QueryParams | None = httpx.QueryParams(params)
        for _ in range(self.settings.max_pages):
            reply = await self.request("GET", target or path, params=query)
            page = paging(reply, self.decode(reply, f"GET {path}"), query or httpx.QueryParams())
            items.extend(page.items)
            if (stop is not None and stop(items)) or not page.items:
                return items
            if page.next_url is not None:
                target, query = page.next_url, None
            elif page.next_params is not None:
                target, query = path, page.next_params
            else:
                return items
        raise self.fail(
            f"GET {path} has more than {self.settings.max_pages} pages (raise max_pages)"
        )

    async def _send(
        self,
        method: str,
        path: str,
        *,
        params: Params | None,
        body: Any,
        auth: Mapping[str, str],
    ) -> Reply:
        target = httpx.URL(self.url(path))
        if params:
            target = target.copy_merge_params(httpx.QueryParams(params))
        for _hop in range(4):
            headers = {**self._headers, **auth}
            key = str(target)
            cached = await self._cached(key, target) if method == "GET" else None
            if cached is not None:
                headers["If-None-Match"] = cached[0]
            request = self._client.build_request(method, target, json=body, headers=headers)
            self.counters.requests += 1
            response = await self._client.send(request, stream=True)
            try:
                location = response.headers.get("location")
                if response.status_code in _REDIRECTS and method == "GET" and location:
                    target = httpx.URL(self.url(str(target.join(location))))
                    continue
                data = await self._read(response, f"{method} {target.path}")
            finally:
                await response.aclose()
            reply = self._remember(key, cached, response, data, target)
            etag = response.headers.get("etag")
            if self._conditional and method == "GET" and response.status_code == 200 and etag:
                await self._keep(target, CachedResponse(etag=etag, body=data))
            return reply
        raise self.fail(f"{method} {target.path} redirects more than 3 times")

    def _stored_key(self, target: httpx.URL) -> str | None:
        """The key of ``target`` in the settings' cache: path and query below the API root
        (``None``: no such cache, or a key that would hold one of our secrets)."""
        if not self._conditional or self.settings.cache is None:
            return None
        key = target.raw_path.decode("ascii", "replace")
        if any(secret and secret in key for secret in self.secrets()):
            return None
        return key

    async def _cached(self, key: str, target: httpx.URL) -> tuple[str, bytes] | None:
        """What we know of ``key``: in memory, else (once) from the settings' cache."""
        if not self._conditional:
            return None
        found = self._cache.get(key)
        stored = self._stored_key(target)
        if found is None and stored is not None and self.settings.cache is not None:
            kept = await self.settings.cache.load(stored)
            if kept is not None:
                found = self._cache[key] = (kept.etag, kept.body)
        return found

    async def _keep(self, target: httpx.URL, response: CachedResponse) -> None:
        stored = self._stored_key(target)
        if stored is not None and self.settings.cache is not None:
            await self.settings.cache.save(stored, response)

    def _remember(
        self,
        key: str,
        cached: tuple[str, bytes] | None,
        response: httpx.Response,
        data: bytes,
        target: httpx.URL,
    ) -> Reply:
        self._note_limits(response.headers)
        if response.status_code == 304 and cached is not None:
            self.counters.not_modified += 1
            self._cache.move_to_end(key)
            return Reply(200, response.headers, cached[1], target, cached=True)
        etag = response.headers.get("etag")
        if self._conditional and response.status_code == 200 and etag:
            self._cache[key] = (etag, data)
            self._cache.move_to_end(key)
            while len(self._cache) > _CACHE_ENTRIES:
                self._cache.popitem(last=False)
        return Reply(response.status_code, response.headers, data, target)

    async def _read(self, response: httpx.Response, what: str) -> bytes:
        declared = response.headers.get("content-length", "")
        if declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            raise self.fail(f"{what}: answer of {declared} bytes is over {MAX_BODY_BYTES}")
        chunks: list[bytes] = []
        size = 0
        async for chunk in response.aiter_bytes():
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise self.fail(f"{what}: answer is over {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
        return b"".join(chunks)

    def _note_limits(self, headers: httpx.Headers) -> None:
        """A reply that used the last request of the window blocks the next one until the
        window resets: better a ForgeRateLimited of ours than a 403 of theirs."""
        if remaining(headers) == 0:
            delay = reset_delay(headers, now=self.clock.time())
            if delay:
                self._blocked_until = max(self._blocked_until, self.clock.time() + delay)

    async def _wait_for_limit(self, what: str, *, retry: bool) -> None:
        delay = self._blocked_until - self.clock.time()
        if delay <= 0:
            return
        if retry and delay <= self.settings.max_rate_wait:
            await self.clock.sleep(delay)
            return
        raise ForgeRateLimited(
            f"{self.forge}: {what} not sent, the rate limit is used up for {delay:.0f}s",
            delay=delay,
        )

    def _backoff_delay(self, attempt: int) -> float:
        return float(min(8.0, 0.5 * 2**attempt))

    async def _pause(self, seconds: float, attempt: int) -> int:
        self.counters.retries += 1
        await self.clock.sleep(seconds)
        return attempt + 1

    def _unreachable(
        self, what: str, exc: httpx.TransportError, *, retry: bool
    ) -> ForgeUnavailable:
        kind = "timed out" if isinstance(exc, httpx.TimeoutException) else "failed"
        note = "" if retry else " (it may have been applied: look before repeating it)"
        message = f"{self.forge}: {what} {kind}: {type(exc).__name__}{note}"
        return ForgeUnavailable(redact(message, self.secrets()), delay=self._backoff_delay(0))

    def _refused(self, what: str, reply: Reply) -> ForgeError:
        said = error_message(reply.body)[:300]
        text = f"{what} answered HTTP {reply.status}" + (f": {said}" if said else "")
        status = reply.status
        if status in (401, 403):
            return self.fail(text, cls=ForgeAuthError, status=status)
        if status in (404, 410):
            return self.fail(text, cls=ForgeNotFound, status=status)
        if status == 409 or (status == 422 and "exist" in said.lower()):
            return self.fail(text, cls=ForgeConflict, status=status)
        return self.fail(text, status=status)

    async def aclose(self) -> None:
        await self._client.aclose()
