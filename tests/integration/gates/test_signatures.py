"""The signature gate against the real test registry (distribution 2.8, which has no
referrers API: its tag-schema fallback is what serves referrers there) and against a small
referrers-API front of ours on top of it."""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator, Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import aiohttp
import pytest
from aiohttp import web

from image_automation.config.loading import load_paths
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import TagInfo
from image_automation.engine.signatures import SignatureChecker
from image_automation.registry import RegistryClient
from image_automation.state import StateStore, open_store
from tests.integration.fault_proxy import Fault, FaultProxy
from tests.integration.image_push import OCI_INDEX, push_image
from tests.integration.registry_fixtures import RegistryServer
from tests.integration.signing import (
    new_key,
    payload_for,
    public_pem,
    sign,
    sign_referrer,
    sign_tag,
)

pytestmark = pytest.mark.integration
NOW = datetime(2026, 5, 4, tzinfo=UTC)
VERSIONS = ("1.0.0", "1.1.0", "1.2.0")


OPEN: list[Any] = []


@pytest.fixture(autouse=True)
def _close_push_clients() -> Any:
    yield
    while OPEN:
        OPEN.pop().close()


class Images:
    def __init__(self, server: RegistryServer, host: str) -> None:
        self.server = server
        self.repo = f"sig/app-{uuid.uuid4().hex[:8]}"
        self.host = host
        self.push = server.push_client()
        OPEN.append(self.push)
        self.digests = {
            v: push_image(self.push, server.url, self.repo, [v], salt=v).digest for v in VERSIONS
        }

    @property
    def tags(self) -> list[TagInfo]:
        return [TagInfo(v, digest=d) for v, d in self.digests.items()]


def policy_for(tmp_path: Path, image: str) -> ResolvedPolicy:
    doc = tmp_path / "policy.yaml"
    doc.write_text(f"""\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: app, namespace: apps}}
spec:
  image: {image}
  select: {{semver: {{range: ">=1.0.0"}}}}
  verify: {{secretRef: {{name: cosign}}}}
""")
    resolved = resolve(load_paths([doc]))
    assert not resolved.errors, resolved.errors
    return resolved.policies[0]


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[StateStore]:
    async with await open_store(tmp_path / "state.db") as opened:
        yield opened


def secrets(tmp_path: Path, *pems: bytes) -> Path:
    folder = tmp_path / "secrets" / "cosign"
    folder.mkdir(parents=True)
    for i, pem in enumerate(pems):
        (folder / f"key{i}.pub").write_bytes(pem)
    return tmp_path / "secrets"


LAYOUTS = ["tag", "referrer", "bundle"]


def signer(layout: str) -> Callable[..., Any]:
    if layout == "tag":
        return sign_tag
    return lambda *a, **k: sign_referrer(*a, bundle=layout == "bundle", **k)


@pytest.mark.parametrize("kind", ["ecdsa", "ed25519", "rsa"])
@pytest.mark.parametrize("layout", LAYOUTS)
async def test_signed_winner_wins_and_its_verdict_costs_nothing_next_time(
    registry_anonymous: RegistryServer, registry_client_for: Callable[..., RegistryClient],
    store: StateStore, tmp_path: Path, layout: str, kind: str,
) -> None:  # fmt: skip
    images = Images(registry_anonymous, registry_anonymous.host)
    key = new_key(kind)
    signer(layout)(images.push, registry_anonymous.url, images.repo, images.digests["1.2.0"], key)
    policy = policy_for(tmp_path, f"{registry_anonymous.host}/{images.repo}")
    async with registry_client_for(registry_anonymous) as client:
        checker = SignatureChecker(client=client, store=store,
                                   secrets_dir=secrets(tmp_path, public_pem(key)))  # fmt: skip
        first = await checker.decide(policy, images.tags, now=NOW)
        spent = client.requests
        again = await checker.decide(policy, images.tags, now=NOW)
        assert client.requests == spent  # the verdict came from the store
    assert first.tag == again.tag == "1.2.0"
    assert checker.lookups == 1
    # .sig tag + payload; referrers here: .sig 404, referrers 404, fallback index, manifest, blob
    assert spent == (2 if layout == "tag" else 5)


