"""The registry client against Debian's docker-registry in all four auth set-ups."""

from __future__ import annotations

import datetime as dt
import uuid
from collections.abc import Callable

import pytest

from image_automation.errors import RegistryError
from image_automation.registry import (
    Credential,
    Platform,
    RegistryClient,
    RegistrySettings,
    StaticCredentials,
)
from tests.integration.conftest import LeakCheck, settings_for
from tests.integration.registry_fixtures import (
    SECRETS,
    USERNAME,
    RegistryServer,
    push_image,
    push_index,
)

pytestmark = pytest.mark.integration
MakeClient = Callable[..., RegistryClient]


def _repo() -> str:
    return f"it/{uuid.uuid4().hex[:10]}"


async def test_lists_every_tag_in_each_setup(
    any_registry: RegistryServer, registry_client_for: MakeClient
) -> None:
    repo = _repo()
    tags = [f"1.{i}.0" for i in range(25)] + ["latest"]
    with any_registry.push_client() as push:
        push_image(push, any_registry.url, repo, tags)
    async with registry_client_for(any_registry) as client:
        listing = await client.list_tags(f"{any_registry.host}/{repo}")
    assert sorted(listing.tags) == sorted(tags)
    assert listing.dropped_invalid == 0
    assert listing.pages == 1


async def test_steady_state_costs_one_request_per_listing(
    any_registry: RegistryServer, registry_client_for: MakeClient
) -> None:
    repo = _repo()
    with any_registry.push_client() as push:
        push_image(push, any_registry.url, repo, ["a", "b"])
    async with registry_client_for(any_registry) as client:
        first = await client.list_tags(f"{any_registry.host}/{repo}")
        second = await client.list_tags(f"{any_registry.host}/{repo}")
    # The first listing may pay for the auth handshake; later ones never do.
    expected_first = {"anonymous": 1, "tls": 1, "basic": 2, "token": 3}[any_registry.setup]
    assert first.requests == expected_first
    assert second.requests == 1
    assert client.requests == expected_first + 1


@pytest.mark.parametrize("media", ["oci", "docker"])
async def test_digest_by_head_matches_the_pushed_manifest(
    any_registry: RegistryServer, registry_client_for: MakeClient, media: str
) -> None:
    repo = _repo()
    with any_registry.push_client() as push:
        pushed = push_image(push, any_registry.url, repo, ["v1"], media=media)  # type: ignore[arg-type]
    async with registry_client_for(any_registry) as client:
        digest = await client.head_digest(f"{any_registry.host}/{repo}", "v1")
        manifest = await client.get_manifest(f"{any_registry.host}/{repo}", digest)
    assert digest == pushed.digest
    assert manifest.media_type == pushed.media_type
    assert manifest.config_digest == pushed.config_digest


async def test_created_comes_from_the_config_and_index_picks_the_platform(
    any_registry: RegistryServer, registry_client_for: MakeClient
) -> None:
    repo = _repo()
    amd = dt.datetime(2024, 2, 1, 12, 0, tzinfo=dt.UTC)
    arm = dt.datetime(2024, 3, 1, 8, 30, tzinfo=dt.UTC)
    with any_registry.push_client() as push:
        push_index(
            push,
            any_registry.url,
            repo,
            ["multi"],
            platforms={"linux/amd64": amd, "linux/arm64": arm},
        )
        push_image(push, any_registry.url, repo, ["single"], created=amd, media="docker")
    image = f"{any_registry.host}/{repo}"
    async with registry_client_for(any_registry) as client:
        assert await client.image_created(image, "multi") == amd
        assert await client.image_created(image, "multi", Platform.parse("linux/arm64")) == arm
        assert await client.image_created(image, "single") == amd
        before = client.requests
        # Manifests and configs are cached by digest: asking again costs one HEAD.
        assert await client.image_created(image, "multi", Platform.parse("linux/arm64")) == arm
        assert client.requests == before + 1


async def test_unknown_repository_is_an_error_naming_the_image(
    any_registry: RegistryServer, registry_client_for: MakeClient, leak_check: LeakCheck
) -> None:
    image = f"{any_registry.host}/it/does-not-exist"
    async with registry_client_for(any_registry) as client:
        with leak_check.raises(RegistryError, match="it/does-not-exist") as info:
            await client.list_tags(image)
    assert "not found" in str(info.value) or "refused" in str(info.value)


