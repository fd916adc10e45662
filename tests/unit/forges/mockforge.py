"""An ``httpx.MockTransport`` that plays one forge for unit tests, spec in hand.

Each request is matched to an operation of the forge's official slice and validated
(path, query, headers incl. auth, body); the test's answer is validated too when the spec
documents its status. A request for an operation the test did not expect fails the test, as
does one the slice does not have. Requests are recorded for assertions.
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qs

import httpx

from tests.unit.forges.specs import contract

Handler = Callable[[httpx.Request], httpx.Response]


def reply(
    status: int = 200, body: Any = None, headers: dict[str, str] | None = None
) -> httpx.Response:
    """An answer with a JSON body (none for ``None``)."""
    if body is None:
        return httpx.Response(status, headers=headers or {})
    return httpx.Response(status, json=body, headers=headers or {})


@dataclass
class Seen:
    method: str
    template: str
    path: str
    query: dict[str, list[str]]
    body: Any
    headers: httpx.Headers

    def param(self, name: str) -> str | None:
        values = self.query.get(name)
        return values[0] if values else None


class FakeClock:
    """Wall time that moves only when told (or when the code under test sleeps)."""

    def __init__(self, now: float = 1_800_000_000.0) -> None:
        self.now = now
        self.sleeps: list[float] = []

    def time(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds


@dataclass
class MockForge:
    forge: str
    root: str
    """The URL the spec's server stands for (``https://api.github.com``, ``…/api/v1``)."""
    routes: dict[tuple[str, str], list[Handler]] = field(default_factory=dict)
    outside: dict[tuple[str, str], Handler] = field(default_factory=dict)
    """Endpoints no slice describes (GitHub GraphQL), by method and full path."""
    seen: list[Seen] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.contract = contract(self.forge)
        self._root = httpx.URL(self.root)

    @property
    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self._handle)

    def on(self, method: str, template: str, *answers: Handler | httpx.Response) -> None:
        """Answer ``method template`` with ``answers`` in turn (the last one repeats)."""
        assert (method, template) in {(m, t) for m, t, _ in self.contract.templates}, (
            f"{self.forge} slice has no {method} {template}"
        )
        self.routes[(method, template)] = [a if callable(a) else _constant(a) for a in answers]

    def sample(self, method: str, template: str, status: int = 200, /, **fields: Any) -> Any:
        return self.contract.sample(method, template, status, **fields)

    def calls(self, method: str | None = None, template: str | None = None) -> list[Seen]:
        return [
            s
            for s in self.seen
            if (method is None or s.method == method)
            and (template is None or s.template == template)
        ]

    def _handle(self, request: httpx.Request) -> httpx.Response:
        url = request.url
        assert (url.scheme, url.netloc) == (self._root.scheme, self._root.netloc), (
            f"request left the forge: {url.scheme}://{url.netloc.decode()}"
        )
        raw = url.raw_path.split(b"?")[0].decode()
        outside = self.outside.get((request.method, raw))
        if outside is not None:
            self._record(request, raw, raw)
            return outside(request)
        prefix = self._root.raw_path.decode().rstrip("/")
        assert raw.startswith(prefix + "/"), f"{raw} is not below the API root {prefix}"
        path = raw[len(prefix) :]
        template = self.contract.check_request(request, path)
        self._record(request, template, path)
        answers = self.routes.get((request.method, template))
        assert answers, f"{self.forge}: unexpected {request.method} {template}"
        handler = answers.pop(0) if len(answers) > 1 else answers[0]
        response = handler(request)
        documented = self.contract.resolve(
            self.contract.spec["paths"][template][request.method.lower()]["responses"]
        )
        if str(response.status_code) in documented or "default" in documented:
            self.contract.check_response(request, path, response)
        return response

    def _record(self, request: httpx.Request, template: str, path: str) -> None:
        log = os.environ.get("FORGE_OPS_LOG")  # list the operations a run used (docs/forges.md)
        if log:
            with open(log, "a", encoding="utf-8") as out:
                out.write(f"{self.forge} {request.method} {template}\n")
        body = json.loads(request.content) if request.content else None
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        self.seen.append(Seen(request.method, template, path, query, body, request.headers))


def _constant(response: httpx.Response) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        return httpx.Response(
            response.status_code, headers=response.headers, content=response.content
        )

    return handler
