"""Fixtures for the cloud-credential tests: the local clouds and registries that accept them.

``cloud_registry`` is a ``token`` registry of its own (its token server is told which cloud
credentials to accept, and to refuse some, without disturbing other tests); ``acr_registry``
is the ``acr`` set-up (token server in front: ``/oauth2/exchange``). ``clock`` is the test
clock the :class:`CloudCache` of ``scan`` runs on. Vendor environments are set per test with
``monkeypatch`` on top of the suite-wide one (tests/conftest.py: every probe goes nowhere).
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest

from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import ScanTarget
from image_automation.registry import CloudCache
from tests.conftest import GCE_METADATA_SOCKET
from tests.integration.cloud_fixtures import EntraStandIn, GceMetadata, MotoEcr
from tests.integration.conftest import settings_for
from tests.integration.fixture_base import CertificateAuthority, make_ca, scratch_dir
from tests.integration.registry_fixtures import (
    RegistryServer,
    TokenServer,
    push_image,
    start_registry,
)

TAGS = ["1.0.0", "1.1.0"]


def _with_image(server: RegistryServer) -> RegistryServer:
    with server.push_client() as client:
        push_image(client, server.url, "team/app", TAGS)
    return server


@pytest.fixture(scope="session")
def cloud_registry() -> Iterator[RegistryServer]:
    server = start_registry("token")
    try:
        yield _with_image(server)
    finally:
        server.stop()


@pytest.fixture(scope="session")
def acr_registry() -> Iterator[RegistryServer]:
    server = start_registry("acr")
    try:
        yield _with_image(server)
    finally:
        server.stop()


@pytest.fixture
def tokens(cloud_registry: RegistryServer) -> Iterator[TokenServer]:
    """``cloud_registry``'s token server, its cloud users and refusals reset after the test."""
    server = cloud_registry.token_server
    assert server is not None
    users = dict(server.users)
    yield server
    server.users = users
    server.refuse_basic.clear()


@pytest.fixture(scope="session")
def moto() -> Iterator[MotoEcr]:
    server = MotoEcr()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def ca() -> CertificateAuthority:
    return make_ca(scratch_dir("cloud-ca-"))


@pytest.fixture
def entra(ca: CertificateAuthority, acr_registry: RegistryServer) -> Iterator[EntraStandIn]:
    front = acr_registry.token_server
    assert front is not None
    stand_in = EntraStandIn(ca, front.entra_tokens.add)
    try:
        yield stand_in
    finally:
        stand_in.stop()
        front.revoke_refresh_tokens()
        front.exchanges.clear()


@pytest.fixture(scope="session")
def gce_metadata() -> Iterator[GceMetadata]:
    stand_in = GceMetadata(GCE_METADATA_SOCKET)
    try:
        yield stand_in
    finally:
        stand_in.stop()


@pytest.fixture
def metadata(
    gce_metadata: GceMetadata, tokens: TokenServer, monkeypatch: pytest.MonkeyPatch
) -> Iterator[GceMetadata]:
    """This machine is on GCE: ADC's ping finds the metadata server, whose tokens the
    registry's token server accepts for ``oauth2accesstoken``."""

    def accept(token: str) -> None:
        tokens.users["oauth2accesstoken"] = token

    gce_metadata.on_token = accept
    gce_metadata.server.requests.clear()
    monkeypatch.setenv("GCE_METADATA_IP", gce_metadata.server.host)
    yield gce_metadata
    gce_metadata.on_token = lambda token: None


class TestClock:
    """A wall clock the test moves: ``clock()`` is now, ``clock.advance(minutes=…)``."""

    __test__ = False

    def __init__(self, start: datetime) -> None:
        self.now = start

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@pytest.fixture
def clock() -> TestClock:
    return TestClock(datetime.now(UTC))


@pytest.fixture
def cache(clock: TestClock) -> CloudCache:
    return CloudCache(now=clock)


async def scan(
    server: RegistryServer, *, provider: str | None, cache: CloudCache, image: str = ""
) -> list[str]:
    """One scan as the daemon makes it: a fresh client for ``server``'s team/app through the
    engine's lister, the cloud logins kept in ``cache``. The tag names, sorted."""
    ref = ImageRef.parse(image or f"{server.host}/team/app")
    target = ScanTarget(image=ref, provider=provider)
    async with open_registry_lister([target], settings=settings_for(server), cloud=cache) as lister:
        listing = await lister.list_tags(target, known={})
    return sorted(tag.name for tag in listing.tags)
