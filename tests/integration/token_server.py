"""A tiny Docker token service for the ``token`` and ``acr`` registry set-ups (see
``registry_fixtures``).

In the ``acr`` set-up it also stands *in front of* the registry, as Azure Container Registry
does on one host: ``/v2/…`` is forwarded to the real registry, ``POST /oauth2/exchange``
trades an Entra ID access token (one :attr:`TokenServer.entra_tokens` holds) for an ACR
refresh token, and ``/oauth2/token`` is the realm.
"""

from __future__ import annotations

import base64
import datetime as dt
import http.client
import json
import secrets
import threading
import time
import uuid
from collections.abc import Sequence
from fnmatch import fnmatchcase
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from tests.integration.fixture_base import (
    ISSUER,
    PASSWORD,
    SECRETS,
    SERVICE,
    USERNAME,
    _name,
    free_port,
)

# --- token server ----------------------------------------------------------------------------


class TokenServer:
    """A tiny Docker token service (GET with Basic, POST refresh_token) in a thread.

    Tokens are ES256 JWTs with an ``x5c`` header; the registry trusts ``cert_file``.
    ``expires_in`` can be changed by a test; ``requests`` counts calls. ``grants`` limits a
    user to the repositories matching its patterns (``{"user-a": ("org-a/*",)}``), as GHCR,
    GitLab or Harbor do for per-project credentials; a user not in it may pull anything.
    """

    def __init__(
        self, directory: Path, *, users: dict[str, str] | None = None, front: bool = False
    ) -> None:
        self.users = users if users is not None else {USERNAME: PASSWORD}
        self.refresh_tokens: dict[str, str] = {}  # identity token -> user
        self.expires_in = 300
        self.allow_anonymous_pull = False
        self.grants: dict[str, tuple[str, ...]] = {}
        self.requests = 0
        self.refuse_basic: dict[str, int] = {}
        """user → how many more of its (correct) Basic logins to refuse: an expired token."""
        self.entra_tokens: set[str] = set()
        """Entra ID access tokens ``/oauth2/exchange`` accepts (``acr`` set-up)."""
        self.refresh_expires_in = 3 * 3600
        self.exchanges: list[dict[str, str]] = []  # the forms /oauth2/exchange accepted
        self.upstream: str | None = None  # the registry behind the front (``acr`` set-up)
        self._key = ec.generate_private_key(ec.SECP256R1())
        now = dt.datetime.now(dt.UTC)
        cert = (
            x509.CertificateBuilder()
            .subject_name(_name("token signer"))
            .issuer_name(_name("token signer"))
            .public_key(self._key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=2))
            .sign(self._key, hashes.SHA256())
        )
        self._x5c = base64.b64encode(cert.public_bytes(serialization.Encoding.DER)).decode()
        directory.mkdir(parents=True, exist_ok=True)
        self.cert_file = directory / "token-signer.crt"
        self.cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
        self.port = free_port()
        self.host = f"127.0.0.1:{self.port}"
        self.url = f"http://{self.host}"
        self.realm = f"{self.url}/oauth2/token" if front else f"{self.url}/token"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add_identity_token(self, user: str) -> str:
        token = "idt-" + secrets.token_hex(12)
        SECRETS.add(token)
        self.refresh_tokens[token] = user
        return token

    def add_refresh_token(self, user: str) -> str:
        """An ACR-style refresh token: a JWT whose ``exp`` says when it stops working."""
        now = int(time.time())
        claims = {"sub": user, "exp": now + self.refresh_expires_in, "jti": uuid.uuid4().hex}
        token = jwt.encode(claims, self._key, algorithm="ES256")
        SECRETS.add(token)
        self.refresh_tokens[token] = user
        return token

    def revoke_refresh_tokens(self) -> None:
        self.refresh_tokens.clear()

    def start(self) -> TokenServer:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()

    def issue(self, user: str, scopes: Sequence[str]) -> str:
        access = []
        for scope in scopes:
            kind, _, rest = scope.partition(":")
            name, _, actions = rest.rpartition(":")
            wanted = [a for a in actions.split(",") if a]
            if user == "" and not self.allow_anonymous_pull:
                wanted = []
            elif user == "":
                wanted = [a for a in wanted if a == "pull"]
            elif user in self.grants and not any(
                fnmatchcase(name, pattern) for pattern in self.grants[user]
            ):
                wanted = []
            access.append({"type": kind, "name": name, "actions": wanted})
        now = int(time.time())
        claims = {
            "iss": ISSUER,
            "sub": user,
            "aud": SERVICE,
            "exp": now + self.expires_in,
            "nbf": now - 10,
            "iat": now,
            "jti": uuid.uuid4().hex,
            "access": access,
        }
        token = jwt.encode(claims, self._key, algorithm="ES256", headers={"x5c": [self._x5c]})
        SECRETS.add(token)
        return token

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        server = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: Any) -> None:  # quiet
                return

            def _reply(self, status: int, body: dict[str, Any]) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def do_GET(self) -> None:
                if self.path.startswith("/v2"):
                    _forward(self, server.upstream)
                    return
                server.requests += 1
                query = parse_qs(urlsplit(self.path).query)
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    raw = base64.b64decode(header[6:]).decode()
                    name, _, password = raw.partition(":")
                    if server.users.get(name) != password or server._refused(name):
                        self._reply(401, {"details": "bad credentials"})
                        return
                    user = name
                elif not server.allow_anonymous_pull:
                    self._reply(401, {"details": "credentials required"})
                    return
                token = server.issue(user, query.get("scope", []))
                self._reply(200, {"token": token, "expires_in": server.expires_in})

            def do_POST(self) -> None:
                if self.path.startswith("/v2"):
                    _forward(self, server.upstream)
                    return
                server.requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
                if urlsplit(self.path).path == "/oauth2/exchange":
                    self._exchange({k: v[0] for k, v in form.items()})
                    return
                refresh = (form.get("refresh_token") or [""])[0]
                user = server.refresh_tokens.get(refresh)
                if form.get("grant_type") != ["refresh_token"] or user is None:
                    self._reply(401, {"error": "invalid_grant"})
                    return
                token = server.issue(user, form.get("scope", []))
                self._reply(
                    200,
                    {"access_token": token, "expires_in": server.expires_in, "scope": ""},
                )

            def _exchange(self, form: dict[str, str]) -> None:
                # ACR: grant_type=access_token, service=<login server>, access_token=<Entra>
                if (
                    form.get("grant_type") != "access_token"
                    or form.get("service") != server.host
                    or form.get("access_token") not in server.entra_tokens
                ):
                    self._reply(401, {"errors": [{"code": "UNAUTHORIZED"}]})
                    return
                server.exchanges.append(form)
                self._reply(200, {"refresh_token": server.add_refresh_token("entra-identity")})

            do_PUT = do_PATCH = do_DELETE = do_HEAD = lambda self: _forward(self, server.upstream)

        return Handler

    def _refused(self, user: str) -> bool:
        left = self.refuse_basic.get(user, 0)
        if left > 0:
            self.refuse_basic[user] = left - 1
        return left > 0


