"""The status page and ``/api/v1`` served from the daemon's aiohttp app.

Read-only: every route is a GET. Pages are rendered on the server from Jinja2 templates with
autoescape on (``templates/``); one small script (``static/status.js``) only polls the API and
offers a reload when the data changed. Nothing loads from another origin, so the page works
offline; the Content-Security-Policy says so to the browser too.

Cache-friendly: pages and API answers carry a weak ETag of their data (``serial``) and
``Cache-Control: no-cache``, so a revalidation is a 304 while nothing changed; the static
files are named by their content hash and cached for a year.

Optional credentials (:class:`~image_automation.daemon.status.auth.StatusAuth`) guard the
pages and the API, never the probes, metrics or webhooks.
"""

from __future__ import annotations

import hashlib
from collections.abc import Awaitable, Callable, Mapping
from datetime import UTC, datetime
from importlib import resources
from typing import Any
from urllib.parse import quote

import jinja2
from aiohttp import web

from image_automation.daemon.status.auth import StatusAuth
from image_automation.daemon.status.events import KINDS, MAX_EVENTS, SEVERITIES, EventFilter, events
from image_automation.daemon.status.model import (
    LiveFacts,
    PolicyDetail,
    overview,
    policy_detail,
    policy_views,
)
from image_automation.daemon.status.serial import content_tag, dumps, plain
from image_automation.daemon.status.timeline import timeline_svg
from image_automation.engine.status_inputs import StatusInputs
from image_automation.policy import Trace

StatusReader = Callable[[], Awaitable[tuple[StatusInputs, LiveFacts]]]
"""Reads the records and the daemon's live facts for one request."""
TraceReader = Callable[[StatusInputs, str], Awaitable[Trace | None]]
"""``explain``'s trace of one policy (the policy page only: it reads the policy's tags)."""

_PACKAGE = "image_automation.daemon.status"
TRACE_ROWS = 200
"""The policy page lists this many tags of the trace (the API has them all)."""
_CSP = (
    "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
    "connect-src 'self'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'"
)
_STATIC_TYPES = {"status.css": "text/css", "status.js": "text/javascript"}


def _static_files() -> dict[str, tuple[bytes, str]]:
    """name -> (content, hash) of the bundled static files."""
    files = {}
    for name in _STATIC_TYPES:
        data = resources.files(_PACKAGE).joinpath("static", name).read_bytes()
        files[name] = (data, hashlib.sha256(data).hexdigest()[:16])
    return files


def _environment() -> jinja2.Environment:
    env = jinja2.Environment(
        loader=jinja2.PackageLoader(_PACKAGE, "templates"),
        autoescape=True,
        undefined=jinja2.StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
    )
    env.filters["when"] = _when
    env.globals["policy_href"] = policy_href
    return env


def _when(value: datetime | None) -> str:
    return "—" if value is None else value.astimezone(UTC).strftime("%Y-%m-%d %H:%M:%S UTC")


def policy_href(key: str) -> str:
    """The policy page of ``key`` (``namespace/name``), every other character escaped."""
    return "/status/policies/" + quote(key, safe="/")


