"""The registry-backed lister over httpx.MockTransport: request economy and hint wiring."""

from __future__ import annotations

import base64
import hashlib
import json
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from image_automation.domain import ImageRef, TagInfo
from image_automation.engine.registry_lister import (
    RegistryTagLister,
    UnreachableApis,
    client_setup,
    parse_created,
)
from image_automation.engine.scanning import ScanTarget
from image_automation.errors import RegistryError
from image_automation.registry import (
    CloudCache,
    Credential,
    DockerConfig,
    RegistryClient,
    RegistrySettings,
    SecretsDir,
)
from image_automation.registry._lookup import CredentialLookup
from image_automation.registry.cloud import CloudLogin

HOST = "registry.test"
CREATED = "2025-02-03T04:05:06.123456789Z"


def _digest(body: bytes) -> str:
    return "sha256:" + hashlib.sha256(body).hexdigest()


CONFIG = json.dumps({"created": CREATED, "architecture": "amd64", "os": "linux"}).encode()
MANIFEST = json.dumps(
    {
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"digest": _digest(CONFIG), "size": len(CONFIG)},
        "layers": [],
    }
).encode()


class Registry:
    """Serves two tags of one image and counts requests by kind."""

    def __init__(self) -> None:
        self.seen: list[str] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path.endswith("/tags/list"):
            self.seen.append("tags")
            return httpx.Response(200, json={"name": "team/app", "tags": ["1.0", "1.1"]})
        if "/manifests/" in path:
            self.seen.append(f"{request.method} manifest")
            headers = {
                "docker-content-digest": _digest(MANIFEST),
                "content-type": "application/vnd.oci.image.manifest.v1+json",
            }
            return httpx.Response(
                200, content=b"" if request.method == "HEAD" else MANIFEST, headers=headers
            )
        if "/blobs/" in path:
            self.seen.append("config")
            return httpx.Response(200, content=CONFIG)
        return httpx.Response(404)


def target(*, metadata: bool) -> ScanTarget:
    return ScanTarget(ImageRef.parse(f"{HOST}/team/app"), needs_metadata=metadata)


async def test_names_only_cost_one_request() -> None:
    registry = Registry()
    async with RegistryClient(transport=httpx.MockTransport(registry)) as client:
        listing = await RegistryTagLister(client).list_tags(target(metadata=False), known={})
    assert [t.name for t in listing.tags] == ["1.0", "1.1"]
    assert (listing.requests, registry.seen) == (1, ["tags"])


async def test_metadata_fetches_config_once_per_digest_then_reuses_the_store() -> None:
    registry = Registry()
    when = datetime(2025, 2, 3, 4, 5, 6, 123456, tzinfo=UTC)
    async with RegistryClient(transport=httpx.MockTransport(registry)) as client:
        listing = await RegistryTagLister(client).list_tags(target(metadata=True), known={})
    assert {t.name: (t.digest, t.created) for t in listing.tags} == {
        "1.0": (_digest(MANIFEST), when),
        "1.1": (_digest(MANIFEST), when),
    }
    # Both tags share a digest: one manifest GET and one config GET, cached by digest.
    assert sorted(registry.seen) == sorted(
        ["tags", "HEAD manifest", "HEAD manifest", "GET manifest", "config"]
    )
    assert listing.requests == 5

    registry.seen.clear()
    known = {t.name: t for t in listing.tags}
    async with RegistryClient(transport=httpx.MockTransport(registry)) as client:
        again = await RegistryTagLister(client).list_tags(target(metadata=True), known=known)
    assert [t.created for t in again.tags] == [when, when]
    assert sorted(registry.seen) == ["HEAD manifest", "HEAD manifest", "tags"]
    assert again.requests == 3


async def test_moved_tag_gets_its_config_fetched_again() -> None:
    registry = Registry()
    stale = {"1.0": TagInfo("1.0", digest="sha256:old", created=datetime(2020, 1, 1, tzinfo=UTC))}
    async with RegistryClient(transport=httpx.MockTransport(registry)) as client:
        listing = await RegistryTagLister(client).list_tags(target(metadata=True), known=stale)
    assert listing.tags[0].digest == _digest(MANIFEST)
    assert listing.tags[0].created == parse_created(CREATED)
    assert "config" in registry.seen