_HOP = {"connection", "keep-alive", "transfer-encoding", "upgrade", "content-length"}


def _forward(handler: BaseHTTPRequestHandler, upstream: str | None) -> None:
    """Pass one request to the registry behind the front, Host header and all (so upload
    locations point back at the front), and its answer back."""
    if upstream is None:
        handler.send_error(404)
        return
    length = int(handler.headers.get("Content-Length") or 0)
    body = handler.rfile.read(length) if length else None
    target = urlsplit(upstream)
    connection = http.client.HTTPConnection(target.hostname or "", target.port, timeout=30)
    try:
        headers = {k: v for k, v in handler.headers.items() if k.lower() not in _HOP}
        if body is not None:
            headers["Content-Length"] = str(len(body))
        connection.request(handler.command, handler.path, body=body, headers=headers)
        response = connection.getresponse()
        data = response.read()
        handler.send_response(response.status)
        for name, value in response.getheaders():
            if name.lower() not in _HOP:
                handler.send_header(name, value)
        declared = response.getheader("Content-Length")
        keep = handler.command == "HEAD" and declared  # a HEAD says the GET's length
        handler.send_header("Content-Length", declared if keep else str(len(data)))
        handler.end_headers()
        if handler.command != "HEAD":
            handler.wfile.write(data)
    finally:
        connection.close()
