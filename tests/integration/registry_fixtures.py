"""Real registries for tests and benchmarks: Debian's ``docker-registry`` started by us.

Reusable building blocks (``tests/integration/conftest.py`` turns them into fixtures,
``bench/scan.py`` uses them directly):

- :func:`start_registry` runs ``docker-registry serve CONFIG`` on 127.0.0.1 at a free port,
  storage in a temp dir (on /dev/shm when present), in one of five set-ups: ``anonymous``,
  ``basic`` (htpasswd, bcrypt cost 5), ``tls`` (CA of ours, SAN IP:127.0.0.1,DNS:localhost),
  ``token`` (Bearer challenge against :class:`TokenServer`, ES256 JWTs with an ``x5c`` header);
  and ``mtls`` (``tls`` that also demands a client certificate from the same CA).
  A registry that does not come up raises :class:`FixtureError` with its stderr: never a skip.
- :func:`push_image` / :func:`push_index` upload a tiny image (config + one layer + manifest,
  OCI or Docker media types) or a multi-arch index under any number of tags, over the API.
- :class:`FaultProxy` (in ``fault_proxy.py``) sits in front of a registry and misbehaves.

The parts live in ``fixture_base.py`` (credentials, secrets, ports, CA), ``token_server.py``
and ``image_push.py``; import everything from here.

Known secrets live in :data:`SECRETS` so a test can grep logs and errors for them.
"""

from __future__ import annotations

import contextlib
import json
import secrets
import shutil
import ssl
import subprocess
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import bcrypt
import httpx

from image_automation.registry.auth import parse_challenges
from tests.integration.fixture_base import (
    ISSUER,
    PASSWORD,
    SECRETS,
    SERVICE,
    USERNAME,
    CertificateAuthority,
    FixtureError,
    free_port,
    make_ca,
    scratch_dir,
)
from tests.integration.image_push import (
    DOCKER_CONFIG,
    DOCKER_LAYER,
    DOCKER_LIST,
    DOCKER_MANIFEST,
    OCI_CONFIG,
    OCI_INDEX,
    OCI_LAYER,
    OCI_MANIFEST,
    PushedImage,
    push_blob,
    push_image,
    push_index,
    push_manifest,
)
from tests.integration.token_server import TokenServer

__all__ = [
    "DOCKER_CONFIG",
    "DOCKER_LAYER",
    "DOCKER_LIST",
    "DOCKER_MANIFEST",
    "ISSUER",
    "OCI_CONFIG",
    "OCI_INDEX",
    "OCI_LAYER",
    "OCI_MANIFEST",
    "PASSWORD",
    "SECRETS",
    "SERVICE",
    "USERNAME",
    "CertificateAuthority",
    "FixtureError",
    "PushedImage",
    "RegistryServer",
    "Setup",
    "TokenServer",
    "free_port",
    "make_ca",
    "push_blob",
    "push_image",
    "push_index",
    "push_manifest",
    "running_registry",
    "scratch_dir",
    "start_registry",
]

Setup = Literal["anonymous", "basic", "tls", "token", "mtls"]

# --- the registry process --------------------------------------------------------------------


@dataclass
class RegistryServer:
    """A running ``docker-registry``. ``url`` is its base (``http[s]://127.0.0.1:PORT``)."""

    setup: Setup
    url: str
    host: str
    root: Path
    process: subprocess.Popen[bytes]
    ca: CertificateAuthority | None = None
    token_server: TokenServer | None = None
    username: str | None = None
    password: str | None = None
    _log: Path = field(default_factory=Path)

    def verify(self) -> ssl.SSLContext | bool:
        """What httpx needs to trust this server."""
        if self.ca is None:
            return True
        context = ssl.create_default_context(cafile=str(self.ca.ca_file))
        if self.setup == "mtls":
            context.load_cert_chain(str(self.ca.client_cert_file), str(self.ca.client_key_file))
        return context

    def push_client(self) -> httpx.Client:
        """An httpx client with push rights (Basic, or Bearer via our token server)."""
        verify = self.verify()
        auth: httpx.Auth | None = None
        if self.setup == "basic":
            auth = httpx.BasicAuth(USERNAME, PASSWORD)
        elif self.setup == "token":
            auth = _PushTokenAuth()
        return httpx.Client(verify=verify, auth=auth, timeout=30)

    def stop(self) -> None:
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        if self.token_server is not None:
            self.token_server.stop()
        shutil.rmtree(self.root, ignore_errors=True)