class HarborRegistry(Registry):
    """The same registry plus Harbor's artifact list: push times for 1.0 only."""

    def __init__(self, *, fail: int | None = None) -> None:
        super().__init__()
        self.fail = fail

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.path.startswith("/api/v2.0/"):
            self.seen.append("push times")
            if self.fail is not None:
                return httpx.Response(self.fail)
            tag = {"name": "1.0", "push_time": "2025-03-04T05:06:07.000Z"}
            return httpx.Response(200, json=[{"digest": _digest(MANIFEST), "tags": [tag]}])
        return super().__call__(request)


HARBOR = RegistrySettings.model_validate(
    {"hosts": {HOST: {"pushTimeApi": "harbor"}}, "retry": {"attempts": 1}}
)
PUSHED = datetime(2025, 3, 4, 5, 6, 7, tzinfo=UTC)


async def test_push_times_are_asked_once_per_scan_and_win_over_stored_ones() -> None:
    registry = HarborRegistry()
    stored = datetime(2020, 1, 1, tzinfo=UTC)
    created = parse_created(CREATED)
    known = {
        name: TagInfo(name, digest=_digest(MANIFEST), created=created, pushed=stored)
        for name in ("1.0", "1.1")
    }
    transport = httpx.MockTransport(registry)
    async with RegistryClient(settings=HARBOR, transport=transport) as client:
        listing = await RegistryTagLister(client).list_tags(target(metadata=True), known=known)
    # Digests unchanged: build times reused; 1.0's push time from the API, 1.1 keeps its own.
    assert {t.name: (t.created, t.pushed) for t in listing.tags} == {
        "1.0": (created, PUSHED),
        "1.1": (created, stored),
    }
    assert sorted(registry.seen) == ["HEAD manifest", "HEAD manifest", "push times", "tags"]
    assert listing.requests == 4


async def test_names_only_scans_ask_for_no_push_times() -> None:
    registry = HarborRegistry()
    async with RegistryClient(settings=HARBOR, transport=httpx.MockTransport(registry)) as client:
        listing = await RegistryTagLister(client).list_tags(target(metadata=False), known={})
    assert registry.seen == ["tags"]
    assert [t.pushed for t in listing.tags] == [None, None]


async def test_a_refused_push_time_api_leaves_the_scan_and_the_stored_times_alone() -> None:
    registry = HarborRegistry(fail=403)
    stored = datetime(2020, 1, 1, tzinfo=UTC)
    known = {"1.0": TagInfo("1.0", digest=_digest(MANIFEST), created=stored, pushed=stored)}
    async with RegistryClient(settings=HARBOR, transport=httpx.MockTransport(registry)) as client:
        listing = await RegistryTagLister(client).list_tags(target(metadata=True), known=known)
    assert {t.name: t.pushed for t in listing.tags} == {"1.0": stored, "1.1": None}
    assert "push times" in registry.seen
    assert listing.requests == len(registry.seen)


async def test_an_unreachable_push_time_api_is_asked_once_per_lister(
    caplog: pytest.LogCaptureFixture,
) -> None:
    registry = HarborRegistry(fail=503)
    other = ScanTarget(ImageRef.parse(f"{HOST}/team/other"), needs_metadata=True)
    async with RegistryClient(settings=HARBOR, transport=httpx.MockTransport(registry)) as client:
        lister = RegistryTagLister(client)
        await lister.list_tags(target(metadata=True), known={})
        second = await lister.list_tags(other, known={})
    assert registry.seen.count("push times") == 1
    assert [t.digest for t in second.tags] == [_digest(MANIFEST)] * 2
    assert second.requests == 3  # tags + two HEADs: no push-time request
    warnings = [r.getMessage() for r in caplog.records if "push times" in r.getMessage()]
    assert len(warnings) == 1 and "pushTimeApi: none for registry.test" in warnings[0]


def test_an_unreachable_api_is_skipped_for_the_hold_then_asked_again() -> None:
    now = [100.0]
    apis = UnreachableApis(hold=60.0, clock=lambda: now[0])
    key = ("dockerhub", "docker.io")
    assert not apis.skips(key)
    assert apis.mark(key) is True  # news: warn
    now[0] = 159.9
    assert apis.skips(key) and not apis.skips(("quay", "quay.io"))
    assert apis.mark(key) is False  # still held: no second warning
    now[0] = 159.9 + 60.0
    assert not apis.skips(key)


