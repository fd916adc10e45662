"""The shared machinery of every fake forge: an aiohttp app in its own thread that validates.

Each request below the forge's API prefix goes through the same steps: find the operation in
the forge's description (none: a violation, answered 404), validate the request (a violation,
answered 400), injected faults, the token check, the forge module's handler, then validate
the reply (a violation, answered 500 instead of the bad reply). Violations are kept on
``fake.violations``; the pytest fixture fails the test when any is left at teardown, so a
client that strays from the description fails even if it swallowed the error answer.

The bare repository is served by the same app under ``/git/`` with ``git http-backend`` (the
CGI of tests/integration/git_fixtures.py), so a push lands where the API reads refs from.
The fake runs in its own thread and loop: the client under test may block its own loop on git
subprocesses without starving the forge. State lives behind one lock; handlers are plain
functions that run under it, and the test hooks (:mod:`tests.forges.hooks`) take it too.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import json
import secrets
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from aiohttp import web

from tests.forges.hooks import Fault, Hooks
from tests.forges.lifecycle import Refusal
from tests.forges.repo import ForgeRepo
from tests.forges.skeleton import Filler
from tests.forges.specs import Deviation, Operation, SpecCheck, Violation, load_spec
from tests.forges.state import Seen
from tests.integration.fixture_base import SECRETS
from tests.integration.git_fixtures import HttpGitServer


@dataclass
class Call:
    """A validated request, as a handler sees it."""

    method: str
    op: Operation
    query: dict[str, list[str]]
    headers: Mapping[str, str]
    body: bytes
    user: str

    @property
    def params(self) -> dict[str, str]:
        return self.op.params

    def arg(self, name: str, default: str | None = None) -> str | None:
        values = self.query.get(name)
        return values[-1] if values else default

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None  # JSON-able, or bytes sent as they are
    headers: dict[str, str] = field(default_factory=dict)
    checked: bool = True  # False only for injected faults and auth refusals


def paginate(items: list[Any], *, page: int, size: int) -> tuple[list[Any], int]:
    """The ``page``-th (1-based) slice of ``items`` and the number of the last page."""
    size = max(size, 1)
    last = max((len(items) + size - 1) // size, 1)
    start = (max(page, 1) - 1) * size
    return items[start : start + size], last


class Answer(Exception):
    """Raised by a handler to answer at once (a 404, a 422 ...)."""

    def __init__(self, reply: Reply) -> None:
        super().__init__(reply.status)
        self.reply = reply


class _GitBackend(HttpGitServer):
    """The git_fixtures CGI, authenticating with the forge's token (any user name)."""

    fake: FakeForge | None = None

    def _user(self, header: str | None) -> str | None:
        assert self.fake is not None
        return self.fake.authenticate({"Authorization": header} if header else {})