async def test_unknown_tag_is_an_error_naming_the_tag(
    registry_anonymous: RegistryServer, registry_client_for: MakeClient, leak_check: LeakCheck
) -> None:
    repo = _repo()
    with registry_anonymous.push_client() as push:
        push_image(push, registry_anonymous.url, repo, ["v1"])
    async with registry_client_for(registry_anonymous) as client:
        with leak_check.raises(RegistryError, match="tag nope"):
            await client.head_digest(f"{registry_anonymous.host}/{repo}", "nope")


@pytest.mark.parametrize("setup", ["basic", "token"])
async def test_missing_or_wrong_credentials_are_refused_clearly(
    setup: str, request: pytest.FixtureRequest, leak_check: LeakCheck
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{setup}")
    repo = _repo()
    with server.push_client() as push:
        push_image(push, server.url, repo, ["v1"])
    image = f"{server.host}/{repo}"
    wrong = StaticCredentials({server.host: Credential(USERNAME, "wrong-password-123")})
    SECRETS.add("wrong-password-123")
    for creds in (None, wrong):
        async with RegistryClient(settings=settings_for(server), credentials=creds) as client:
            with leak_check.raises(RegistryError, match=repo):
                await client.list_tags(image)


async def test_token_setup_accepts_an_identity_token(registry_token: RegistryServer) -> None:
    assert registry_token.token_server is not None
    identity = registry_token.token_server.add_identity_token(USERNAME)
    repo = _repo()
    with registry_token.push_client() as push:
        push_image(push, registry_token.url, repo, ["v1", "v2"])
    creds = StaticCredentials({registry_token.host: Credential(identity_token=identity)})
    async with RegistryClient(settings=settings_for(registry_token), credentials=creds) as client:
        listing = await client.list_tags(f"{registry_token.host}/{repo}")
    assert sorted(listing.tags) == ["v1", "v2"]


class _FakeClock:
    """Real sleeps (zero), fake monotonic time that a test moves forward."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.now += seconds


async def test_token_is_reused_until_it_expires_then_refreshed(
    registry_token: RegistryServer, registry_client_for: MakeClient
) -> None:
    server = registry_token.token_server
    assert server is not None
    repo = _repo()
    with registry_token.push_client() as push:
        push_image(push, registry_token.url, repo, ["v1"])
    clock = _FakeClock()
    image = f"{registry_token.host}/{repo}"
    async with registry_client_for(registry_token, clock=clock) as client:
        await client.list_tags(image)
        issued = server.requests
        for _ in range(3):
            assert (await client.list_tags(image)).requests == 1
        assert server.requests == issued
        clock.now += server.expires_in + 1
        # Expired: one token request up front (the host's challenge is remembered), no 401.
        assert (await client.list_tags(image)).requests == 2
        assert server.requests == issued + 1


async def test_tls_without_our_ca_fails_and_with_it_succeeds(
    registry_tls: RegistryServer, leak_check: LeakCheck
) -> None:
    repo = _repo()
    with registry_tls.push_client() as push:
        push_image(push, registry_tls.url, repo, ["v1"])
    image = f"{registry_tls.host}/{repo}"
    settings = RegistrySettings.model_validate({"retry": {"attempts": 1}})
    async with RegistryClient(settings=settings) as client:
        with leak_check.raises(RegistryError, match="TLS certificate of .* is not trusted"):
            await client.list_tags(image)
    skip_verify = settings.with_host(registry_tls.host, tls_verify=False)
    async with RegistryClient(settings=skip_verify) as client:
        assert (await client.list_tags(image)).tags == ("v1",)


async def test_mutual_tls_client_certificate_from_settings(
    registry_mtls: RegistryServer, leak_check: LeakCheck
) -> None:
    ca = registry_mtls.ca
    assert ca is not None
    repo = _repo()
    with registry_mtls.push_client() as push:
        push_image(push, registry_mtls.url, repo, ["v1", "v2"])
    image = f"{registry_mtls.host}/{repo}"
    trusted = RegistrySettings.model_validate({"retry": {"attempts": 1}}).with_host(
        registry_mtls.host, ca_file=ca.ca_file
    )
    async with RegistryClient(settings=trusted) as client:
        with leak_check.raises(RegistryError, match=f"{repo}: .*TLS handshake with .* was refused"):
            await client.list_tags(image)  # no client certificate: refused, not retried
    with_cert = trusted.with_host(
        registry_mtls.host, cert_file=ca.client_cert_file, key_file=ca.client_key_file
    )
    async with RegistryClient(settings=with_cert) as client:
        assert sorted((await client.list_tags(image)).tags) == ["v1", "v2"]
