"""Cloud registries' push events through the daemon's real server on a real port: a signed event
queues the scan of exactly the named repository it is about, and nothing else.

Each receiver names two repositories; an event about one wakes that one. The distribution
receiver is driven by the real ``docker-registry``, whose notifications (configured as GitLab's
registry is) POST to the daemon when an image is pushed. The ``gcr`` receiver checks tokens
signed by a key of ours, published as Google publishes its keys, by a JWK-set server here.
"""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import jwt
import pytest
from aiohttp import web
from cryptography.hazmat.primitives.asymmetric import rsa

from image_automation.config.receivers import webhook_path
from image_automation.daemon.google_keys import GoogleKeys
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.server import DaemonServer
from image_automation.daemon.service import Daemon
from tests.integration.fault_proxy import _Server
from tests.integration.fixture_base import SECRETS, free_port
from tests.integration.registry_fixtures import push_image, start_registry
from tests.unit.daemon.fakes import FakeEngine
from tests.unit.daemon.test_forge_service import RecordingQueue
from tests.unit.daemon.test_scheduler import until
from tests.unit.daemon.test_service import planned

pytestmark = pytest.mark.integration

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
AR = "europe-west1-docker.pkg.dev/proj/repo"
TOKENS = {"ecr": "ecr-Secr3t-token", "gar": "gar-Secr3t-token", "reg": "reg-Secr3t-token",
          "ghcr": "ghcr-Secr3t-token"}  # fmt: skip
for _token in TOKENS.values():
    SECRETS.add(_token)  # the autouse leak check fails a test that logs or raises one
EMAIL = "pusher@proj.iam.gserviceaccount.com"
KEY = rsa.generate_private_key(public_exponent=65537, key_size=2048)


def files(registry: str) -> str:
    """Two ImageRepositories per receiver; each receiver names both of its own."""
    images = {"ecr": ECR, "gar": AR, "reg": registry, "ghcr": "ghcr.io/org"}
    types = {"ecr": "ecr-eventbridge", "gar": "gcr", "reg": "distribution", "ghcr": "github"}
    docs = []
    for name, base in images.items():
        for app in ("app", "other"):
            docs.append(f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}-{app}, namespace: apps}}
spec: {{image: "{base}/team-{app}", interval: 1h}}
""")
        events = "\n  events: [package]" if name == "ghcr" else ""
        docs.append(f"""\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: {name}, namespace: apps}}
spec:
  type: {types[name]}{events}
  secretRef: {{name: {name}-hook}}
  resources:
    - {{kind: ImageRepository, name: {name}-app}}
    - {{kind: ImageRepository, name: {name}-other}}
""")
    return "---\n".join(docs)


def secrets_dir(root: Path, audience: str) -> Path:
    for name, token in TOKENS.items():
        (root / f"{name}-hook").mkdir(parents=True)
        (root / f"{name}-hook" / "token").write_text(token + "\n")
    (root / "gar-hook" / "email").write_text(EMAIL)
    (root / "gar-hook" / "audience").write_text(audience)
    return root


class Jwks(_Server):
    """Publishes KEY as Google publishes its token-signing keys."""

    async def start(self) -> Jwks:
        await self._start(self.answer)
        return self

    async def answer(self, request: web.Request) -> web.Response:
        self._record(request)
        jwk = json.loads(jwt.algorithms.RSAAlgorithm.to_jwk(KEY.public_key()))
        body = {"keys": [{**jwk, "kid": "k1", "alg": "RS256", "use": "sig"}]}
        return web.json_response(body, headers={"Cache-Control": "public, max-age=20000"})


@dataclass
class Served:
    url: str
    queue: RecordingQueue
    jwks: Jwks
    paths: dict[str, str]

    def scans(self) -> set[str]:
        return {key for key in self.queue.submitted if key.startswith("scan:")}


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Callable[[str], Any]]:
    """``await start(registry_host)``: the daemon's server and service, listening on 127.0.0.1."""
    started: list[tuple[DaemonServer, RecordingQueue, Jwks]] = []

    async def start(registry: str) -> Served:
        jwks = await Jwks().start()
        queue, metrics = RecordingQueue(), Metrics()
        engine = FakeEngine(planned(files(registry), default_interval=3600))
        port = free_port()  # the gcr audience is the hook's URL: known before serving
        url = f"http://127.0.0.1:{port}"
        audience = f"{url}{webhook_path(TOKENS['gar'], name='gar', namespace='apps')}"
        daemon = Daemon(engine=engine, metrics=metrics, queue=queue,
                        secrets_dir=secrets_dir(tmp_path / "secrets", audience))  # fmt: skip
        server = DaemonServer(
            metrics=metrics, hooks=lambda: daemon.hooks, on_hook=daemon.on_hook,
            ready=daemon.ready, google_keys=GoogleKeys(f"{jwks.url}/oauth2/v3/certs"),
        )  # fmt: skip
        await daemon.refresh()
        assert sorted(h.receiver for h in daemon.hooks.values()) == [
            "apps/ecr",
            "apps/gar",
            "apps/ghcr",
            "apps/reg",
        ]
        await server.start("127.0.0.1", port)
        started.append((server, queue, jwks))
        paths = {n: webhook_path(t, name=n, namespace="apps") for n, t in TOKENS.items()}
        return Served(url, queue, jwks, paths)

    yield start
    for server, queue, jwks in started:
        await queue.drain(grace=10)
        await server.close()
        await jwks.stop()


