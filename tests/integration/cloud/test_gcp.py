"""Artifact Registry / GCR: google-auth's real Application Default Credentials against a
local metadata server (``GCE_METADATA_IP`` + ``GCE_METADATA_HOST``) and a service-account
key file signed locally for a local token endpoint; the access token, as the password of
``oauth2accesstoken``, then opens our real test registry."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import NoCloudCredentials
from image_automation.registry import CloudCache, CloudCredentials
from tests.integration.cloud.conftest import TAGS, TestClock, scan
from tests.integration.cloud_fixtures import GceMetadata, GoogleKeyFile
from tests.integration.conftest import LeakCheck
from tests.integration.registry_fixtures import RegistryServer, TokenServer

pytestmark = pytest.mark.integration


@pytest.fixture
def on_gce(metadata: GceMetadata) -> GceMetadata:
    return metadata


async def test_a_metadata_server_token_opens_the_registry(
    on_gce: GceMetadata, cloud_registry: RegistryServer, cache: CloudCache
) -> None:
    assert await scan(cloud_registry, provider="gcp", cache=cache) == TAGS
    assert on_gce.token_requests() == 1
    assert on_gce.server.seen("/")  # ADC found the metadata server by its own ping


async def test_the_access_token_is_renewed_near_its_expiry(
    on_gce: GceMetadata, cloud_registry: RegistryServer, cache: CloudCache, clock: TestClock
) -> None:
    await scan(cloud_registry, provider="gcp", cache=cache)
    clock.advance(minutes=50)  # an hour's token, renewed 6 minutes before its end
    await scan(cloud_registry, provider="gcp", cache=cache)
    assert on_gce.token_requests() == 1
    clock.advance(minutes=5)
    assert await scan(cloud_registry, provider="gcp", cache=cache) == TAGS
    assert on_gce.token_requests() == 2


async def test_a_refused_access_token_is_renewed_once(
    on_gce: GceMetadata, cloud_registry: RegistryServer, tokens: TokenServer, cache: CloudCache
) -> None:
    await scan(cloud_registry, provider="gcp", cache=cache)
    tokens.refuse_basic["oauth2accesstoken"] = 1
    assert await scan(cloud_registry, provider="gcp", cache=cache) == TAGS
    assert on_gce.token_requests() == 2


async def test_a_service_account_key_file_signs_for_a_token(
    cloud_registry: RegistryServer, tokens: TokenServer, cache: CloudCache, tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:  # fmt: skip
    def accept(token: str) -> None:
        tokens.users["oauth2accesstoken"] = token

    key = GoogleKeyFile(tmp_path, accept)
    try:
        monkeypatch.setenv("GOOGLE_APPLICATION_CREDENTIALS", str(key.path))
        assert await scan(cloud_registry, provider="gcp", cache=cache) == TAGS
    finally:
        key.stop()
    [claims] = key.assertions  # one assertion, verified with the key's public half
    assert claims["scope"] == "https://www.googleapis.com/auth/cloud-platform"


async def test_provider_gcp_without_credentials_is_an_error(
    cache: CloudCache, leak_check: LeakCheck
) -> None:  # the suite's environment: no key file, the metadata ping is refused
    with leak_check.raises(NoCloudCredentials, match="no Google Application Default"):
        await CloudCredentials("gcp", cache=cache).credential_for("europe-docker.pkg.dev")


async def test_a_detected_google_host_without_credentials_is_read_anonymously(
    cache: CloudCache,
) -> None:  # public images on gcr.io must keep working off Google Cloud
    source = CloudCredentials(cache=cache)
    assert await source.credential_for("gcr.io") is None
    assert await source.credential_for("gcr.io") is None
    assert cache.logins == 1
