"""Push times from the clouds' own APIs over real local servers, every page.

Artifact Registry, ACR, GHCR and GitLab answer from ``cloud_push_time_servers.py`` in their
documented shapes; ECR through the real boto3 client, against moto's server (what boto3 sends
and moto answers) and against a paging ``DescribeImages`` of ours (moto makes no pages). The
ECR scan runs against the real ``docker-registry`` as a mirror of the ECR host, so the stored
tags carry the real digests and ECR's push times, which is what ``minAge`` and ``newestBuild``
read.
"""

from __future__ import annotations

import datetime as dt
import json
import sys
import uuid
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import Any

import pytest

from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import RegistryTagLister
from image_automation.engine.scanning import ScanTarget, scan_repositories
from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.policy._ranking import age_timestamp, timestamp
from image_automation.registry import Credential, RegistryClient, RegistrySettings
from image_automation.registry import StaticCredentials as Static
from image_automation.state.sqlite import SqliteStore
from tests.integration.cloud_push_time_servers import (
    AcrApi,
    ArtifactRegistryApi,
    EcrDescribeImages,
    GhcrApi,
    GitlabRegistryApi,
)
from tests.integration.conftest import LeakCheck, settings_for
from tests.integration.fixture_base import SECRETS
from tests.integration.registry_fixtures import PASSWORD, USERNAME, RegistryServer, push_image

pytestmark = pytest.mark.integration

T0 = dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
TIMES = {f"1.{i}.0": T0 + dt.timedelta(days=i) for i in range(5)}
ECR = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
API_TOKEN = "ya29.api-Secr3t-token"
AWS_SECRET = "aws-Secr3t-key"
WRONG_TOKEN = "ghp_wrong-Secr3t-token"
for _secret in (API_TOKEN, AWS_SECRET, WRONG_TOKEN):
    SECRETS.add(_secret)  # the autouse leak check fails a test that logs or raises one


def _settings(hosts: dict[str, dict[str, Any]]) -> RegistrySettings:
    return RegistrySettings.model_validate(
        {"hosts": hosts, "retry": {"attempts": 2, "baseDelay": 0}}
    )


def _truncated(times: dict[str, dt.datetime], **replace: int) -> dict[str, dt.datetime]:
    return {tag: when.replace(**replace) for tag, when in times.items()}  # type: ignore[arg-type]


# --- Artifact Registry ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("image", "parent", "uri"),
    [
        ("europe-west1-docker.pkg.dev/proj/repo/team/app",
         "projects/proj/locations/europe-west1/repositories/repo",
         "europe-west1-docker.pkg.dev/proj/repo/team/app"),
        ("eu.gcr.io/proj/app", "projects/proj/locations/europe/repositories/eu.gcr.io",
         "eu.gcr.io/proj/app"),
    ],
    ids=["pkg.dev", "gcr.io"],
)  # fmt: skip
async def test_artifact_registry_pages_by_token_and_keeps_this_image_only(
    image: str, parent: str, uri: str
) -> None:
    server = ArtifactRegistryApi(TIMES, parent=parent, image_uri=uri, token=API_TOKEN)
    await server.start()
    registry = image.split("/", 1)[0]
    creds = Static({registry: Credential("oauth2accesstoken", API_TOKEN)})
    try:
        settings = _settings({registry: {"pushTimeUrl": server.url}})  # auto: by host
        async with RegistryClient(settings=settings, credentials=creds) as client:
            assert client.push_time_api(image) == "artifactregistry"
            times = await client.push_times(image)
            assert client.requests == 5  # 10 images (ours and another's), 2 a page
    finally:
        await server.stop()
    assert times == TIMES  # the other image's later uploads of the same tags are not ours
    first, second = server.requests[0].raw, server.requests[1].raw
    assert first == f"/v1/{parent}/dockerImages?pageSize=1000"
    assert second.startswith(f"{first}&pageToken=")
    assert {r.headers["Authorization"] for r in server.requests} == {f"Bearer {API_TOKEN}"}


@pytest.mark.parametrize(
    "credential",
    [None, Credential("_json_key", '{"type": "service_account"}')],
    ids=["anonymous", "key-file-not-a-token"],
)
async def test_artifact_registry_without_an_access_token_asks_nothing(
    credential: Credential | None,
) -> None:
    image = "us-docker.pkg.dev/proj/repo/app"
    creds = Static({"us-docker.pkg.dev": credential}) if credential else None
    settings = _settings({"us-docker.pkg.dev": {"pushTimeUrl": "http://127.0.0.1:9"}})
    async with RegistryClient(settings=settings, credentials=creds) as client:
        assert await client.push_times(image) == {}
        assert client.requests == 0


