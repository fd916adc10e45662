"""The daemon's HTTP face: probes, metrics and Flux-style webhook receivers (aiohttp).

``/healthz`` says the process serves requests; ``/readyz`` says policies are loaded and the
state store answers (and, below that first line, what this replica holds); ``/metrics`` is the
Prometheus exposition. ``/hook/<sha256>`` is a receiver's secret path: the request is verified
by the receiver type's rule (:mod:`image_automation.daemon.hooks`) and, if good, the
repositories the receiver names are *enqueued* for a scan and reconcile. The body is never read
as data: for the types whose events name a repository (ECR, Pub/Sub, distribution notifications,
GitHub packages) it only narrows the receiver's repositories to the ones the event is about, and
an event about none of them wakes nothing. A ``gcr`` receiver's token is checked against
Google's keys (:mod:`image_automation.daemon.google_keys`, fetched here, before the pure check).
An unknown path is a 404, a bad signature a 401; both are counted and nothing else happens.

``/hooks/forge/<provider>/<name>`` receives a forge's pull-request events: ``name`` picks the
secret (looked up per request, so a rotated secret applies at once), the request is verified
by the provider's rule (:mod:`image_automation.daemon.forge_hooks`), and a verified
pull-request event is handed to ``on_forge_event``, which wakes the automations it concerns.
An unknown provider and an unknown name get the same 404.

``/status`` and ``/api/v1/...`` are the status page and its JSON
(:mod:`image_automation.daemon.status.web`), when the daemon is given a source for them.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

from aiohttp import web

from image_automation.daemon.forge_hooks import PROVIDERS, ForgeEvent, verify_forge_event
from image_automation.daemon.google_jwt import key_id
from image_automation.daemon.google_keys import GoogleKeys, KeysUnavailable
from image_automation.daemon.hooks import Check, Verdict, verify
from image_automation.daemon.metrics import CONTENT_TYPE, Metrics
from image_automation.daemon.status.web import StatusPages

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
    secret: Mapping[str, str] = field(default_factory=dict, repr=False)
    """The secret's other keys the type needs (``gcr``: ``email``, ``audience``)."""


Ready = Callable[[], Awaitable[str | None]]
"""Returns ``None`` when ready, else the reason it is not."""
ForgeSecret = Callable[[str], Awaitable[str | None]]
"""The secret named by a forge hook's path, or ``None`` when there is no such secret."""
OnForgeEvent = Callable[[ForgeEvent], Awaitable[int]]
"""Wakes what a verified pull-request event concerns; returns how many automations."""