class FakeForge(Hooks):
    """Base of the six fakes; subclasses set the class attributes and write the handlers."""

    provider: ClassVar[str]
    spec_name: ClassVar[str]
    api_prefix: ClassVar[str] = ""
    routes: ClassVar[dict[str, str]]  # "METHOD /template" -> handler method name
    bot_user: ClassVar[str] = "automation-bot"
    page_size_default: ClassVar[int] = 30

    def __init__(self, root: Path, *, repository: str, token: str = "") -> None:
        super().__init__()
        self.root = root
        self.repository = repository
        self.token = token or f"fake-{self.provider}-" + secrets.token_hex(12)
        SECRETS.add(self.token)  # the leak checks of the suites look for it
        self.repo = ForgeRepo.create(root / "git" / self.git_path)
        self.spec = load_spec(self.spec_name)
        self.check = SpecCheck(self.spec, deviation=self.deviation())
        self.filler = Filler(self.spec.doc)
        self.violations: list[Violation] = []
        self.port = 0
        self._git = _GitBackend(root=root, token=self.token)
        self._git.fake = self
        self._loop: asyncio.AbstractEventLoop | None = None
        self._stopping: asyncio.Event | None = None
        self._release: asyncio.Event | None = None
        self._thread: threading.Thread | None = None
        self._error: BaseException | None = None

    # -- addresses ------------------------------------------------------------------------

    @property
    def git_path(self) -> str:
        """Where the bare repo sits below ``/git/`` (the path part of the forge's clone URL)."""
        return f"{self.repository}.git"

    @property
    def base_url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def api_url(self) -> str:
        return self.base_url + self.api_prefix

    @property
    def git_url(self) -> str:
        return f"{self.base_url}/git/{self.git_path}"

    def web_url(self, suffix: str = "") -> str:
        return f"{self.base_url}/{self.repository}{suffix}"

    def deviation(self) -> Deviation | None:
        """A documented wire deviation from the description (Azure only); None elsewhere."""
        return None

    # -- lifecycle ------------------------------------------------------------------------

    def start(self) -> FakeForge:
        ready = threading.Event()
        self._thread = threading.Thread(target=self._run, args=(ready,), daemon=True)
        self._thread.start()
        if not ready.wait(15) or self._error is not None or not self.port:
            raise RuntimeError(f"fake {self.provider} forge did not start: {self._error!r}")
        return self

    def stop(self) -> None:
        loop = self._loop
        if loop is not None and not loop.is_closed() and self._stopping is not None:
            loop.call_soon_threadsafe(self._stopping.set)
        if self._thread is not None:
            self._thread.join(15)

    def _run(self, ready: threading.Event) -> None:
        try:
            asyncio.run(self._serve(ready))
        except BaseException as exc:  # reported by start()
            self._error = exc
            ready.set()

    async def _serve(self, ready: threading.Event) -> None:
        self._loop = asyncio.get_running_loop()
        self._stopping, self._release = asyncio.Event(), asyncio.Event()
        app = web.Application(client_max_size=64 << 20)
        app.router.add_route("*", "/git/{tail:.*}", self._git_request)
        self.add_routes(app)
        app.router.add_route("*", self.api_prefix + "/{tail:.*}", self._api_request)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        ready.set()
        await self._stopping.wait()
        await runner.cleanup()

    def add_routes(self, app: web.Application) -> None:
        """Extra routes outside the description (GitHub's GraphQL endpoint)."""

    def release_stalls(self) -> None:
        """Let every request stalled so far go on (see :class:`Fault` ``kind="stall"``)."""

        def release() -> None:
            assert self._release is not None
            self._release.set()
            self._release = asyncio.Event()  # later stalls wait again

        if self._loop is not None and not self._loop.is_closed():
            self._loop.call_soon_threadsafe(release)

    # -- git over smart HTTP --------------------------------------------------------------

    async def _git_request(self, request: web.Request) -> web.StreamResponse:
        response = await self._git._handle(request)
        if request.method == "POST" and request.path.endswith("/git-receive-pack"):
            with self.lock:
                self.after_push()
        return response

    # -- the API pipeline -----------------------------------------------------------------

    def authenticate(self, headers: Mapping[str, str]) -> str | None:
        """The user a request's credentials belong to, or None. Default: the fake's token as
        ``Bearer``/``token`` or as a Basic password with any user name."""
        scheme, _, value = headers.get("Authorization", "").partition(" ")
        if scheme.lower() in ("bearer", "token") and value == self.token:
            return self.bot_user
        if scheme.lower() == "basic":
            try:
                _, _, password = base64.b64decode(value).decode().partition(":")
            except ValueError:
                return None
            return self.bot_user if password == self.token else None
        return None

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def violation(self, where: str, operation: str, detail: str) -> None:
        with self.lock:
            self.violations.append(Violation(where, operation, detail))

    async def _api_request(self, request: web.Request) -> web.StreamResponse:
        raw_path = request.rel_url.raw_path[len(self.api_prefix) :]
        body = await request.read()
        query: dict[str, list[str]] = {}
        for key, value in request.query.items():
            query.setdefault(key, []).append(value)
        headers = {k: v for k, v in request.headers.items()}
        try:
            op = self.check.find(request.method, raw_path)
        except LookupError as exc:
            where = f"{request.method} {raw_path}"
            self.violation("request", where, f"no such operation in the description: {exc}")
            reply = Reply(404, self.error_body(404, f"not in the description: {where}"))
            return self._send(request, None, raw_path, reply, body)
        errors = self.check.request_errors(
            method=request.method,
            raw_path=raw_path,
            query=query,
            headers=headers,
            content_type=request.headers.get("Content-Type", ""),
            body=body or None,
        )
        if errors:
            for error in errors:
                self.violation("request", op.key, error)
            reply = Reply(400, self.error_body(400, "spec violation: " + "; ".join(errors)))
            return self._send(request, op, raw_path, reply, body, checked=False)
        fault = self.take_fault(op)
        if fault is not None:
            reply = await self._fault_reply(fault)
            if reply is not None:
                return self._send(request, op, raw_path, reply, body, checked=False)
        user = self.authenticate(headers)
        if user is None:
            reply = Reply(401, self.error_body(401, "Bad credentials"), checked=False)
            return self._send(request, op, raw_path, reply, body, checked=False)
        call = Call(request.method, op, query, headers, body, user)
        reply = self.dispatch(call)
        return self._send(request, op, raw_path, reply, body, call=call)

    def dispatch(self, call: Call) -> Reply:
        handler = getattr(self, self.routes[call.op.key])
        with self.lock:
            try:
                reply: Reply = handler(call)
            except Answer as answer:
                reply = answer.reply
            except Refusal as refusal:
                reply = self.refusal_reply(call, refusal)
            self.after_change()
            return self.finish(call, reply)

    def refusal_reply(self, call: Call, refusal: Refusal) -> Reply:
        """The forge's answer when a PR rule says no (status by ``refusal.kind``)."""
        status = {
            "missing-branch": 422,
            "no-commits": 422,
            "exists": 422,
            "conflict": 405,
            "sha": 409,
            "not-open": 405,
        }.get(refusal.kind, 422)
        return Reply(status, self.error_body(status, refusal.message))

    def fail(self, status: int, message: str) -> Answer:
        return Answer(Reply(status, self.error_body(status, message)))

    def finish(self, call: Call, reply: Reply) -> Reply:
        """Last touch on a handler's reply (GitHub: ETag, 304, rate-limit headers)."""
        return reply

    async def _fault_reply(self, fault: Fault) -> Reply | None:
        if fault.kind == "stall":
            assert self._release is not None and self._stopping is not None
            waits = [asyncio.ensure_future(e.wait()) for e in (self._release, self._stopping)]
            with contextlib.suppress(TimeoutError):
                await asyncio.wait(waits, timeout=fault.seconds, return_when="FIRST_COMPLETED")
            for wait in waits:
                wait.cancel()
            return None  # then answer normally: a slow reply, not a failed one
        return self.fault_reply(fault)

    def fault_reply(self, fault: Fault) -> Reply:
        headers: dict[str, str] = {}
        if fault.kind == "retry_after":
            headers["Retry-After"] = str(fault.retry_after)
            return Reply(429, self.error_body(429, "Too Many Requests"), headers, checked=False)
        return Reply(fault.status, self.error_body(fault.status, "injected fault"), headers, False)

    @staticmethod
    def _declares(op: Operation, status: int) -> bool:
        """Replies are validated unless they are errors the description lists no schema for
        (descriptions list the usual errors, not every 404 a forge can answer)."""
        responses = op.spec.get("responses", {})
        declared = str(status) in responses or "default" in responses
        return status < 400 or declared or f"{str(status)[0]}XX" in responses

    def _send(
        self,
        request: web.Request,
        op: Operation | None,
        raw_path: str,
        reply: Reply,
        body: bytes,
        *,
        checked: bool = True,
        call: Call | None = None,
    ) -> web.Response:
        payload = reply.body
        headers = dict(reply.headers)
        if payload is not None and not isinstance(payload, bytes):
            payload = json.dumps(payload).encode()
            headers.setdefault("Content-Type", "application/json")
        if op is not None and checked and reply.checked and self._declares(op, reply.status):
            errors = self.check.response_errors(
                operation=op,
                method=request.method,
                raw_path=raw_path,
                status=reply.status,
                headers=headers,
                body=payload,
            )
            if errors:
                for error in errors:
                    self.violation("response", op.key, f"{reply.status}: {error}")
                message = "fake reply violates the description: " + "; ".join(errors)
                payload = json.dumps(self.error_body(500, message)).encode()
                reply = Reply(500)
                headers = {"Content-Type": "application/json"}
        self.record(
            Seen(
                method=request.method,
                path=request.rel_url.raw_path_qs[len(self.api_prefix) :],
                operation=op.key if op else "",
                operation_id=op.operation_id if op else "",
                status=reply.status,
                headers=dict(request.headers),
                body=body,
            )
        )
        return web.Response(status=reply.status, body=payload, headers=headers)
