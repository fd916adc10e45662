"""Real registries for tests and benchmarks: Debian's ``docker-registry`` started by us.

Reusable building blocks (``tests/integration/conftest.py`` turns them into fixtures,
``bench/scan.py`` uses them directly):

- :func:`start_registry` runs ``docker-registry serve CONFIG`` on 127.0.0.1 at a free port,
  storage in a temp dir (on /dev/shm when present), in one of four set-ups: ``anonymous``,
  ``basic`` (htpasswd, bcrypt cost 5), ``tls`` (CA of ours, SAN IP:127.0.0.1,DNS:localhost),
  ``token`` (Bearer challenge against :class:`TokenServer`, ES256 JWTs with an ``x5c`` header).
  A registry that does not come up raises :class:`FixtureError` with its stderr: never a skip.
- :func:`push_image` / :func:`push_index` upload a tiny image (config + one layer + manifest,
  OCI or Docker media types) or a multi-arch index under any number of tags, over the API.
- :class:`FaultProxy` (in ``fault_proxy.py``) sits in front of a registry and misbehaves.

Known secrets live in :data:`SECRETS` so a test can grep logs and errors for them.
"""

from __future__ import annotations

import base64
import contextlib
import datetime as dt
import hashlib
import json
import os
import secrets
import shutil
import socket
import ssl
import subprocess
import tempfile
import threading
import time
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import bcrypt
import httpx
import jwt
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from image_automation.registry.auth import parse_challenges

Setup = Literal["anonymous", "basic", "tls", "token"]

USERNAME = "tester"
PASSWORD = "pw-" + secrets.token_hex(8)  # random per run: a leak cannot match by accident
SERVICE = "test-registry"
ISSUER = "test-token-issuer"

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
OCI_CONFIG = "application/vnd.oci.image.config.v1+json"
OCI_LAYER = "application/vnd.oci.image.layer.v1.tar+gzip"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
DOCKER_CONFIG = "application/vnd.docker.container.image.v1+json"
DOCKER_LAYER = "application/vnd.docker.image.rootfs.diff.tar.gzip"


class FixtureError(RuntimeError):
    """A test component could not start: the suite must fail, not skip."""


class _Secrets:
    """Every secret a fixture created or issued; thread-safe (the token server adds to it)."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values: set[str] = {PASSWORD}

    def add(self, value: str) -> None:
        with self._lock:
            self._values.add(value)

    def all(self) -> frozenset[str]:
        with self._lock:
            return frozenset(self._values)

    def find_in(self, text: str) -> list[str]:
        """The secrets (shown by length only) that ``text`` contains; [] when clean."""
        hits = [s for s in self.all() if s and s in text]
        return [f"<secret of {len(s)} chars>" for s in hits]


SECRETS = _Secrets()


def free_port() -> int:
    """A port free on 127.0.0.1 now (bind 0, read, close)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def scratch_dir(prefix: str) -> Path:
    """A fresh temp dir, on /dev/shm when it exists (the registry is ~1.5x faster there)."""
    base = "/dev/shm" if os.path.isdir("/dev/shm") and os.access("/dev/shm", os.W_OK) else None
    return Path(tempfile.mkdtemp(prefix=prefix, dir=base))


# --- TLS -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class CertificateAuthority:
    """A CA of ours and a server certificate it signed (SAN IP:127.0.0.1, DNS:localhost)."""

    ca_file: Path
    cert_file: Path
    key_file: Path


def _name(common: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common)])


