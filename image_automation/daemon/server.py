"""The daemon's HTTP face: probes, metrics and Flux-style webhook receivers (aiohttp).

``/healthz`` says the process serves requests; ``/readyz`` says policies are loaded and the
state store answers; ``/metrics`` is the Prometheus exposition. ``/hook/<sha256>`` is a
receiver's secret path: the request is verified by the receiver type's rule
(:mod:`image_automation.daemon.hooks`) and, if good, the repositories the receiver names are
*enqueued* for a scan and reconcile. The body is never read as data. An unknown path is a 404,
a bad signature a 401; both are counted and nothing else happens.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field

from aiohttp import web

from image_automation.daemon.hooks import Verdict, verify
from image_automation.daemon.metrics import CONTENT_TYPE, Metrics

log = logging.getLogger(__name__)

DEFAULT_MAX_BODY = 256 * 1024
"""Webhook bodies above this many bytes get 413 (registry payloads are a few KiB)."""
UNKNOWN_RECEIVER = "unknown"
"""Receiver label for requests to a path no receiver owns (never the path itself)."""


@dataclass(frozen=True, slots=True)
class Hook:
    """A served receiver: its secret path, rule, token and the repositories it may wake."""

    path: str
    receiver: str
    kind: str
    token: str = field(repr=False)
    events: tuple[str, ...] = ()
    repositories: tuple[str, ...] = ()


Ready = Callable[[], Awaitable[str | None]]
"""Returns ``None`` when ready, else the reason it is not."""


class DaemonServer:
    """Owns the aiohttp app and its runner. ``hooks`` is read per request, so reloads apply."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        hooks: Callable[[], Mapping[str, Hook]],
        on_hook: Callable[[Hook], None],
        ready: Ready,
        max_body: int = DEFAULT_MAX_BODY,
    ) -> None:
        self._metrics = metrics
        self._hooks = hooks
        self._on_hook = on_hook
        self._ready = ready
        self._max_body = max_body
        self._accepting = True
        self._runner: web.AppRunner | None = None
        self.app = self._build()

    def stop_accepting(self) -> None:
        """From now on hooks get 503 and enqueue nothing (the daemon is stopping)."""
        self._accepting = False

    async def start(self, host: str, port: int) -> tuple[str, int]:
        """Listen on ``host:port`` (port 0 picks one); returns the bound address."""
        self._runner = web.AppRunner(self.app, access_log=None, handle_signals=False)
        await self._runner.setup()
        site = web.TCPSite(self._runner, host, port)
        await site.start()
        bound = self._runner.addresses[0]
        return str(bound[0]), int(bound[1])

    async def close(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    def _build(self) -> web.Application:
        app = web.Application(client_max_size=self._max_body)
        app.router.add_get("/healthz", self._healthz)
        app.router.add_get("/readyz", self._readyz)
        app.router.add_get("/metrics", self._metrics_page)
        app.router.add_post("/hook/{digest}", self._hook)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        reason = await self._ready()
        if reason is None:
            return web.Response(text="ready\n")
        return web.Response(status=503, text=f"not ready: {reason}\n")

    async def _metrics_page(self, request: web.Request) -> web.Response:
        response = web.Response(body=self._metrics.render())
        response.headers["Content-Type"] = CONTENT_TYPE
        return response

    async def _hook(self, request: web.Request) -> web.Response:
        hook = self._hooks().get(request.path)
        if hook is None:
            self._count(UNKNOWN_RECEIVER, "not_found")
            return web.Response(status=404, text="not found\n")
        if not self._accepting:
            self._count(hook.receiver, "stopping")
            return web.Response(status=503, text="stopping\n")
        body = await self._read_body(request)
        if body is None:
            self._count(hook.receiver, "too_large")
            return web.Response(status=413, text="body too large\n")
        check = verify(
            hook.kind, token=hook.token, events=hook.events, headers=request.headers, body=body
        )
        self._count(hook.receiver, check.verdict.value)
        extra = {"receiver": hook.receiver, "result": check.verdict.value}
        if check.verdict is Verdict.UNAUTHORIZED:
            log.warning("webhook refused: %s", check.reason, extra=extra)
            return web.Response(status=401, text="unauthorized\n")
        if check.verdict is Verdict.MALFORMED:
            log.warning("webhook refused: %s", check.reason, extra=extra)
            return web.Response(status=400, text="bad payload\n")
        if check.verdict is Verdict.IGNORED:
            log.info("webhook ignored: %s", check.reason, extra=extra)
            return web.Response(text="ignored\n")
        log.info("webhook accepted; %d repositories queued", len(hook.repositories), extra=extra)
        self._on_hook(hook)
        return web.Response(status=202, text="queued\n")

    async def _read_body(self, request: web.Request) -> bytes | None:
        """The body, or ``None`` past the limit (checked before and while reading)."""
        if request.content_length is not None and request.content_length > self._max_body:
            return None
        chunks: list[bytes] = []
        size = 0
        async for chunk in request.content.iter_chunked(1 << 16):
            size += len(chunk)
            if size > self._max_body:
                return None
            chunks.append(chunk)
        return b"".join(chunks)

    def _count(self, receiver: str, result: str) -> None:
        self._metrics.webhooks.labels(receiver=receiver, result=result).inc()


__all__ = ["DEFAULT_MAX_BODY", "UNKNOWN_RECEIVER", "DaemonServer", "Hook", "Ready"]
