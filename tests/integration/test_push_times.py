"""Push times from the vendor APIs (Docker Hub, Quay, Harbor) over real local HTTP servers.

The servers (``push_time_servers.py``) answer in each vendor's documented shape; the Harbor
case also runs a whole scan against the real ``docker-registry`` for tags and digests.
"""

from __future__ import annotations

import datetime as dt
import logging
import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import RegistryTagLister
from image_automation.engine.scanning import ScanTarget, scan_repositories
from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.registry import (
    Credential,
    RegistryClient,
    RegistrySettings,
    StaticCredentials,
)
from image_automation.state.sqlite import SqliteStore
from tests.integration.conftest import settings_for
from tests.integration.push_time_servers import DockerHubApi, HarborApi, QuayApi
from tests.integration.registry_fixtures import PASSWORD, USERNAME, RegistryServer, push_image

pytestmark = pytest.mark.integration

T0 = dt.datetime(2024, 1, 2, 3, 4, 5, 123456, tzinfo=dt.UTC)
TIMES = {f"1.{i}.0": T0 + dt.timedelta(days=i) for i in range(5)}
NOW = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)


def _settings(hosts: dict[str, dict[str, Any]], **retry: Any) -> RegistrySettings:
    return RegistrySettings.model_validate(
        {"hosts": hosts, "retry": {"attempts": 2, "baseDelay": 0, **retry}}
    )


@pytest.fixture
async def hub() -> AsyncIterator[DockerHubApi]:
    server = await DockerHubApi(TIMES, repository="team/app").start()
    yield server
    await server.stop()


@pytest.fixture
async def quay() -> AsyncIterator[QuayApi]:
    server = await QuayApi(TIMES, repository="team/app").start()
    yield server
    await server.stop()


async def test_docker_hub_pages_follow_next(hub: DockerHubApi) -> None:
    settings = _settings({"docker.io": {"pushTimeUrl": hub.url}})  # auto: dockerhub
    async with RegistryClient(settings=settings) as client:
        times = await client.push_times("team/app")
        assert client.requests == 3  # 5 tags, 2 a page
    assert times == TIMES
    assert [r.raw for r in hub.requests] == [
        "/v2/namespaces/team/repositories/app/tags?page_size=100",
        "/v2/namespaces/team/repositories/app/tags?page=2&page_size=100",
        "/v2/namespaces/team/repositories/app/tags?page=3&page_size=100",
    ]
    assert all("authorization" not in {k.lower() for k in r.headers} for r in hub.requests)


async def test_docker_hub_official_images_are_in_the_library_namespace() -> None:
    server = await DockerHubApi(TIMES, repository="library/nginx").start()
    try:
        settings = _settings({"docker.io": {"pushTimeUrl": server.url}})
        async with RegistryClient(settings=settings) as client:
            assert await client.push_times("nginx") == TIMES
    finally:
        await server.stop()


async def test_quay_pages_while_has_additional(quay: QuayApi) -> None:
    settings = _settings({"quay.io": {"pushTimeUrl": quay.url}})  # auto: quay
    async with RegistryClient(settings=settings) as client:
        times = await client.push_times("quay.io/team/app")
    # start_ts is whole seconds: the fraction is Quay's to drop.
    assert times == {tag: when.replace(microsecond=0) for tag, when in TIMES.items()}
    assert [r.raw for r in quay.requests] == [
        f"/api/v1/repository/team/app/tag/?limit=100&page={n}&onlyActiveTags=true"
        for n in (1, 2, 3)
    ]


@pytest.mark.parametrize("link", [True, False], ids=["link", "x-total-count"])
async def test_harbor_pages_with_a_twice_encoded_repository_and_basic_auth(link: bool) -> None:
    server = await HarborApi(
        TIMES, repository="proj/team/app", credentials=(USERNAME, PASSWORD), link=link
    ).start()
    try:
        settings = _settings({"harbor.test": {"pushTimeApi": "harbor", "pushTimeUrl": server.url}})
        creds = StaticCredentials({"harbor.test": Credential(USERNAME, PASSWORD)})
        async with RegistryClient(settings=settings, credentials=creds) as client:
            times = await client.push_times("harbor.test/proj/team/app")
    finally:
        await server.stop()
    # Harbor sends milliseconds; the untagged artifact adds nothing.
    assert times == {tag: when.replace(microsecond=123000) for tag, when in TIMES.items()}
    path = "/api/v2.0/projects/proj/repositories/team%252Fapp/artifacts"
    assert [r.raw.partition("?")[0] for r in server.requests] == [path] * 2  # 4 artifacts, 2 a page
    assert server.requests[0].raw == f"{path}?with_tag=true&page_size=100&page=1"


async def test_harbor_without_credentials_is_refused_and_says_so() -> None:
    server = HarborApi(TIMES, repository="proj/app", credentials=(USERNAME, PASSWORD))
    await server.start()
    try:
        settings = _settings({"harbor.test": {"pushTimeApi": "harbor", "pushTimeUrl": server.url}})
        async with RegistryClient(settings=settings) as client:
            with pytest.raises(RegistryError, match=r"harbor.test/proj/app: harbor .*HTTP 401"):
                await client.push_times("harbor.test/proj/app")
    finally:
        await server.stop()