@pytest.mark.parametrize("layout", LAYOUTS)
async def test_unsigned_winner_is_skipped_and_the_next_signed_tag_wins(
    registry_anonymous: RegistryServer, registry_client_for: Callable[..., RegistryClient],
    store: StateStore, tmp_path: Path, layout: str,
) -> None:  # fmt: skip
    images = Images(registry_anonymous, registry_anonymous.host)
    key = new_key()
    signer(layout)(images.push, registry_anonymous.url, images.repo, images.digests["1.1.0"], key)
    policy = policy_for(tmp_path, f"{registry_anonymous.host}/{images.repo}")
    async with registry_client_for(registry_anonymous) as client:
        checker = SignatureChecker(client=client, store=store,
                                   secrets_dir=secrets(tmp_path, public_pem(key)))  # fmt: skip
        decision = await checker.decide(policy, images.tags, now=NOW)
    assert decision.tag == "1.1.0"
    assert decision.skipped["1.2.0"].startswith("signature: unsigned")


@pytest.mark.parametrize("case", ["wrong-key", "tampered-payload", "another-digest"])
async def test_a_bad_signature_is_refused_with_its_reason(
    registry_anonymous: RegistryServer, registry_client_for: Callable[..., RegistryClient],
    store: StateStore, tmp_path: Path, case: str,
) -> None:  # fmt: skip
    images = Images(registry_anonymous, registry_anonymous.host)
    key, other = new_key(), new_key()
    url, repo, digest = registry_anonymous.url, images.repo, images.digests["1.2.0"]
    if case == "wrong-key":
        sign_tag(images.push, url, repo, digest, other)
        expected = "does not verify"
    elif case == "tampered-payload":
        good = payload_for(digest, repo)
        sign_tag(images.push, url, repo, digest, key, payload=good.replace(b"cosign", b"COSIGN"),
                 signature=sign(key, good))  # fmt: skip
        expected = "does not verify"
    else:
        sign_tag(images.push, url, repo, digest, key,
                 payload=payload_for(images.digests["1.1.0"], repo))  # fmt: skip
        expected = "another digest"
    sign_tag(images.push, url, repo, images.digests["1.0.0"], key)
    policy = policy_for(tmp_path, f"{registry_anonymous.host}/{repo}")
    async with registry_client_for(registry_anonymous) as client:
        checker = SignatureChecker(client=client, store=store,
                                   secrets_dir=secrets(tmp_path, public_pem(key)))  # fmt: skip
        decision = await checker.decide(policy, images.tags, now=NOW)
    assert decision.tag == "1.0.0"
    assert expected in decision.skipped["1.2.0"]
    assert "signature" in decision.skipped["1.1.0"]


async def test_a_malformed_signature_manifest_is_a_clear_refusal_and_the_scan_goes_on(
    registry_anonymous: RegistryServer, registry_client_for: Callable[..., RegistryClient],
    fault_proxy: FaultProxy, store: StateStore, tmp_path: Path,
) -> None:  # fmt: skip
    images = Images(registry_anonymous, fault_proxy.host)
    key = new_key()
    for version in ("1.2.0", "1.1.0"):
        sign_tag(images.push, registry_anonymous.url, images.repo, images.digests[version], key)
    fault_proxy.add(Fault("truncate", path=images.digests["1.2.0"].split(":")[1] + ".sig"))
    policy = policy_for(tmp_path, f"{fault_proxy.host}/{images.repo}")
    from image_automation.registry import RegistrySettings

    settings = RegistrySettings().with_host(fault_proxy.host, insecure=True)
    async with RegistryClient(settings=settings) as client:
        checker = SignatureChecker(client=client, store=store,
                                   secrets_dir=secrets(tmp_path, public_pem(key)))  # fmt: skip
        decision = await checker.decide(policy, images.tags, now=NOW)
    assert decision.tag == "1.1.0"
    assert "not valid JSON" in decision.skipped["1.2.0"], decision.skipped


async def test_huge_key_folder_content_and_bad_keys_say_why(
    registry_anonymous: RegistryServer, registry_client_for: Callable[..., RegistryClient],
    store: StateStore, tmp_path: Path,
) -> None:  # fmt: skip
    images = Images(registry_anonymous, registry_anonymous.host)
    policy = policy_for(tmp_path, f"{registry_anonymous.host}/{images.repo}")
    async with registry_client_for(registry_anonymous) as client:
        checker = SignatureChecker(client=client, store=store,
                                   secrets_dir=secrets(tmp_path, b"x" * 1_000_000))  # fmt: skip
        decision = await checker.decide(policy, images.tags, now=NOW)
    assert decision.tag is None
    assert "not a PEM public key" in decision.reasons[0]