async def test_listers_sharing_the_unreachable_apis_ask_once() -> None:
    registry = HarborRegistry(fail=503)
    shared = UnreachableApis()
    async with RegistryClient(settings=HARBOR, transport=httpx.MockTransport(registry)) as client:
        for _ in range(3):  # the daemon: a new lister for every scan
            await RegistryTagLister(client, unreachable=shared).list_tags(
                target(metadata=True), known={}
            )
    assert registry.seen.count("push times") == 1


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (CREATED, datetime(2025, 2, 3, 4, 5, 6, 123456, tzinfo=UTC)),
        ("2025-02-03T06:05:06+02:00", datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("2025-02-03T04:05:06", datetime(2025, 2, 3, 4, 5, 6, tzinfo=UTC)),
        ("yesterday", None),
    ],
)
def test_parse_created(text: str, expected: datetime | None) -> None:
    assert parse_created(text) == expected


def _target(image: str, **hints: object) -> ScanTarget:
    return ScanTarget(ImageRef.parse(image), **hints)  # type: ignore[arg-type]


def test_setup_maps_hints_to_host_settings_and_credentials(tmp_path: Path) -> None:
    (tmp_path / "ca").mkdir()
    (tmp_path / "ca" / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    (tmp_path / "pull").mkdir()
    (tmp_path / "pull" / ".dockerconfigjson").write_text(json.dumps({"auths": {}}))
    setup = client_setup(
        [
            _target("a.test/x", cert_secret_ref="ca", secret_ref="pull"),
            _target("b.test:5000/y", insecure=True),
            _target("c.test/z"),
        ],
        secrets=SecretsDir(tmp_path),
    )
    assert setup.broken == {}
    assert setup.settings.for_host("a.test").ca_file == tmp_path / "ca" / "ca.crt"
    assert setup.settings.for_host("b.test:5000").insecure is True
    assert setup.settings.for_host("c.test") == RegistrySettings().defaults
    assert list(setup.repository_credentials) == ["a.test/x"]  # only its own repository
    assert setup.credentials is None  # no docker config: the others go anonymous
    assert setup.warnings == []


def _pull_secret(root: Path, name: str, user: str) -> None:
    auth = base64.b64encode(f"{user}:pw-{user}".encode()).decode()
    (root / name).mkdir()
    (root / name / ".dockerconfigjson").write_text(json.dumps({"auths": {HOST: {"auth": auth}}}))


def test_each_repository_on_a_host_gets_its_own_secret(tmp_path: Path) -> None:
    _pull_secret(tmp_path, "org-a", "a")
    _pull_secret(tmp_path, "org-b", "b")
    shared = DockerConfig(auths={HOST: Credential("shared", "pw-shared")})
    setup = client_setup(
        [
            _target(f"{HOST}/org-a/app", secret_ref="org-a"),
            _target(f"{HOST}/org-b/app", secret_ref="org-b"),
            _target(f"{HOST}/org-c/app"),
        ],
        secrets=SecretsDir(tmp_path),
        docker_config=shared,
    )
    assert sorted(setup.repository_credentials) == [f"{HOST}/org-a/app", f"{HOST}/org-b/app"]
    assert setup.credentials is shared


def test_conflicting_cert_secrets_on_one_host_are_reported_naming_both(tmp_path: Path) -> None:
    for name in ("ca-1", "ca-2"):
        (tmp_path / name).mkdir()
        (tmp_path / name / "ca.crt").write_text("-----BEGIN CERTIFICATE-----\n")
    setup = client_setup(
        [
            _target("a.test/one", cert_secret_ref="ca-1"),
            _target("a.test/two", cert_secret_ref="ca-2"),
            _target("a.test/three", cert_secret_ref="ca-1"),  # agrees: no warning
        ],
        secrets=SecretsDir(tmp_path),
    )
    assert setup.settings.for_host("a.test").ca_file == tmp_path / "ca-1" / "ca.crt"
    assert setup.broken == {}
    [warning] = setup.warnings
    assert "a.test/one" in warning and "a.test/two" in warning
    assert "'ca-1'" in warning and "'ca-2'" in warning


async def test_repositories_on_one_host_send_their_own_credentials(tmp_path: Path) -> None:
    _pull_secret(tmp_path, "org-a", "a")
    _pull_secret(tmp_path, "org-b", "b")
    targets = [
        _target(f"{HOST}/org-a/app", secret_ref="org-a"),
        _target(f"{HOST}/org-b/app", secret_ref="org-b"),
        _target(f"{HOST}/org-c/app"),
    ]
    setup = client_setup(targets, secrets=SecretsDir(tmp_path))
    users: dict[str, str] = {}

    def handler(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization")
        if header is None:
            return httpx.Response(401, headers={"WWW-Authenticate": 'Basic realm="r"'})
        user = base64.b64decode(header.removeprefix("Basic ")).decode().partition(":")[0]
        users[request.url.path.split("/")[2]] = user
        return httpx.Response(200, json={"tags": ["1.0"]})

    client = RegistryClient(
        credentials=setup.credentials,
        repository_credentials=setup.repository_credentials,
        transport=httpx.MockTransport(handler),
    )
    async with client:
        lister = RegistryTagLister(client)
        for target in targets[:2]:
            await lister.list_tags(target, known={})
        # No secretRef and no shared source: anonymous, never another repository's secret.
        with pytest.raises(RegistryError, match="refused"):
            await lister.list_tags(targets[2], known={})
    assert users == {"org-a": "a", "org-b": "b"}


async def test_unusable_secret_fails_only_its_own_repository(tmp_path: Path) -> None:
    setup = client_setup(
        [_target("a.test/x", secret_ref="missing"), _target("a.test/y")],
        secrets=SecretsDir(tmp_path),
    )
    assert list(setup.broken) == ["a.test/x"]
    assert "missing" in setup.broken["a.test/x"]
    no_dir = client_setup([_target("a.test/x", secret_ref="pull")])
    assert "no --secrets-dir" in no_dir.broken["a.test/x"]

    registry = Registry()
    async with RegistryClient(transport=httpx.MockTransport(registry)) as client:
        lister = RegistryTagLister(client, broken=setup.broken)
        with pytest.raises(RegistryError, match="missing"):
            await lister.list_tags(_target("a.test/x"), known={})
        ok = await lister.list_tags(_target("a.test/y"), known={})
    assert [t.name for t in ok.tags] == ["1.0", "1.1"]
    assert registry.seen == ["tags"]


# -- provider: which source a repository's credential comes from ------------------------------

ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
CLOUD = Credential("AWS", "cloud-login-pw")


class _FakeAws:
    def __init__(self) -> None:
        self.calls = 0

    def login(self, registry: str, *, site: object) -> CloudLogin:
        self.calls += 1
        return CloudLogin(CLOUD, None, source="fake")


def _docker(registry: str, user: str) -> DockerConfig:
    return DockerConfig(auths={registry: Credential(user, f"pw-{user}")})


@pytest.mark.parametrize(
    ("image", "hints", "docker", "expected"),
    [
        (f"{ECR}/app", {"provider": "aws"}, None, "AWS"),
        (f"{ECR}/app", {"provider": "aws", "secret_ref": "pull"}, None, "AWS"),  # Flux's rule
        (f"{ECR}/app", {}, None, "AWS"),  # unset: detected from the host
        (f"{ECR}/app", {"secret_ref": "pull"}, None, "puller"),  # its own secret first
        (f"{ECR}/app", {}, "docker", "docker"),  # then the docker config
        (f"{ECR}/app", {"provider": "generic"}, None, None),  # generic: never the cloud
        (f"{HOST}/app", {}, None, None),  # no cloud host, nothing to detect
        (f"{HOST}/app", {"provider": "aws"}, None, "AWS"),  # named: any host (a proxy)
    ],
)
async def test_the_provider_decides_where_the_credential_comes_from(
    tmp_path: Path, image: str, hints: dict[str, str], docker: str | None, expected: str | None
) -> None:
    _pull_secret(tmp_path, "pull", "puller")
    (tmp_path / "pull" / ".dockerconfigjson").write_text(
        json.dumps({"auths": {ECR: {"auth": base64.b64encode(b"puller:pw").decode()}}})
    )
    fake = _FakeAws()
    target = _target(image, **hints)
    setup = client_setup(
        [target],
        secrets=SecretsDir(tmp_path),
        docker_config=_docker(target.image.registry, docker) if docker else None,
        cloud=CloudCache(providers={"aws": fake}),
    )
    lookup = CredentialLookup(shared=setup.credentials, own=setup.repository_credentials)
    found = await lookup.credential(target.repository, target.image.registry)
    assert (found.username if found else None) == expected
    assert fake.calls == (1 if expected == "AWS" else 0)


def test_a_secret_ref_beside_a_cloud_provider_is_not_read_and_says_so(tmp_path: Path) -> None:
    setup = client_setup(
        [_target(f"{ECR}/app", provider="aws", secret_ref="missing")],
        secrets=SecretsDir(tmp_path),
        cloud=CloudCache(providers={"aws": _FakeAws()}),
    )
    assert setup.broken == {}  # the missing secret is never looked for
    [warning] = setup.warnings
    assert "secretRef 'missing' is not read" in warning and "provider aws" in warning
