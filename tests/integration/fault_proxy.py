"""A misbehaving registry: an aiohttp proxy in front of a real one that injects faults.

The real registry (distribution 2.8) never fails on purpose, never paginates and returns tags
in arbitrary order, so everything a client must survive on GHCR, Quay or Docker Hub is played
here: ``proxy.add(Fault(...))`` queues a fault for the next matching requests, and
``proxy.paginate(order, page_size, link=True)`` serves tags oldest-first, page by page.
``proxy.seen`` records every request (method, path, headers) for assertions.

:class:`Sink` is "another host" for redirects: it records the headers it receives.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import quote

import aiohttp
from aiohttp import web

FaultKind = Literal[
    "status",  # answer `status` (500, 503, ...) with a registry error body
    "retry_after",  # 429 with Retry-After: `retry_after`
    "ratelimit",  # forward, adding ratelimit-limit / ratelimit-remaining headers
    "delay",  # sleep `delay` seconds before forwarding (client timeouts)
    "hang",  # accept the request and never answer (a hung registry)
    "reset",  # drop the connection without an answer
    "truncate",  # forward with the body cut in half (Content-Length of the cut body)
    "cut",  # declare the full Content-Length, send half, drop the connection
    "oversize",  # a valid tag list of about `size` bytes
    "redirect",  # 307 to `location` + the original path and query
]

_HOP = {"host", "connection", "keep-alive", "transfer-encoding", "content-length", "upgrade"}


@dataclass
class Fault:
    """One misbehaviour for the next ``times`` requests whose path contains ``path``."""

    kind: FaultKind
    times: int = 1
    path: str = "/tags/list"
    status: int = 500
    retry_after: str = "1"
    ratelimit: tuple[int, int] = (100, 5)
    delay: float = 1.0
    size: int = 1 << 20
    location: str = ""
    chunked: bool = False
    authorized_only: bool = False  # only requests that carry an Authorization header


@dataclass(frozen=True)
class Seen:
    method: str
    path: str
    headers: dict[str, str]


@dataclass
class _Pages:
    order: list[str]
    page_size: int
    link: bool


class _Server:
    def __init__(self) -> None:
        self.seen: list[Seen] = []
        self._runner: web.AppRunner | None = None
        self.port = 0

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.port}"

    async def _start(self, handler: web.RequestHandler) -> None:  # type: ignore[type-arg]
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", handler)
        self._runner = web.AppRunner(
            app, access_log=None, handler_cancellation=True, shutdown_timeout=0.5
        )
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        sockets = site._server.sockets if site._server else ()  # type: ignore[union-attr]
        self.port = int(sockets[0].getsockname()[1])

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _record(self, request: web.Request) -> None:
        self.seen.append(Seen(request.method, request.path_qs, dict(request.headers)))


class Sink(_Server):
    """Another host: answers every request with an empty tag list, remembers headers."""

    async def start(self) -> Sink:
        await self._start(self._handle)
        return self

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        return web.json_response({"name": "redirected", "tags": ["from-sink"]})


class FaultProxy(_Server):
    """Forwards to ``upstream`` (a plain-HTTP registry) unless a fault says otherwise."""

    def __init__(self, upstream: str) -> None:
        super().__init__()
        self.upstream = upstream.rstrip("/")
        self.faults: list[Fault] = []
        self._pages: _Pages | None = None
        self._session: aiohttp.ClientSession | None = None

    async def start(self) -> FaultProxy:
        await self._start(self._handle)
        self._session = aiohttp.ClientSession(auto_decompress=False)
        return self

    async def stop(self) -> None:
        await super().stop()
        if self._session is not None:
            await self._session.close()
            self._session = None

    def add(self, fault: Fault) -> Fault:
        self.faults.append(fault)
        return fault

    def paginate(self, order: Sequence[str], *, page_size: int, link: bool = True) -> None:
        """Serve tags in ``order`` (oldest first), ``page_size`` a page; Link or n/last only."""
        self._pages = _Pages(list(order), page_size, link)

    def _take(self, request: web.Request) -> Fault | None:
        authorized = "Authorization" in request.headers
        for fault in self.faults:
            if fault.authorized_only and not authorized:
                continue
            if fault.times > 0 and fault.path in request.path:
                fault.times -= 1
                return fault
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self._record(request)
        fault = self._take(request)
        if fault is not None:
            return await self._fault(fault, request)
        if self._pages is not None and request.path.endswith("/tags/list"):
            return await self._page(request, self._pages)
        status, headers, body = await self._forward(request)
        return web.Response(status=status, headers=headers, body=body)

    async def _forward(self, request: web.Request) -> tuple[int, dict[str, str], bytes]:
        assert self._session is not None
        headers = {k: v for k, v in request.headers.items() if k.lower() not in _HOP}
        async with self._session.request(
            request.method,
            self.upstream + request.path_qs,
            headers=headers,
            data=await request.read() or None,
            allow_redirects=False,
        ) as upstream:
            body = await upstream.read()
            out = {k: v for k, v in upstream.headers.items() if k.lower() not in _HOP}
            return upstream.status, out, body

    async def _fault(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        if fault.kind == "status":
            body = {"errors": [{"code": "UNAVAILABLE", "message": "injected"}]}
            return web.json_response(body, status=fault.status)
        if fault.kind == "retry_after":
            return web.json_response(
                {"errors": [{"code": "TOOMANYREQUESTS"}]},
                status=429,
                headers={"Retry-After": fault.retry_after},
            )
        if fault.kind == "redirect":
            return web.Response(status=307, headers={"Location": fault.location + request.path_qs})
        if fault.kind == "oversize":
            return await self._oversize(fault, request)
        if fault.kind == "reset":
            assert request.transport is not None
            request.transport.abort()
            raise web.HTTPServiceUnavailable()  # never delivered: the socket is gone
        if fault.kind == "hang":
            await asyncio.Event().wait()  # until the client gives up (handler cancellation)
        if fault.kind == "delay":
            await asyncio.sleep(fault.delay)
        status, headers, body = await self._forward(request)
        if fault.kind == "ratelimit":
            limit, remaining = fault.ratelimit
            headers["ratelimit-limit"] = f"{limit};w=60"
            headers["ratelimit-remaining"] = f"{remaining};w=60"
        if fault.kind == "truncate":
            body = body[: len(body) // 2]
        if fault.kind == "cut":
            response = web.StreamResponse(status=status, headers=headers)
            response.content_length = len(body)
            await response.prepare(request)
            await response.write(body[: len(body) // 2])
            assert request.transport is not None
            request.transport.abort()
            return response
        return web.Response(status=status, headers=headers, body=body)

    async def _oversize(self, fault: Fault, request: web.Request) -> web.StreamResponse:
        count = max(1, fault.size // 12)
        tags = [f"t{i:09d}" for i in range(count)]
        body = json.dumps({"name": "big", "tags": tags}).encode()
        if not fault.chunked:
            return web.Response(body=body, content_type="application/json")
        response = web.StreamResponse(headers={"Content-Type": "application/json"})
        response.enable_chunked_encoding()
        await response.prepare(request)
        step = 64 << 10
        try:
            for start in range(0, len(body), step):
                await response.write(body[start : start + step])
        except (ConnectionError, aiohttp.ClientConnectionResetError):
            return response  # the client stopped reading at its cap, as it should
        await response.write_eof()
        return response

    async def _page(self, request: web.Request, pages: _Pages) -> web.StreamResponse:
        status, headers, body = await self._forward(request)
        if status != 200:
            return web.Response(status=status, headers=headers, body=body)
        present = set(json.loads(body).get("tags") or [])
        order = [t for t in pages.order if t in present]
        order += sorted(present - set(order))
        size = int(request.query.get("n") or pages.page_size)
        size = min(size, pages.page_size)
        last = request.query.get("last")
        start = order.index(last) + 1 if last in order else 0
        chunk = order[start : start + size]
        out = {"Content-Type": "application/json"}
        if pages.link and start + size < len(order):
            name = request.path[len("/v2/") : -len("/tags/list")]
            out["Link"] = f'</v2/{name}/tags/list?n={size}&last={quote(chunk[-1])}>; rel="next"'
        data = json.dumps({"name": request.path, "tags": chunk}).encode()
        return web.Response(status=200, headers=out, body=data)


@dataclass
class ProxySet:
    """A proxy and a sink, started and stopped together by the fixture."""

    proxy: FaultProxy
    sink: Sink
    extra: list[object] = field(default_factory=list)
