"""Local stand-ins for Slack, Teams, Discord, PagerDuty, a generic webhook and the forges'
commit-status APIs: one aiohttp server that validates each request against the service's
documented schema (tests/fixtures/notify-schemas) and answers as the service would.

A valid request is recorded in ``received`` (path, headers, parsed body) and answered 2xx; an
invalid one is recorded in ``rejected`` with the schema's complaints and answered 400, so a
test that expects deliveries fails loudly on a malformed payload. ``hmac_key`` makes the
``/hook`` path check Flux's ``X-Signature`` (``/plain`` is a generic webhook without one);
``min_interval`` makes every path answer 429 to a request that comes sooner than that after
the previous one (a service's own rate limit);
``hold`` keeps requests waiting until released.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
from dataclasses import dataclass, field
from typing import Any

from aiohttp import web

from tests.notify_schemas import cloudevent_from_headers, problems

ROUTES = {
    "/slack": "slack-message",
    "/teams": "msteams-workflow-message",
    "/discord": "discord-execute-webhook",
    "/hook": "flux-event",
    "/plain": "flux-event",
    "/pd/v2/enqueue": "pagerduty-events-v2",
    "/pd/v2/change/enqueue": "pagerduty-change-event",
}


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: Any


@dataclass
class Receiver:
    hmac_key: str | None = None
    min_interval: float = 0.0
    received: list[Received] = field(default_factory=list)
    rejected: list[tuple[str, list[str]]] = field(default_factory=list)
    too_soon: int = 0
    hold: asyncio.Event | None = None
    port: int = 0
    _runner: web.AppRunner | None = None
    _last: float | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    async def start(self) -> Receiver:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None, shutdown_timeout=0.5)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        self.port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        return self

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()

    def paths(self) -> list[str]:
        return [r.path for r in self.received]

    def _schema(self, path: str) -> str | None:
        if path in ROUTES:
            return ROUTES[path]
        if "/statuses/" in path:
            return "gitlab-commit-status" if "/api/v4/" in path else "github-commit-status"
        return None

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if self.hold is not None:
            await self.hold.wait()
        now = asyncio.get_running_loop().time()
        if self.min_interval and self._last is not None and now - self._last < self.min_interval:
            self.too_soon += 1
            return web.json_response({"message": "slow down"}, status=429,
                                     headers={"Retry-After": "0"})  # fmt: skip
        self._last = now
        raw = await request.read()
        path = request.raw_path.split("?", 1)[0]  # raw: GitLab ids keep their %2F
        schema = self._schema(path)
        if request.method != "POST" or schema is None:
            self.rejected.append((path, [f"unexpected {request.method} {path}"]))
            return web.Response(status=404)
        try:
            body = json.loads(raw)
        except ValueError:
            self.rejected.append((path, ["body is not JSON"]))
            return web.Response(status=400)
        found = problems(schema, body)
        headers = dict(request.headers)
        if path in ("/hook", "/plain"):
            found += problems("cloudevents-1.0", cloudevent_from_headers(request.headers, raw))
            if path == "/hook" and self.hmac_key is not None:
                expected = (
                    "sha256=" + hmac.new(self.hmac_key.encode(), raw, hashlib.sha256).hexdigest()
                )
                if not hmac.compare_digest(headers.get("X-Signature", ""), expected):
                    found.append("X-Signature does not match the body")
        if found:
            self.rejected.append((path, found))
            return web.json_response({"errors": found}, status=400)
        self.received.append(Received(path, headers, body))
        if path == "/slack" and "Authorization" in headers:
            return web.json_response({"ok": True, "ts": "1.2"})
        if path.startswith("/pd/"):
            return web.json_response(
                {"status": "success", "dedup_key": body.get("dedup_key", "")}, status=202
            )
        return web.json_response({}, status=201 if "/statuses/" in path else 200)