def make_ca(directory: Path) -> CertificateAuthority:
    """Write ``ca.crt``, ``server.crt``, ``server.key`` into ``directory``."""
    now = dt.datetime.now(dt.UTC)
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(_name("image-automation test CA"))
        .issuer_name(_name("image-automation test CA"))
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(ca_key, hashes.SHA256())
    )
    key = ec.generate_private_key(ec.SECP256R1())
    import ipaddress

    cert = (
        x509.CertificateBuilder()
        .subject_name(_name("localhost"))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=2))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.IPAddress(ipaddress.ip_address("127.0.0.1")), x509.DNSName("localhost")]
            ),
            critical=False,
        )
        .add_extension(
            x509.ExtendedKeyUsage([x509.oid.ExtendedKeyUsageOID.SERVER_AUTH]), critical=False
        )
        .sign(ca_key, hashes.SHA256())
    )
    directory.mkdir(parents=True, exist_ok=True)
    ca_file, cert_file, key_file = (
        directory / "ca.crt",
        directory / "server.crt",
        directory / "server.key",
    )
    ca_file.write_bytes(ca_cert.public_bytes(serialization.Encoding.PEM))
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return CertificateAuthority(ca_file, cert_file, key_file)


# --- token server ----------------------------------------------------------------------------


class TokenServer:
    """A tiny Docker token service (GET with Basic, POST refresh_token) in a thread.

    Tokens are ES256 JWTs with an ``x5c`` header; the registry trusts ``cert_file``.
    ``expires_in`` can be changed by a test; ``requests`` counts calls.
    """

    def __init__(self, directory: Path, *, users: dict[str, str] | None = None) -> None:
        self.users = users if users is not None else {USERNAME: PASSWORD}
        self.refresh_tokens: dict[str, str] = {}  # identity token -> user
        self.expires_in = 300
        self.allow_anonymous_pull = False
        self.requests = 0
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
        self.realm = f"http://127.0.0.1:{self.port}/token"
        self._server = ThreadingHTTPServer(("127.0.0.1", self.port), self._handler())
        self._server.daemon_threads = True
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True)

    def add_identity_token(self, user: str) -> str:
        token = "idt-" + secrets.token_hex(12)
        SECRETS.add(token)
        self.refresh_tokens[token] = user
        return token

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
                server.requests += 1
                query = parse_qs(urlsplit(self.path).query)
                user = ""
                header = self.headers.get("Authorization", "")
                if header.startswith("Basic "):
                    raw = base64.b64decode(header[6:]).decode()
                    name, _, password = raw.partition(":")
                    if server.users.get(name) != password:
                        self._reply(401, {"details": "bad credentials"})
                        return
                    user = name
                elif not server.allow_anonymous_pull:
                    self._reply(401, {"details": "credentials required"})
                    return
                token = server.issue(user, query.get("scope", []))
                self._reply(200, {"token": token, "expires_in": server.expires_in})

            def do_POST(self) -> None:
                server.requests += 1
                length = int(self.headers.get("Content-Length", "0"))
                form = parse_qs(self.rfile.read(length).decode())
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

        return Handler


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
        return ssl.create_default_context(cafile=str(self.ca.ca_file)) if self.ca else True

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


def start_registry(setup: Setup = "anonymous", *, timeout: float = 15.0) -> RegistryServer:
    """Start a registry in ``setup``; raise :class:`FixtureError` (with stderr) if it fails."""
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
    elif setup == "tls":
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
    config = _config(setup, root, port, extra)
    if ca is not None:
        config["http"]["tls"] = {"certificate": str(ca.cert_file), "key": str(ca.key_file)}
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


# --- pushing images --------------------------------------------------------------------------


def _digest(data: bytes) -> str:
    return "sha256:" + hashlib.sha256(data).hexdigest()


@dataclass(frozen=True)
class PushedImage:
    """What :func:`push_image` uploaded: manifest digest and media type, config digest."""

    digest: str
    media_type: str
    config_digest: str
    created: dt.datetime


def push_blob(client: httpx.Client, base: str, repo: str, data: bytes) -> str:
    """Upload ``data`` unless the repository has it (HEAD, POST, PUT ?digest=)."""
    digest = _digest(data)
    if client.head(f"{base}/v2/{repo}/blobs/{digest}").status_code == 200:
        return digest
    started = client.post(f"{base}/v2/{repo}/blobs/uploads/")
    if started.status_code != 202:
        raise FixtureError(f"blob upload to {repo} refused: HTTP {started.status_code}")
    location = httpx.URL(base).join(started.headers["location"])
    done = client.put(
        location.copy_merge_params({"digest": digest}),
        content=data,
        headers={"Content-Type": "application/octet-stream"},
    )
    if done.status_code != 201:
        raise FixtureError(f"blob upload to {repo} failed: HTTP {done.status_code} {done.text}")
    return digest


