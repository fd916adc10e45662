"""ACR: azure-identity's real managed identity (App Service and IMDS), workload identity and
client secret paths against local Entra ID and identity endpoints; the Entra token is then
exchanged at the ``acr`` registry's front (``/oauth2/exchange`` → refresh token →
``/oauth2/token``), which stands before our real registry as ACR's one host does."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import NoCloudCredentials, RegistryError
from image_automation.registry import CloudCache, CloudCredentials
from tests.integration.cloud.conftest import TAGS, TestClock, scan
from tests.integration.cloud_fixtures import EntraStandIn
from tests.integration.conftest import LeakCheck
from tests.integration.registry_fixtures import RegistryServer, TokenServer
from tests.integration.stub_server import Answer, StubServer

pytestmark = pytest.mark.integration


def _front(server: RegistryServer) -> TokenServer:
    assert server.token_server is not None
    return server.token_server


def _use(env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> None:
    for name, value in env.items():
        monkeypatch.setenv(name, value)


async def test_an_app_service_managed_identity_opens_the_registry(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _use(entra.env_app_service(), monkeypatch)
    assert await scan(acr_registry, provider="azure", cache=cache) == TAGS
    [exchange] = _front(acr_registry).exchanges
    assert exchange["service"] == acr_registry.host  # the login server, as ACR wants
    assert exchange["tenant"] == entra.tenant  # read from the Entra token's tid claim
    assert exchange["access_token"] == entra.issued[-1]


async def test_a_vm_managed_identity_through_imds(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _use(entra.env_imds(), monkeypatch)
    assert await scan(acr_registry, provider="azure", cache=cache) == TAGS
    assert entra.identity.seen("/metadata/identity/oauth2/token")


async def test_workload_identity_trades_the_federated_token_file(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _use(entra.env_workload_identity(tmp_path), monkeypatch)
    assert await scan(acr_registry, provider="azure", cache=cache) == TAGS
    [token_request] = entra.authority.seen(f"/{entra.tenant}/oauth2/v2.0/token")
    assert token_request.form["client_assertion_type"].endswith("jwt-bearer")
    assert not entra.identity.requests  # managed identity was not needed


async def test_a_client_secret_in_the_environment(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _use(entra.env_client_secret(), monkeypatch)
    assert await scan(acr_registry, provider="azure", cache=cache) == TAGS
    [token_request] = entra.authority.seen(f"/{entra.tenant}/oauth2/v2.0/token")
    assert token_request.form["grant_type"] == "client_credentials"


async def test_the_refresh_token_is_kept_until_near_its_expiry(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache, clock: TestClock,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _use(entra.env_app_service(), monkeypatch)
    front = _front(acr_registry)
    await scan(acr_registry, provider="azure", cache=cache)
    clock.advance(hours=2, minutes=40)  # a 3-hour refresh token: renewed 18 minutes early
    await scan(acr_registry, provider="azure", cache=cache)
    assert len(front.exchanges) == 1
    clock.advance(minutes=5)
    assert await scan(acr_registry, provider="azure", cache=cache) == TAGS
    assert len(front.exchanges) == 2


async def test_a_revoked_refresh_token_is_renewed_once(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    _use(entra.env_app_service(), monkeypatch)
    front = _front(acr_registry)
    await scan(acr_registry, provider="azure", cache=cache)
    front.revoke_refresh_tokens()  # /oauth2/token now answers 401 to the cached one
    assert await scan(acr_registry, provider="azure", cache=cache) == TAGS
    assert len(front.exchanges) == 2


async def test_provider_azure_without_an_identity_is_an_error(
    cache: CloudCache, leak_check: LeakCheck, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A VM whose IMDS has no identity assigned answers 400 (no retries); nothing else is set.
    imds = StubServer(lambda seen: Answer(400, {"error": "invalid_request"})).start()
    try:
        monkeypatch.setenv("AZURE_POD_IDENTITY_AUTHORITY_HOST", imds.url)
        with leak_check.raises(NoCloudCredentials, match="no Entra ID identity"):
            await CloudCredentials("azure", cache=cache).credential_for("team.azurecr.io")
    finally:
        imds.stop()
    assert imds.seen("/metadata/identity/oauth2/token")


async def test_an_exchange_the_registry_refuses_names_the_role(
    entra: EntraStandIn, acr_registry: RegistryServer, cache: CloudCache,
    monkeypatch: pytest.MonkeyPatch, leak_check: LeakCheck,
) -> None:  # fmt: skip
    _use(entra.env_app_service(), monkeypatch)
    entra.on_token = lambda token: None  # the registry does not know this identity
    with leak_check.raises(RegistryError, match="AcrPull"):
        await scan(acr_registry, provider="azure", cache=cache)