@pytest.mark.parametrize(
    ("hosts", "image"),
    [
        ({"docker.io": {"pushTimeApi": "none"}}, "team/app"),
        ({"registry.example": {}}, "registry.example/team/app"),  # auto: none elsewhere
        ({"docker.io": {"mirror": "mirror.example/hub"}}, "team/app"),  # auto: none if mirrored
    ],
    ids=["none", "auto-other-host", "auto-mirrored"],
)
async def test_no_push_time_api_means_no_request(
    hub: DockerHubApi, hosts: dict[str, dict[str, Any]], image: str
) -> None:
    for host in hosts.values():
        host["pushTimeUrl"] = hub.url
    async with RegistryClient(settings=_settings(hosts)) as client:
        assert client.push_time_api(image) == "none"
        assert await client.push_times(image) == {}
        assert client.requests == 0
    assert hub.requests == []


@pytest.mark.parametrize(
    ("fail", "kind", "tries"),
    [
        (500, RegistryUnavailable, 2),
        (404, RegistryError, 1),
        (403, RegistryError, 1),
        ("json", RegistryError, 1),
        ("slow", RegistryUnavailable, 2),
    ],
)
async def test_api_failures_are_ours_and_retried_like_any_request(
    hub: DockerHubApi, fail: int | str, kind: type[Exception], tries: int
) -> None:
    hub.fail = fail
    settings = _settings({"docker.io": {"pushTimeUrl": hub.url}, "127.0.0.1": {}})
    settings = settings.with_host(hub.host, timeout=0.3)
    async with RegistryClient(settings=settings) as client:
        with pytest.raises(kind, match=r"docker\.io/team/app"):
            await client.push_times("team/app")
        assert client.requests == tries
    assert len(hub.requests) == tries


# --- through the lister, against the real registry ----------------------------------------


def _repo() -> str:
    return f"pushtime/{uuid.uuid4().hex[:10]}"


@pytest.mark.parametrize("fail", [500, 401, 404, "json"])
async def test_a_failing_push_time_api_never_fails_the_scan(
    registry_anonymous: RegistryServer,
    caplog: pytest.LogCaptureFixture,
    fail: int | str,
) -> None:
    repo = _repo()
    with registry_anonymous.push_client() as push:
        push_image(push, registry_anonymous.url, repo, ["1.0.0", "1.1.0"], created=T0)
    server = await DockerHubApi(TIMES, repository=repo).start()
    server.fail = fail
    try:
        host = registry_anonymous.host
        base = _settings({host: {"pushTimeApi": "dockerhub", "pushTimeUrl": server.url}})
        target = ScanTarget(ImageRef.parse(f"{host}/{repo}"), needs_metadata=True)
        caplog.set_level(logging.WARNING, "image_automation")
        async with RegistryClient(settings=settings_for(registry_anonymous, base)) as client:
            listing = await RegistryTagLister(client).list_tags(target, known={})
            total = client.requests
    finally:
        await server.stop()
    assert sorted((t.name, t.created, t.pushed) for t in listing.tags) == [
        ("1.0.0", T0, None),
        ("1.1.0", T0, None),
    ]
    tries = 2 if fail == 500 else 1
    assert len(server.requests) == tries
    assert listing.requests == total  # the push-time requests are in the scan's figure
    [line] = [r.getMessage() for r in caplog.records if "push times" in r.getMessage()]
    why = (
        "dockerhub API unreachable; not asked again for a while" if fail == 500 else "dockerhub API"
    )
    assert line.startswith(f"{host}/{repo}: scanning without push times ({why}")


async def test_scan_stores_harbor_push_times_next_to_the_real_registrys_digests(
    registry_basic: RegistryServer, tmp_path: Any
) -> None:
    repo = _repo()
    with registry_basic.push_client() as push:
        image = push_image(push, registry_basic.url, repo, ["1.0.0", "1.1.0"], created=T0)
    times = {"1.0.0": T0, "1.1.0": T0 + dt.timedelta(hours=1), "gone": T0}
    harbor = HarborApi(times, repository=repo, credentials=(USERNAME, PASSWORD))
    await harbor.start()
    host = registry_basic.host
    base = _settings({host: {"pushTimeApi": "harbor", "pushTimeUrl": harbor.url}})
    creds = StaticCredentials({host: Credential(USERNAME, PASSWORD)})
    target = ScanTarget(ImageRef.parse(f"{host}/{repo}"), needs_metadata=True)
    millis = dt.timedelta(microseconds=T0.microsecond % 1000)

    async def scan(when: dt.datetime) -> list[Any]:
        settings = settings_for(registry_basic, base)
        async with RegistryClient(settings=settings, credentials=creds) as client:
            lister = RegistryTagLister(client)
            [report] = await scan_repositories(
                [target], lister=lister, store=store, clock=lambda: when
            )
        assert report.ok, report.error
        return await store.tags(target.repository)

    try:
        async with await SqliteStore.open(tmp_path / "state.db") as store:
            first = await scan(NOW)
            # A re-push moves 1.1.0's push time; its digest is unchanged, so the stored
            # build time is reused but the push time comes from the API again.
            harbor.times["1.1.0"] = T0 + dt.timedelta(days=3)
            harbor.requests.clear()
            second = await scan(NOW + dt.timedelta(minutes=5))
    finally:
        await harbor.stop()
    assert [(t.name, t.digest, t.created, t.pushed) for t in first] == [
        ("1.0.0", image.digest, T0, T0 - millis),
        ("1.1.0", image.digest, T0, T0 + dt.timedelta(hours=1) - millis),
    ]
    assert [(t.name, t.pushed) for t in second] == [
        ("1.0.0", T0 - millis),
        ("1.1.0", T0 + dt.timedelta(days=3) - millis),
    ]
    assert harbor.requests  # asked again on the second scan
    assert all(r.headers.get("Authorization", "").startswith("Basic ") for r in harbor.requests)
