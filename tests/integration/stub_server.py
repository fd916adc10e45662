"""A small HTTP(S) server in a thread answering from a Python function: the local stand-ins
for cloud endpoints (GCE metadata, Google's token endpoint, Entra ID, managed identity).

Vendor libraries (google-auth, azure-identity) use blocking HTTP clients, so a thread server
is what they meet in production too. ``requests`` records every request for assertions.
"""

from __future__ import annotations

import json
import socket
import ssl
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

from tests.integration.fixture_base import CertificateAuthority


@dataclass
class Seen:
    """One request as the stub saw it."""

    method: str
    path: str  # without the query
    query: dict[str, list[str]]
    headers: dict[str, str]  # lower-case names
    body: bytes

    @property
    def form(self) -> dict[str, str]:
        """The url-encoded body, one value per key."""
        return {k: v[0] for k, v in parse_qs(self.body.decode()).items()}


@dataclass
class Answer:
    status: int = 200
    body: Any = field(default_factory=dict)  # JSON-encoded unless bytes or str
    headers: dict[str, str] = field(default_factory=dict)


Handle = Callable[[Seen], Answer]


class StubServer:
    """``StubServer(handle).start()``; ``url`` is ``http[s]://127.0.0.1:PORT``.

    With ``tls`` the server presents the CA's server certificate (SAN 127.0.0.1, localhost);
    ``host_name`` picks which of the two the URL uses (azure-identity wants ``localhost``).
    ``sock`` serves on a socket bound and listening beforehand.
    """

    def __init__(
        self,
        handle: Handle,
        *,
        tls: CertificateAuthority | None = None,
        host_name: str = "127.0.0.1",
        sock: socket.socket | None = None,
    ) -> None:
        self.handle = handle
        self.requests: list[Seen] = []
        self._server = ThreadingHTTPServer(
            ("127.0.0.1", 0), self._handler(), bind_and_activate=sock is None
        )
        if sock is not None:  # already bound and listening (an address fixed in advance)
            self._server.socket.close()  # the one TCPServer made but did not bind
            self._server.socket = sock
            self._server.server_address = sock.getsockname()
        self._server.daemon_threads = True
        if tls is not None:
            context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
            context.load_cert_chain(str(tls.cert_file), str(tls.key_file))
            self._server.socket = context.wrap_socket(self._server.socket, server_side=True)
        self.port = int(self._server.server_address[1])
        scheme = "https" if tls is not None else "http"
        self.host = f"{host_name}:{self.port}"
        self.url = f"{scheme}://{self.host}"
        self._thread = threading.Thread(  # a short poll: shutdown() waits for one
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )

    def start(self) -> StubServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def seen(self, path: str) -> list[Seen]:
        return [r for r in self.requests if r.path == path]

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        stub = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                length = int(self.headers.get("Content-Length") or 0)
                seen = Seen(
                    self.command,
                    parts.path,
                    parse_qs(parts.query),
                    {k.lower(): v for k, v in self.headers.items()},
                    self.rfile.read(length) if length else b"",
                )
                stub.requests.append(seen)
                answer = stub.handle(seen)
                body = answer.body
                if isinstance(body, str):
                    data = body.encode()
                elif isinstance(body, bytes):
                    data = body
                else:
                    data = json.dumps(body).encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json", **answer.headers}
                for name, value in headers.items():
                    self.send_header(name, value)
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            do_GET = do_POST = _serve

        return Handler