# --- ACR and GitLab: the registry's own token flow -----------------------------------------


@pytest.mark.parametrize("api", ["acr", "gitlab"])
async def test_registry_hosted_apis_follow_link_with_a_token_of_their_scope(api: str) -> None:
    cls = AcrApi if api == "acr" else GitlabRegistryApi
    server = await cls(TIMES, repository="team/app", credentials=(USERNAME, PASSWORD)).start()
    registry = "myregistry.azurecr.io" if api == "acr" else "registry.gitlab.com"
    creds = Static({registry: Credential(USERNAME, PASSWORD)})
    try:
        settings = _settings({registry: {"pushTimeUrl": server.url}})  # auto: by host
        async with RegistryClient(settings=settings, credentials=creds) as client:
            times = await client.push_times(f"{registry}/team/app")
    finally:
        await server.stop()
    # ACR sends 7 fraction digits (kept to the microsecond), GitLab milliseconds.
    assert times == (TIMES if api == "acr" else _truncated(TIMES, microsecond=123000))
    action = "metadata_read" if api == "acr" else "pull"
    assert server.scopes == [f"repository:team/app:{action}"]  # one token, the right scope
    pages = [r.raw for r in server.requests if not r.raw.startswith("/token")]
    assert len(pages) == 4  # 5 tags, 2 a page, plus the first (challenged) try
    if api == "acr":
        assert pages[0] == "/acr/v1/team/app/_tags?n=100"
        assert pages[2] == "/acr/v1/team/app/_tags?last=1.1.0&n=2&orderby="
    else:
        assert pages[0] == "/gitlab/v1/repositories/team/app/tags/list/?n=1000"
        assert pages[2] == "/gitlab/v1/repositories/team/app/tags/list/?n=2&last=1.1.0"


# --- GHCR ----------------------------------------------------------------------------------


@pytest.mark.parametrize("owner_kind", ["orgs", "users"])
async def test_ghcr_versions_pages_with_the_registry_token(owner_kind: str) -> None:
    server = GhcrApi(TIMES, repository="octo/team/app", token=API_TOKEN)
    server.owner_kind = owner_kind
    await server.start()
    creds = Static({"ghcr.io": Credential("octo", API_TOKEN)})
    try:
        settings = _settings({"ghcr.io": {"pushTimeUrl": server.url}})  # auto: ghcr
        async with RegistryClient(settings=settings, credentials=creds) as client:
            times = await client.push_times("ghcr.io/octo/team/app")
    finally:
        await server.stop()
    # Two tags per version, newest first: a tag's time is its version's (whole seconds).
    version_of = {"1.3.0": "1.4.0", "1.1.0": "1.2.0"}
    expected = {tag: TIMES[version_of.get(tag, tag)] for tag in TIMES}
    assert times == _truncated(expected, microsecond=0)
    paths = [r.raw for r in server.requests]
    org = "/orgs/octo/packages/container/team%2Fapp/versions?per_page=100"
    if owner_kind == "orgs":
        assert paths[0] == org and len(paths) == 2  # 4 versions (one untagged), 2 a page
    else:
        assert paths[0] == org  # 404: not an organisation
        assert paths[1] == org.replace("/orgs/", "/users/") and len(paths) == 3
    assert {r.headers.get("Authorization") for r in server.requests} == {f"Bearer {API_TOKEN}"}
    versions = {v for r in server.requests for k, v in r.headers.items()
                if k.lower() == "x-github-api-version"}  # fmt: skip
    assert versions == {"2022-11-28"}


@pytest.mark.parametrize("api", ["ghcr", "artifactregistry"])
async def test_a_refused_api_token_is_an_error_that_never_shows_it(
    api: str, leak_check: LeakCheck
) -> None:
    if api == "ghcr":
        server: GhcrApi | ArtifactRegistryApi = GhcrApi(TIMES, repository="o/app", token="x")
        image, credential = "ghcr.io/o/app", Credential("o", WRONG_TOKEN)
    else:
        server = ArtifactRegistryApi(TIMES, parent="projects/p/locations/us/repositories/r",
                                     image_uri="us-docker.pkg.dev/p/r/app", token="x")  # fmt: skip
        image, credential = "us-docker.pkg.dev/p/r/app", Credential("oauth2accesstoken",
                                                                    WRONG_TOKEN)  # fmt: skip
    await server.start()
    registry = image.split("/", 1)[0]
    try:
        settings = _settings({registry: {"pushTimeUrl": server.url}})
        creds = Static({registry: credential})
        async with RegistryClient(settings=settings, credentials=creds) as client:
            with leak_check.raises(RegistryError, match=rf"{api} push times: .*HTTP 401"):
                await client.push_times(image)
    finally:
        await server.stop()