class _PushTokenAuth(httpx.Auth):
    """Bearer for pushes: fetch a token for whatever scope the challenge names."""

    def __init__(self) -> None:
        self._token: dict[str, str] = {}

    def auth_flow(self, request: httpx.Request) -> Iterator[httpx.Request]:
        response = yield request
        if response.status_code != 401:
            return
        challenges = parse_challenges(response.headers.get_list("www-authenticate"))
        params = challenges[0].params
        token_response = yield httpx.Request(
            "GET",
            params["realm"],
            params={"service": params.get("service", ""), "scope": params.get("scope", "")},
            headers={"Authorization": httpx.BasicAuth(USERNAME, PASSWORD)._auth_header},
        )
        token_response.read()
        request.headers["Authorization"] = f"Bearer {token_response.json()['token']}"
        yield request

    requires_response_body = True


def _config(setup: Setup, root: Path, port: int, extra: dict[str, Any]) -> dict[str, Any]:
    config: dict[str, Any] = {
        "version": 0.1,
        "log": {"level": "warn", "accesslog": {"disabled": True}},
        "storage": {
            "filesystem": {"rootdirectory": str(root / "data")},
            "delete": {"enabled": True},
        },
        "http": {"addr": f"127.0.0.1:{port}", "secret": secrets.token_hex(16)},
    }
    config.update(extra)
    return config


def start_registry(
    setup: Setup = "anonymous",
    *,
    timeout: float = 15.0,
    notifications: dict[str, Any] | None = None,
) -> RegistryServer:
    """Start a registry in ``setup``; raise :class:`FixtureError` (with stderr) if it fails.

    ``notifications`` is the registry's ``notifications`` section (endpoints it POSTs its
    push and pull events to)."""
    binary = shutil.which("docker-registry")
    if binary is None:
        raise FixtureError("docker-registry is not installed (make test runs .ci/system-deps)")
    root = scratch_dir(f"registry-{setup}-")
    port = free_port()
    extra: dict[str, Any] = {}
    ca: CertificateAuthority | None = None
    tokens: TokenServer | None = None
    scheme = "http"
    if setup == "basic":
        hashed = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(5)).decode()
        (root / "htpasswd").write_text(f"{USERNAME}:{hashed}\n")
        extra["auth"] = {"htpasswd": {"realm": "test-realm", "path": str(root / "htpasswd")}}
    elif setup in ("tls", "mtls"):
        ca = make_ca(root / "tls")
        scheme = "https"
    elif setup == "token":
        tokens = TokenServer(root / "token").start()
        extra["auth"] = {
            "token": {
                "realm": tokens.realm,
                "service": SERVICE,
                "issuer": ISSUER,
                "rootcertbundle": str(tokens.cert_file),
            }
        }
    if notifications is not None:
        extra["notifications"] = notifications
    config = _config(setup, root, port, extra)
    if ca is not None:
        config["http"]["tls"] = {"certificate": str(ca.cert_file), "key": str(ca.key_file)}
        if setup == "mtls":  # clients must present a certificate from our CA
            config["http"]["tls"]["clientcas"] = [str(ca.ca_file)]
    config_file = root / "config.yml"
    config_file.write_text(json.dumps(config, indent=2))  # JSON is YAML
    log = root / "registry.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [binary, "serve", str(config_file)],
            stdout=sink,
            stderr=subprocess.STDOUT,
            cwd=root,
        )
    server = RegistryServer(
        setup=setup,
        url=f"{scheme}://127.0.0.1:{port}",
        host=f"127.0.0.1:{port}",
        root=root,
        process=process,
        ca=ca,
        token_server=tokens,
        username=USERNAME if setup in ("basic", "token") else None,
        password=PASSWORD if setup in ("basic", "token") else None,
        _log=log,
    )
    try:
        _wait_ready(server, timeout)
    except BaseException:
        server.stop()
        raise
    return server


def _wait_ready(server: RegistryServer, timeout: float) -> None:
    verify = server.verify()
    deadline = time.monotonic() + timeout
    last = "no attempt"
    with httpx.Client(verify=verify, timeout=2) as client:
        while time.monotonic() < deadline:
            if server.process.poll() is not None:
                output = server._log.read_text(errors="replace")[-2000:]
                raise FixtureError(
                    f"docker-registry ({server.setup}) exited with {server.process.returncode}:"
                    f"\n{output}"
                )
            try:
                response = client.get(f"{server.url}/v2/")
                if response.status_code in (200, 401):
                    return
                last = f"HTTP {response.status_code}"
            except httpx.HTTPError as exc:
                last = f"{type(exc).__name__}: {exc}"
            time.sleep(0.02)
    output = server._log.read_text(errors="replace")[-2000:]
    raise FixtureError(
        f"docker-registry ({server.setup}) not ready after {timeout}s ({last}):\n{output}"
    )


@contextlib.contextmanager
def running_registry(setup: Setup = "anonymous") -> Iterator[RegistryServer]:
    server = start_registry(setup)
    try:
        yield server
    finally:
        server.stop()