class DaemonServer:
    """Owns the aiohttp app and its runner. ``hooks`` is read per request, so reloads apply."""

    def __init__(
        self,
        *,
        metrics: Metrics,
        hooks: Callable[[], Mapping[str, Hook]],
        on_hook: Callable[[Hook], None],
        ready: Ready,
        details: Callable[[], list[str]] | None = None,
        max_body: int = DEFAULT_MAX_BODY,
        forge_secret: ForgeSecret | None = None,
        on_forge_event: OnForgeEvent | None = None,
        google_keys: GoogleKeys | None = None,
        clock: Callable[[], float] = time.time,
        status: StatusPages | None = None,
    ) -> None:
        self._metrics = metrics
        self._status = status
        self._google_keys = google_keys
        self._clock = clock
        self._hooks = hooks
        self._on_hook = on_hook
        self._forge_secret = forge_secret
        self._on_forge_event = on_forge_event
        self._ready = ready
        self._details = details
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
        app.router.add_post("/hooks/forge/{provider}/{name}", self._forge_hook)
        if self._status is not None:
            self._status.add_routes(app)
        return app

    async def _healthz(self, request: web.Request) -> web.Response:
        return web.Response(text="ok\n")

    async def _readyz(self, request: web.Request) -> web.Response:
        reason = await self._ready()
        lines = self._details() if self._details else []
        tail = "".join(f"{line}\n" for line in lines)
        if reason is None:
            return web.Response(text=f"ready\n{tail}")
        return web.Response(status=503, text=f"not ready: {reason}\n{tail}")

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
        try:
            keys = await self._keys_for(hook, request)
        except KeysUnavailable as exc:
            self._count(hook.receiver, "unverifiable")
            log.warning("webhook not verified now: %s", exc, extra={"receiver": hook.receiver})
            return web.Response(status=503, text="cannot verify now\n")
        check = verify(
            hook.kind, token=hook.token, events=hook.events, headers=request.headers, body=body,
            secret=hook.secret, google_keys=keys, now=self._clock(),
        )  # fmt: skip
        extra = {"receiver": hook.receiver, "result": check.verdict.value}
        if check.verdict is not Verdict.ACCEPTED:
            self._count(hook.receiver, check.verdict.value)
            return self._refusal(check.verdict, check.reason, extra)
        woken = _narrowed(hook, check)
        if check.subjects is not None and not woken.repositories:
            self._count(hook.receiver, "unmatched")
            log.info("webhook ignored: the event names none of its repositories",
                     extra={**extra, "result": "unmatched"})  # fmt: skip
            return web.Response(text="ignored: no repository of this receiver\n")
        self._count(hook.receiver, check.verdict.value)
        log.info("webhook accepted; %d repositories queued", len(woken.repositories), extra=extra)
        self._on_hook(woken)
        return web.Response(status=202, text="queued\n")

    async def _keys_for(self, hook: Hook, request: web.Request) -> Mapping[str, Any] | None:
        """Google's signing keys for a ``gcr`` hook (others need none)."""
        if hook.kind != "gcr" or self._google_keys is None:
            return None
        return await self._google_keys.for_kid(key_id(request.headers.get("Authorization")))

    async def _forge_hook(self, request: web.Request) -> web.Response:
        provider = request.match_info["provider"]
        label = provider if provider in PROVIDERS else UNKNOWN_RECEIVER
        secret = None
        if label != UNKNOWN_RECEIVER and self._forge_secret and self._on_forge_event:
            secret = await self._forge_secret(request.match_info["name"])
        if secret is None:
            self._count_forge(label, "not_found")
            return web.Response(status=404, text="not found\n")
        if not self._accepting:
            self._count_forge(provider, "stopping")
            return web.Response(status=503, text="stopping\n")
        body = await self._read_body(request)
        if body is None:
            self._count_forge(provider, "too_large")
            return web.Response(status=413, text="body too large\n")
        check = verify_forge_event(provider, secret=secret, headers=request.headers, body=body)
        extra = {"receiver": f"forge/{provider}", "result": check.verdict.value}
        if check.event is None or self._on_forge_event is None:
            self._count_forge(provider, check.verdict.value)
            return self._refusal(check.verdict, check.reason, extra)
        woken = await self._on_forge_event(check.event)
        result = "accepted" if woken else "unmatched"
        self._count_forge(provider, result)
        event = check.event
        log.info("forge webhook: %s; %d automation(s) woken", event.describe(), woken,
                 extra={**extra, "result": result})  # fmt: skip
        if not woken:
            return web.Response(text="no automation for this pull request\n")
        return web.Response(status=202, text=f"queued {woken}\n")

    @staticmethod
    def _refusal(verdict: Verdict, reason: str, extra: Mapping[str, str]) -> web.Response:
        """The answer to a request that wakes nothing: 401, 400 or 200 (ignored)."""
        if verdict is Verdict.UNAUTHORIZED:
            log.warning("webhook refused: %s", reason, extra=extra)
            return web.Response(status=401, text="unauthorized\n")
        if verdict is Verdict.MALFORMED:
            log.warning("webhook refused: %s", reason, extra=extra)
            return web.Response(status=400, text="bad payload\n")
        log.info("webhook ignored: %s", reason, extra=extra)
        return web.Response(text="ignored\n")

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

    def _count_forge(self, provider: str, result: str) -> None:
        self._metrics.forge_webhooks.labels(provider=provider, result=result).inc()


def _narrowed(hook: Hook, check: Check) -> Hook:
    """``hook`` waking only the named repositories the event is about (all, when it says not)."""
    if check.subjects is None:
        return hook
    wanted = tuple(
        r for r in hook.repositories if any(s.matches(r) for s in check.subjects)
    )  # fmt: skip
    return replace(hook, repositories=wanted)


__all__ = [
    "DEFAULT_MAX_BODY",
    "UNKNOWN_RECEIVER",
    "DaemonServer",
    "ForgeSecret",
    "Hook",
    "OnForgeEvent",
    "Ready",
]