async def test_ghcr_without_a_credential_asks_nothing() -> None:
    settings = _settings({"ghcr.io": {"pushTimeUrl": "http://127.0.0.1:9"}})
    async with RegistryClient(settings=settings) as client:
        assert await client.push_times("ghcr.io/fluxcd/flux-cli") == {}
        assert client.requests == 0


# --- ECR through boto3 ---------------------------------------------------------------------


@pytest.fixture
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Static credentials in the environment; no profile, no instance metadata lookups."""
    for name in (
        "AWS_PROFILE",
        "AWS_SESSION_TOKEN",
        "AWS_ROLE_ARN",
        "AWS_WEB_IDENTITY_TOKEN_FILE",
        "AWS_CONTAINER_CREDENTIALS_FULL_URI",
        "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI",
    ):
        monkeypatch.delenv(name, raising=False)  # fmt: skip
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIDEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", AWS_SECRET)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "aws-config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "aws-credentials"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture(scope="module")
def moto_url() -> Iterator[str]:
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


def _ecr(url: str) -> Any:
    import boto3

    return boto3.client("ecr", region_name="eu-west-1", endpoint_url=url,
                        aws_access_key_id="x", aws_secret_access_key="x")  # fmt: skip


def _manifest(salt: str) -> str:
    digest = "sha256:" + uuid.uuid5(uuid.NAMESPACE_URL, salt).hex * 2
    return json.dumps({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "size": 2,
                   "digest": digest},
        "layers": [],
    })  # fmt: skip


async def test_ecr_describe_images_pages_follow_next_token(aws_env: None) -> None:
    server = await EcrDescribeImages(TIMES, repository="team/app").start()
    try:
        settings = _settings({ECR: {"pushTimeUrl": server.url}})  # auto: ecr
        async with RegistryClient(settings=settings) as client:
            assert client.push_time_api(f"{ECR}/team/app") == "ecr"
            times = await client.push_times(f"{ECR}/team/app")
            assert client.requests == 3  # 5 images, 2 a page
    finally:
        await server.stop()
    assert times == TIMES
    first = {"registryId": "123456789012", "repositoryName": "team/app",
             "filter": {"tagStatus": "TAGGED"}, "maxResults": 1000}  # fmt: skip
    assert server.bodies == [first, {**first, "nextToken": "2"}, {**first, "nextToken": "4"}]
    signed = server.requests[0].headers["Authorization"]
    assert signed.startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-1/ecr/aws4_request" in signed  # the host's region, SigV4


async def test_ecr_push_times_from_moto_come_from_the_real_client(
    aws_env: None, moto_url: str
) -> None:
    ecr = _ecr(moto_url)
    repo = f"team/{uuid.uuid4().hex[:8]}"
    ecr.create_repository(repositoryName=repo)
    before = dt.datetime.now(dt.UTC) - dt.timedelta(seconds=5)
    for tag in ("1.0.0", "1.1.0"):
        ecr.put_image(repositoryName=repo, imageManifest=_manifest(tag), imageTag=tag)
    after = dt.datetime.now(dt.UTC) + dt.timedelta(seconds=5)
    settings = _settings({ECR: {"pushTimeUrl": moto_url}})
    async with RegistryClient(settings=settings) as client:
        times = await client.push_times(f"{ECR}/{repo}")
    assert sorted(times) == ["1.0.0", "1.1.0"]
    assert all(before <= when <= after and when.tzinfo is dt.UTC for when in times.values())


@pytest.mark.parametrize(
    ("fail", "kind", "message"),
    [
        (400, RegistryError, r"DescribeImages failed: AccessDeniedException \(not authorized\)"),
        (500, RegistryUnavailable, r"DescribeImages failed: ServerException"),
    ],
)
async def test_ecr_failures_are_ours(
    aws_env: None, fail: int, kind: type[Exception], message: str, leak_check: LeakCheck
) -> None:
    server = await EcrDescribeImages(TIMES, repository="team/app").start()
    server.fail = fail
    try:
        async with RegistryClient(settings=_settings({ECR: {"pushTimeUrl": server.url}})) as c:
            with leak_check.raises(kind, match=rf"^{ECR}/team/app: ecr push times: {message}"):
                await c.push_times(f"{ECR}/team/app")
    finally:
        await server.stop()


async def test_ecr_without_aws_credentials_says_so(
    aws_env: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AWS_ACCESS_KEY_ID")
    monkeypatch.delenv("AWS_SECRET_ACCESS_KEY")
    settings = _settings({ECR: {"pushTimeUrl": "http://127.0.0.1:9"}})
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(RegistryError, match="no AWS credentials"):
            await client.push_times(f"{ECR}/team/app")


async def test_ecr_without_boto3_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "boto3", None)  # `import boto3` raises ImportError
    async with RegistryClient(settings=_settings({})) as client:
        with pytest.raises(RegistryError, match=r"image-automation\[aws\]"):
            await client.push_times(f"{ECR}/team/app")


# --- a whole scan: tags and digests from the real registry, push times from ECR -------------


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state.db") as opened:
        yield opened


async def test_scan_stores_ecr_push_times_that_min_age_and_newest_build_read(
    aws_env: None, moto_url: str, registry_anonymous: RegistryServer, store: SqliteStore
) -> None:
    repo = f"team/{uuid.uuid4().hex[:8]}"
    placeholder = dt.datetime(1970, 1, 1, tzinfo=dt.UTC)  # a reproducible build: no build time
    with registry_anonymous.push_client() as push:
        image = push_image(push, registry_anonymous.url, repo, ["1.0.0", "1.1.0"],
                           created=placeholder)  # fmt: skip
    ecr = _ecr(moto_url)
    ecr.create_repository(repositoryName=repo)
    for tag in ("1.0.0", "1.1.0"):
        ecr.put_image(repositoryName=repo, imageManifest=_manifest(tag), imageTag=tag)
    pushed = {d["imageTags"][0]: d["imagePushedAt"] for d in
              ecr.describe_images(repositoryName=repo)["imageDetails"]}  # fmt: skip
    # The ECR host is mirrored by the real registry (a pull-through cache): tags and digests
    # come from there, push times from ECR's API, named for the host.
    base = _settings({ECR: {"mirror": registry_anonymous.host, "pushTimeApi": "ecr",
                            "pushTimeUrl": moto_url}})  # fmt: skip
    target = ScanTarget(ImageRef.parse(f"{ECR}/{repo}"), needs_metadata=True)
    async with RegistryClient(settings=settings_for(registry_anonymous, base)) as client:
        [report] = await scan_repositories(
            [target], lister=RegistryTagLister(client), store=store,
            clock=lambda: dt.datetime(2030, 1, 1, tzinfo=dt.UTC),
        )  # fmt: skip
    assert report.ok, report.error
    tags = await store.tags(target.repository)
    assert [(t.name, t.digest, t.pushed) for t in tags] == [
        (name, image.digest, pushed[name].astimezone(dt.UTC)) for name in ("1.0.0", "1.1.0")
    ]
    for info in tags:  # what the policies measure: newestBuild orders by, minAge ages from
        assert timestamp(info) == info.pushed == age_timestamp(info)


async def test_a_cloud_api_that_pages_past_max_pages_is_an_error() -> None:
    server = await GitlabRegistryApi(TIMES, repository="team/app").start()
    settings = _settings({"registry.gitlab.com": {"pushTimeUrl": server.url, "maxPages": 2}})
    try:
        async with RegistryClient(settings=settings) as client:
            with pytest.raises(RegistryError, match=r"more than 2 pages of push times"):
                await client.push_times("registry.gitlab.com/team/app")
    finally:
        await server.stop()


@pytest.mark.parametrize(
    "body", [b'{"dockerImages": "all"}', b"[]", b'{"dockerImages": [{"uri": 7, "tags": 1}]}']
)
async def test_an_unknown_artifact_registry_shape_is_refused_or_ignored(body: bytes) -> None:
    from aiohttp import web

    from tests.integration.fault_proxy import _Server

    class Odd(_Server):
        async def start(self) -> Odd:
            await self._start(self.answer)
            return self

        async def answer(self, request: web.Request) -> web.Response:
            return web.Response(body=body)

    server = await Odd().start()
    creds = Static({"us-docker.pkg.dev": Credential("oauth2accesstoken", API_TOKEN)})
    settings = _settings({"us-docker.pkg.dev": {"pushTimeUrl": server.url}})
    try:
        async with RegistryClient(settings=settings, credentials=creds) as client:
            if b"uri" in body:  # entries of the wrong types are skipped, not trusted
                assert await client.push_times("us-docker.pkg.dev/p/r/app") == {}
            else:
                with pytest.raises(RegistryError, match="unknown shape"):
                    await client.push_times("us-docker.pkg.dev/p/r/app")
    finally:
        await server.stop()