class ReferrersFront:
    """A registry with the referrers API: answers ``/v2/<name>/referrers/<digest>`` from what
    the test registered, forwards everything else to the real registry."""

    def __init__(self, upstream: str) -> None:
        self.upstream = upstream
        self.referrers: dict[str, list[dict[str, object]]] = {}
        self.asked = 0

    async def start(self) -> str:
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app)
        await self._runner.setup()
        site = web.TCPSite(self._runner, "127.0.0.1", 0)
        await site.start()
        port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
        self._session = aiohttp.ClientSession()
        return f"127.0.0.1:{port}"

    async def stop(self) -> None:
        await self._session.close()
        await self._runner.cleanup()

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if "/referrers/" in request.path:
            self.asked += 1
            digest = request.path.rsplit("/", 1)[1]
            body = {"schemaVersion": 2, "mediaType": OCI_INDEX,
                    "manifests": self.referrers.get(digest, [])}  # fmt: skip
            return web.Response(body=json.dumps(body), content_type=OCI_INDEX)
        headers = {k: v for k, v in request.headers.items() if k.lower() in ("accept",)}
        async with self._session.request(request.method, self.upstream + request.path_qs,
                                         headers=headers) as got:  # fmt: skip
            data = await got.read()
            keep = {k: v for k, v in got.headers.items()
                    if k.lower() in ("content-type", "docker-content-digest")}  # fmt: skip
            return web.Response(status=got.status, body=data, headers=keep)


@pytest.mark.parametrize("bundle", [False, True])
async def test_referrers_api_is_used_where_the_registry_has_it(
    registry_anonymous: RegistryServer, store: StateStore, tmp_path: Path, bundle: bool
) -> None:
    front = ReferrersFront(registry_anonymous.url)
    host = await front.start()
    try:
        images = Images(registry_anonymous, host)
        key = new_key()
        digest = images.digests["1.2.0"]
        descriptor = sign_referrer(images.push, registry_anonymous.url, images.repo, digest,
                                   key, bundle=bundle, fallback=False)  # fmt: skip
        front.referrers[digest] = [descriptor]
        from image_automation.registry import RegistrySettings

        settings = RegistrySettings().with_host(host, insecure=True)
        policy = policy_for(tmp_path, f"{host}/{images.repo}")
        async with RegistryClient(settings=settings) as client:
            checker = SignatureChecker(client=client, store=store,
                                       secrets_dir=secrets(tmp_path, public_pem(key)))  # fmt: skip
            decision = await checker.decide(policy, images.tags, now=NOW)
    finally:
        await front.stop()
    assert decision.tag == "1.2.0", decision.skipped
    assert front.asked == 1


@pytest.mark.parametrize(("layout", "cost"), [("tag", 2), ("referrer", 3), ("bundle", 3),
                                              ("unsigned", 1)])  # fmt: skip
async def test_with_the_whole_tag_list_no_signature_place_the_scan_did_not_list_is_asked(
    registry_anonymous: RegistryServer, registry_client_for: Callable[..., RegistryClient],
    store: StateStore, tmp_path: Path, layout: str, cost: int,
) -> None:  # fmt: skip
    """Reconcile gives the checker the repository's whole scan: a missing ``.sig`` tag or
    fallback index is known missing without a 404 (referrers: index, manifest, payload)."""
    images = Images(registry_anonymous, registry_anonymous.host)
    key = new_key()
    if layout != "unsigned":
        signer(layout)(images.push, registry_anonymous.url, images.repo, images.digests["1.2.0"],
                       key)  # fmt: skip
    image = f"{registry_anonymous.host}/{images.repo}"
    policy = policy_for(tmp_path, image)
    async with registry_client_for(registry_anonymous) as client:
        listed = (await client.list_tags(image)).tags
        scan = [TagInfo(t, digest=images.digests.get(t)) for t in listed]
        before = client.requests
        checker = SignatureChecker(client=client, store=store, whole_lists=True,
                                   secrets_dir=secrets(tmp_path, public_pem(key)))  # fmt: skip
        decision = await checker.decide(policy, scan, now=NOW)
        spent = client.requests - before
    assert decision.tag == (None if layout == "unsigned" else "1.2.0"), decision.skipped
    assert spent == cost