def push_manifest(
    client: httpx.Client, base: str, repo: str, reference: str, body: bytes, media_type: str
) -> str:
    response = client.put(
        f"{base}/v2/{repo}/manifests/{reference}",
        content=body,
        headers={"Content-Type": media_type},
    )
    if response.status_code != 201:
        raise FixtureError(
            f"manifest {repo}:{reference} refused: HTTP {response.status_code} {response.text}"
        )
    return response.headers.get("docker-content-digest") or _digest(body)


def push_image(
    client: httpx.Client,
    base: str,
    repo: str,
    tags: Sequence[str],
    *,
    media: Literal["oci", "docker"] = "oci",
    created: dt.datetime | None = None,
    architecture: str = "amd64",
    os_name: str = "linux",
    salt: str = "",
) -> PushedImage:
    """Push a tiny single-platform image under every tag in ``tags``."""
    when = created or dt.datetime(2024, 1, 1, tzinfo=dt.UTC)
    layer = f"layer {repo} {architecture} {salt}".encode()
    config = json.dumps(
        {
            "created": when.isoformat().replace("+00:00", "Z"),
            "architecture": architecture,
            "os": os_name,
            "config": {},
            "rootfs": {"type": "layers", "diff_ids": [_digest(layer)]},
        },
        sort_keys=True,
    ).encode()
    config_digest = push_blob(client, base, repo, config)
    layer_digest = push_blob(client, base, repo, layer)
    manifest_type = OCI_MANIFEST if media == "oci" else DOCKER_MANIFEST
    manifest = json.dumps(
        {
            "schemaVersion": 2,
            "mediaType": manifest_type,
            "config": {
                "mediaType": OCI_CONFIG if media == "oci" else DOCKER_CONFIG,
                "size": len(config),
                "digest": config_digest,
            },
            "layers": [
                {
                    "mediaType": OCI_LAYER if media == "oci" else DOCKER_LAYER,
                    "size": len(layer),
                    "digest": layer_digest,
                }
            ],
        }
    ).encode()
    digest = _digest(manifest)
    for tag in tags:
        push_manifest(client, base, repo, tag, manifest, manifest_type)
    if not tags:
        push_manifest(client, base, repo, digest, manifest, manifest_type)
    return PushedImage(digest, manifest_type, config_digest, when)


def push_index(
    client: httpx.Client,
    base: str,
    repo: str,
    tags: Sequence[str],
    *,
    platforms: dict[str, dt.datetime],
    media: Literal["oci", "docker"] = "oci",
) -> tuple[str, dict[str, PushedImage]]:
    """Push one image per ``os/arch`` (with its ``created``) and an index over them."""
    children: dict[str, PushedImage] = {}
    entries = []
    for platform, created in platforms.items():
        os_name, arch = platform.split("/", 1)
        child = push_image(
            client,
            base,
            repo,
            [],
            media=media,
            created=created,
            architecture=arch,
            os_name=os_name,
        )
        children[platform] = child
        entries.append(
            {
                "mediaType": child.media_type,
                "digest": child.digest,
                "size": 0,
                "platform": {"os": os_name, "architecture": arch},
            }
        )
    index_type = OCI_INDEX if media == "oci" else DOCKER_LIST
    # Real sizes matter to some clients; compute them from the stored manifests.
    for entry in entries:
        got = client.get(
            f"{base}/v2/{repo}/manifests/{entry['digest']}",
            headers={"Accept": str(entry["mediaType"])},
        )
        entry["size"] = len(got.content)
    index = json.dumps({"schemaVersion": 2, "mediaType": index_type, "manifests": entries}).encode()
    digest = _digest(index)
    for tag in tags:
        push_manifest(client, base, repo, tag, index, index_type)
    return digest, children