class StatusPages:
    """The routes; add them with :meth:`add_routes`."""

    def __init__(
        self,
        *,
        read: StatusReader,
        trace: TraceReader | None = None,
        auth: StatusAuth | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._read = read
        self._trace = trace
        self._auth = auth or StatusAuth()
        self._clock = clock
        self._env = _environment()
        self._static = _static_files()
        self._env.globals["static"] = {n: f"/status/static/{n}?v={h}"
                                       for n, (_, h) in self._static.items()}  # fmt: skip

    def add_routes(self, app: web.Application) -> None:
        guarded = self._guarded
        app.router.add_get("/", self._root)
        app.router.add_get("/status", guarded(self._overview_page))
        app.router.add_get("/status/events", guarded(self._events_page))
        app.router.add_get("/status/policies/{key:.+}", guarded(self._policy_page))
        app.router.add_get("/status/static/{name}", self._static_file)
        app.router.add_get("/api/v1/status", guarded(self._overview_api))
        app.router.add_get("/api/v1/policies", guarded(self._policies_api))
        app.router.add_get("/api/v1/policies/{key:.+}", guarded(self._policy_api))
        app.router.add_get("/api/v1/events", guarded(self._events_api))

    def _guarded(
        self, handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
    ) -> Callable[[web.Request], Awaitable[web.StreamResponse]]:
        async def check(request: web.Request) -> web.StreamResponse:
            if not self._auth.allows(request.headers.get("Authorization")):
                return web.Response(
                    status=401,
                    text="unauthorized\n",
                    headers={"WWW-Authenticate": self._auth.challenge,
                             "Cache-Control": "no-store"},
                )  # fmt: skip
            return await handler(request)

        return check

    async def _root(self, request: web.Request) -> web.StreamResponse:
        raise web.HTTPFound("/status")

    # -- pages ----------------------------------------------------------------------------

    async def _overview_page(self, request: web.Request) -> web.StreamResponse:
        inputs, live = await self._read()
        view = overview(inputs, live, now=self._clock())
        data = plain(view)
        tag = content_tag(data, kind="overview")
        return self._page(request, "overview.html", tag, view=view, api_tag=tag)

    async def _detail(self, key: str) -> PolicyDetail | None:
        inputs, live = await self._read()
        if key not in {p.key for p in policy_views(inputs, live)}:
            return None
        trace = await self._trace(inputs, key) if self._trace is not None else None
        return policy_detail(inputs, key, live, trace=trace)

    async def _policy_page(self, request: web.Request) -> web.StreamResponse:
        key = request.match_info["key"]
        detail = await self._detail(key)
        if detail is None:
            return self._not_found(f"no policy {key}")
        chart = timeline_svg(detail.versions, title=f"Versions of {key} in Git")
        tag = content_tag(plain(detail), kind="policy")
        return self._page(request, "policy.html", tag, detail=detail, chart=chart,
                          trace_rows=TRACE_ROWS)  # fmt: skip

    async def _events_page(self, request: web.Request) -> web.StreamResponse:
        wanted = event_filter(request.query)
        if isinstance(wanted, str):
            return web.Response(status=400, text=f"{wanted}\n")
        inputs, _ = await self._read()
        found = events(inputs, wanted)
        tag = content_tag(plain(found), kind=f"events:{wanted}")
        return self._page(request, "events.html", tag, events=found, wanted=wanted,
                          kinds=KINDS, severities=SEVERITIES)  # fmt: skip

    def _page(
        self, request: web.Request, template: str, tag: str, **context: Any
    ) -> web.StreamResponse:
        page_tag = tag[:-1] + 'h"'
        if _matches(request, page_tag):
            return self._not_modified(page_tag)
        body = self._env.get_template(template).render(now=self._clock(), **context)
        response = web.Response(text=body, content_type="text/html", charset="utf-8")
        return self._cacheable(response, page_tag)

    def _not_found(self, text: str) -> web.Response:
        body = self._env.get_template("missing.html").render(now=self._clock(), message=text)
        return web.Response(status=404, text=body, content_type="text/html", charset="utf-8")

    # -- API ------------------------------------------------------------------------------

    async def _overview_api(self, request: web.Request) -> web.StreamResponse:
        inputs, live = await self._read()
        return self._json(request, plain(overview(inputs, live, now=self._clock())), "overview")

    async def _policies_api(self, request: web.Request) -> web.StreamResponse:
        inputs, live = await self._read()
        return self._json(request, {"policies": plain(policy_views(inputs, live))}, "policies")

    async def _policy_api(self, request: web.Request) -> web.StreamResponse:
        detail = await self._detail(request.match_info["key"])
        if detail is None:
            return web.json_response({"error": "no such policy"}, status=404)
        return self._json(request, plain(detail), "policy")

    async def _events_api(self, request: web.Request) -> web.StreamResponse:
        wanted = event_filter(request.query)
        if isinstance(wanted, str):
            return web.json_response({"error": wanted}, status=400)
        inputs, _ = await self._read()
        return self._json(request, {"events": plain(events(inputs, wanted))}, f"ev:{wanted}")

    def _json(self, request: web.Request, data: Any, kind: str) -> web.StreamResponse:
        tag = content_tag(data, kind=kind)
        if _matches(request, tag):
            return self._not_modified(tag)
        response = web.Response(body=dumps(data), content_type="application/json")
        return self._cacheable(response, tag)

    # -- static and caching -----------------------------------------------------------------

    async def _static_file(self, request: web.Request) -> web.StreamResponse:
        found = self._static.get(request.match_info["name"])
        if found is None:
            raise web.HTTPNotFound()
        data, digest = found
        tag = f'"{digest}"'
        if _matches(request, tag):
            return self._not_modified(tag, immutable=True)
        content_type = _STATIC_TYPES[request.match_info["name"]]
        response = web.Response(body=data, content_type=content_type, charset="utf-8")
        return self._cacheable(response, tag, immutable=True)

    def _cacheable(
        self, response: web.Response, tag: str, *, immutable: bool = False
    ) -> web.Response:
        response.headers.update(self._headers(tag, immutable=immutable))
        return response

    def _not_modified(self, tag: str, *, immutable: bool = False) -> web.Response:
        return web.Response(status=304, headers=self._headers(tag, immutable=immutable))

    def _headers(self, tag: str, *, immutable: bool) -> dict[str, str]:
        scope = "private" if self._auth.enabled else "public"
        cache = f"{scope}, max-age=31536000, immutable" if immutable else f"{scope}, no-cache"
        return {"ETag": tag, "Cache-Control": cache, "Content-Security-Policy": _CSP,
                "X-Content-Type-Options": "nosniff", "Referrer-Policy": "no-referrer"}  # fmt: skip


def _matches(request: web.Request, tag: str) -> bool:
    given = request.headers.get("If-None-Match", "")
    bare = tag.removeprefix("W/")
    return any(t.strip().removeprefix("W/") in (bare, "*") for t in given.split(",") if t.strip())


def event_filter(query: Mapping[str, str]) -> EventFilter | str:
    """The filter a query asks for, or why it is wrong."""
    kind, severity = query.get("kind", ""), query.get("severity", "")
    subject, limit_text = query.get("subject", ""), query.get("limit", "100")
    if kind and kind not in KINDS:
        return f"kind must be one of {', '.join(KINDS)}"
    if severity and severity not in SEVERITIES:
        return f"severity must be one of {', '.join(SEVERITIES)}"
    if len(subject) > 200:
        return "subject is longer than 200 characters"
    if not limit_text.isdigit() or not 1 <= int(limit_text) <= MAX_EVENTS:
        return f"limit must be a number from 1 to {MAX_EVENTS}"
    return EventFilter(kind=kind, severity=severity, subject=subject, limit=int(limit_text))


__all__ = ["StatusPages", "StatusReader", "TraceReader", "event_filter", "policy_href"]