async def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers=headers
    ) as response:  # fmt: skip
        return response.status, await response.text()


def ecr_push(repo: str) -> bytes:
    return json.dumps({
        "version": "0", "detail-type": "ECR Image Action", "source": "aws.ecr",
        "account": "123456789012", "region": "eu-west-1",
        "detail": {"result": "SUCCESS", "repository-name": repo, "action-type": "PUSH",
                   "image-tag": "9.9.9"},
    }).encode()  # fmt: skip


def pubsub_push(image: str) -> bytes:
    data = json.dumps({"action": "INSERT", "tag": f"{image}:9.9.9"}).encode()
    message = {"data": base64.b64encode(data).decode(), "messageId": "1"}
    return json.dumps({"message": message, "subscription": "projects/p/subscriptions/s"}).encode()


def google_token(audience: str) -> str:
    now = int(time.time())
    claims = {"iss": "https://accounts.google.com", "aud": audience, "email": EMAIL,
              "email_verified": True, "iat": now, "exp": now + 3600, "sub": "1"}  # fmt: skip
    return jwt.encode(claims, KEY, algorithm="RS256", headers={"kid": "k1"})


def package(name: str) -> tuple[bytes, dict[str, str]]:
    body = json.dumps({"action": "published", "package": {
        "name": name, "namespace": "org", "package_type": "CONTAINER",
        "registry": {"url": "https://ghcr.io"}}}).encode()  # fmt: skip
    sig = hmac.new(TOKENS["ghcr"].encode(), body, hashlib.sha256).hexdigest()
    return body, {"X-GitHub-Event": "package", "X-Hub-Signature-256": f"sha256={sig}"}


async def test_signed_cloud_events_wake_exactly_the_repository_they_name(
    served: Callable[[str], Any],
) -> None:
    s: Served = await served("registry.unused:5000")
    hook = {name: f"{s.url}{path}" for name, path in s.paths.items()}

    ecr_key = {"X-Api-Key": TOKENS["ecr"], "Content-Type": "application/json"}
    assert await post(hook["ecr"], ecr_push("team-app"), ecr_key) == (202, "queued\n")
    assert s.scans() == {f"scan:{ECR}/team-app"}

    bearer = {"Authorization": f"Bearer {google_token(hook['gar'])}"}
    assert await post(hook["gar"], pubsub_push(f"{AR}/team-other"), bearer) == (202, "queued\n")
    assert s.scans() == {f"scan:{ECR}/team-app", f"scan:{AR}/team-other"}

    body, headers = package("team-app")
    assert await post(hook["ghcr"], body, headers) == (202, "queued\n")
    assert s.scans() == {f"scan:{ECR}/team-app", f"scan:{AR}/team-other",
                         "scan:ghcr.io/org/team-app"}  # fmt: skip
    assert len(s.jwks.seen) == 1  # Google's keys fetched once, cached per Cache-Control


@pytest.mark.parametrize(
    ("receiver", "make"),
    [
        ("ecr", lambda t: (ecr_push("team-third"), {"X-Api-Key": t})),
        ("ecr", lambda t: (ecr_push("team-app").replace(b"eu-west-1", b"us-east-1"),
                           {"X-Api-Key": t})),
        ("ecr", lambda t: (ecr_push("team-app"), {"X-Api-Key": "guess"})),
        ("gar", lambda t: (pubsub_push(f"{AR}/team-third"), "bearer")),
        ("gar", lambda t: (pubsub_push(f"{AR}/team-app"), {"Authorization": f"Bearer {t}"})),
        ("ghcr", lambda t: package("team-third")),
    ],
    ids=["ecr: unnamed repository", "ecr: same name, other region", "ecr: wrong key",
         "gcr: unnamed image", "gcr: the token is no Google token", "ghcr: unnamed package"],
)  # fmt: skip
async def test_an_event_about_no_named_repository_or_unsigned_wakes_nothing(
    served: Callable[[str], Any], receiver: str, make: Callable[[str], Any]
) -> None:
    s: Served = await served("registry.unused:5000")
    url = f"{s.url}{s.paths[receiver]}"
    body, headers = make(TOKENS[receiver])
    if headers == "bearer":
        headers = {"Authorization": f"Bearer {google_token(url)}"}
    status, _ = await post(url, body, headers)
    assert status in (200, 401)
    assert s.queue.submitted == []


async def test_the_real_registrys_push_notification_wakes_the_pushed_repository(
    served: Callable[[str], Any],
) -> None:
    # The registry's host must be named in the files before the daemon serves, and the
    # daemon's URL in the registry's config before the registry starts: the registry gets a
    # fixed host name here, its notifications name only the repository path.
    s: Served = await served("registry.notify.test")
    endpoint = {
        "name": "daemon",
        "url": f"{s.url}{s.paths['reg']}",
        "headers": {"Authorization": [TOKENS["reg"]]},
        "timeout": "2s",
        "threshold": 3,
        "backoff": "100ms",
    }
    registry = await asyncio.to_thread(start_registry, notifications={"endpoints": [endpoint]})
    try:
        with registry.push_client() as client:
            await asyncio.to_thread(push_image, client, registry.url, "team-app", ["1.0.0"])
        await until(lambda: bool(s.scans()), limit=20)
    finally:
        await asyncio.to_thread(registry.stop)
    assert s.scans() == {"scan:registry.notify.test/team-app"}
