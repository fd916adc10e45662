"""Cloud credentials without a cloud: host detection, the login cache and its clock, the
missing-extra error, and the registry client renewing a refused credential once."""

from __future__ import annotations

import base64
import logging
import sys
from datetime import UTC, datetime, timedelta

import httpx
import pytest

from image_automation.errors import NoCloudCredentials, RegistryError
from image_automation.registry import (
    ChainedCredentials,
    CloudCache,
    CloudCredentials,
    Credential,
    DockerConfig,
    RegistryClient,
    detect_provider,
)
from image_automation.registry.cloud import (
    CloudLogin,
    EcrHost,
    jwt_claims,
    load_provider,
    parse_ecr_host,
)
from image_automation.registry.settings import HostSettings
from tests.integration.conftest import LeakCheck
from tests.integration.registry_fixtures import SECRETS

T0 = datetime(2030, 1, 1, tzinfo=UTC)
OLD, NEW = "cloud-old-token-2a1c", "cloud-new-token-77b3"
for _secret in (OLD, NEW):
    SECRETS.add(_secret)


@pytest.mark.parametrize(
    ("host", "provider"),
    [
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com", "aws"),
        ("123456789012.dkr.ecr-fips.us-gov-west-1.amazonaws.com", "aws"),
        ("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "aws"),
        ("123456789012.dkr-ecr.eu-west-1.on.aws", "aws"),
        ("public.ecr.aws", "aws"),
        ("gcr.io", "gcp"),
        ("eu.gcr.io", "gcp"),
        ("europe-west1-docker.pkg.dev", "gcp"),
        ("team.azurecr.io", "azure"),
        ("Team.AzureCR.io", "azure"),
        ("team.azurecr.cn", "azure"),
        ("docker.io", None),
        ("ghcr.io", None),
        ("127.0.0.1:5000", None),
        ("gcr.io:5000", None),  # a port: someone's own registry, not Google's
        ("evil.gcr.io.example.com", None),
        ("12345.dkr.ecr.eu-west-1.amazonaws.com", None),  # not a 12-digit account
        ("123456789012.dkr.ecr.eu-west-1.amazonaws.com.evil.net", None),
        ("azurecr.io", None),
        ("a.b.azurecr.io", None),
        ("pkg.dev", None),
        ("x" * 10_000 + ".azurecr.io", "azure"),  # huge: still one linear match
    ],
)
def test_the_host_says_which_cloud(host: str, provider: str | None) -> None:
    assert detect_provider(host) == provider


@pytest.mark.parametrize(
    ("host", "parsed"),
    [
        ("210987654321.dkr.ecr.eu-west-1.amazonaws.com", EcrHost("210987654321", "eu-west-1")),
        ("210987654321.dkr-ecr.ap-south-2.on.aws", EcrHost("210987654321", "ap-south-2")),
        ("public.ecr.aws", None),
        ("210987654321.dkr.ecr.eu-west-1.amazonaws.com:443", None),
    ],
)
def test_an_ecr_host_names_its_account_and_region(host: str, parsed: EcrHost | None) -> None:
    assert parse_ecr_host(host) == parsed


def _jwt(payload: bytes) -> str:
    return "e30." + base64.urlsafe_b64encode(payload).decode().rstrip("=") + ".sig"


@pytest.mark.parametrize(
    ("token", "claims"),
    [
        (_jwt(b'{"exp": 1700000000, "tid": "t"}'), {"exp": 1700000000, "tid": "t"}),
        (_jwt(b"[1, 2]"), {}),  # not an object
        (_jwt(b"not json"), {}),
        ("a.%%%.c", {}),
        ("opaque-refresh-token", {}),
        ("", {}),
    ],
)
def test_jwt_claims_are_read_without_trusting_them(token: str, claims: dict[str, object]) -> None:
    assert jwt_claims(token) == claims


class Clock:
    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


class FakeLogin:
    """A provider that hands out ``credentials`` in turn, each valid for ``lifetime``."""

    def __init__(
        self, *credentials: Credential | None, lifetime: timedelta | None, clock: Clock
    ) -> None:
        self.credentials = list(credentials)
        self.lifetime = lifetime
        self.clock = clock
        self.calls = 0
        self.fail: Exception | None = None

    def login(self, registry: str, *, site: HostSettings) -> CloudLogin:
        self.calls += 1
        if self.fail is not None:
            raise self.fail
        expires = None if self.lifetime is None else self.clock() + self.lifetime
        return CloudLogin(self.credentials[min(self.calls, len(self.credentials)) - 1], expires,
                          source="fake")  # fmt: skip


def _setup(
    *credentials: Credential | None, lifetime: timedelta | None = timedelta(hours=12)
) -> tuple[CloudCache, FakeLogin, Clock]:
    clock = Clock()
    fake = FakeLogin(*credentials, lifetime=lifetime, clock=clock)
    return CloudCache(now=clock, providers={"aws": fake}), fake, clock


@pytest.mark.parametrize(
    ("lifetime", "kept"),
    [
        (timedelta(hours=12), timedelta(hours=11, minutes=30)),  # margin capped at 30 min
        (timedelta(hours=1), timedelta(minutes=54)),  # a tenth of the lifetime
        (None, timedelta(minutes=5)),  # expiry unknown: a short default
    ],
)
async def test_a_login_is_kept_until_its_expiry_minus_a_margin(
    lifetime: timedelta | None, kept: timedelta
) -> None:
    cache, fake, clock = _setup(Credential("AWS", OLD), Credential("AWS", NEW), lifetime=lifetime)
    source = CloudCredentials("aws", cache=cache)
    assert await source.credential_for("reg.example") == Credential("AWS", OLD)
    clock.now = T0 + kept - timedelta(seconds=1)
    assert await source.credential_for("reg.example") == Credential("AWS", OLD)
    clock.now = T0 + kept + timedelta(seconds=1)
    assert await source.credential_for("reg.example") == Credential("AWS", NEW)
    assert fake.calls == 2


async def test_an_explicit_provider_without_identity_fails_every_time() -> None:
    cache, fake, _ = _setup()
    fake.fail = NoCloudCredentials("reg.example: no AWS credentials found")
    source = CloudCredentials("aws", cache=cache)
    for _ in range(2):
        with pytest.raises(NoCloudCredentials):
            await source.credential_for("reg.example")
    assert fake.calls == 2  # not cached: the identity may appear (a pod gets its token)


async def test_a_detected_host_without_identity_is_anonymous_for_a_while() -> None:
    cache, fake, clock = _setup(Credential("AWS", NEW))
    fake.fail = NoCloudCredentials("no AWS credentials found")
    source = CloudCredentials(None, cache=cache)
    host = "123456789012.dkr.ecr.eu-west-1.amazonaws.com"
    assert await source.credential_for(host) is None
    assert await source.credential_for(host) is None
    assert fake.calls == 1
    clock.now += timedelta(minutes=11)
    fake.fail = None
    assert await source.credential_for(host) == Credential("AWS", NEW)


async def test_a_registry_error_of_the_cloud_is_not_hidden_by_detection() -> None:
    cache, fake, _ = _setup()
    fake.fail = RegistryError("reg: ECR GetAuthorizationToken refused (AccessDenied)")
    with pytest.raises(RegistryError, match="AccessDenied"):
        await CloudCredentials(None, cache=cache).credential_for("public.ecr.aws")


async def test_forget_drops_only_what_the_cache_issued() -> None:
    cache, fake, _ = _setup(Credential("AWS", OLD), Credential("AWS", NEW))
    source = CloudCredentials("aws", cache=cache)
    old = await source.credential_for("reg.example")
    assert old is not None
    assert not await source.forget("reg.example", Credential("someone", "else"))
    assert await source.forget("reg.example", old)
    assert await source.credential_for("reg.example") == Credential("AWS", NEW)
    assert await source.forget("reg.example", old)  # still ours: a newer one is in place
    assert await source.credential_for("reg.example") == Credential("AWS", NEW)
    assert fake.calls == 2


async def test_chained_sources_pass_forget_on() -> None:
    cache, _, _ = _setup(Credential("AWS", OLD))
    cloud = CloudCredentials("aws", cache=cache)
    chain = ChainedCredentials([DockerConfig(), cloud])
    stale = await chain.credential_for("reg.example")
    assert stale is not None
    assert await chain.forget("reg.example", stale)
    assert not await ChainedCredentials([DockerConfig()]).forget("reg.example", stale)


def test_an_unknown_provider_name_is_refused() -> None:
    with pytest.raises(ValueError, match="unknown cloud provider"):
        CloudCredentials("oracle")


@pytest.mark.parametrize(("provider", "library"), [("aws", "boto3"), ("gcp", "google"),
                                                    ("azure", "azure.identity")])  # fmt: skip
def test_a_missing_extra_is_named(
    provider: str, library: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    module = {"aws": "_cloud_aws", "gcp": "_cloud_gcp", "azure": "_cloud_azure"}[provider]
    monkeypatch.setitem(sys.modules, library, None)  # import fails as if not installed
    monkeypatch.delitem(sys.modules, f"image_automation.registry.{module}", raising=False)
    with pytest.raises(RegistryError, match=rf"pip install 'image-automation\[{provider}\]'"):
        load_provider(provider)


async def test_a_detected_host_without_the_extra_is_read_anonymously_with_one_warning(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setitem(sys.modules, "google", None)
    monkeypatch.delitem(sys.modules, "image_automation.registry._cloud_gcp", raising=False)
    source = CloudCredentials(None, cache=CloudCache())
    with caplog.at_level(logging.WARNING):
        assert await source.credential_for("gcr.io") is None
        assert await source.credential_for("eu.gcr.io") is None
    warnings = [r for r in caplog.records if "image-automation[gcp]" in r.getMessage()]
    assert len(warnings) == 1
    with pytest.raises(RegistryError, match=r"image-automation\[gcp\]"):
        await CloudCredentials("gcp", cache=CloudCache()).credential_for("gcr.io")


def test_importing_the_aws_provider_keeps_botocore_debug_records_off() -> None:
    import image_automation.registry._cloud_aws  # noqa: F401

    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.DEBUG)  # what --log-level debug does
    try:
        assert not logging.getLogger("botocore.parsers").isEnabledFor(logging.DEBUG)
    finally:
        root.setLevel(level)


# -- the registry client: a refused credential is renewed once --------------------------------

HOST = "reg.example"


def _registry(accepted: set[str], seen: list[str]) -> httpx.MockTransport:
    """A Basic-auth registry (as ECR is) accepting the passwords in ``accepted``."""

    def answer(request: httpx.Request) -> httpx.Response:
        header = request.headers.get("authorization", "")
        seen.append(header)
        if header.startswith("Basic "):
            password = base64.b64decode(header[6:]).decode().partition(":")[2]
            if password in accepted:
                return httpx.Response(200, json={"name": "team/app", "tags": ["1.0.0"]})
        return httpx.Response(401, headers={"WWW-Authenticate": f'Basic realm="{HOST}"'})

    return httpx.MockTransport(answer)


async def test_a_refused_cloud_credential_is_renewed_once(leak_check: LeakCheck) -> None:
    cache, fake, _ = _setup(Credential("AWS", OLD), Credential("AWS", NEW))
    seen: list[str] = []
    creds = CloudCredentials("aws", cache=cache)
    async with RegistryClient(credentials=creds, transport=_registry({NEW}, seen)) as client:
        listing = await client.list_tags(f"{HOST}/team/app")
    assert listing.tags == ("1.0.0",)
    assert fake.calls == 2


async def test_a_credential_refused_after_renewal_is_an_error(leak_check: LeakCheck) -> None:
    cache, fake, _ = _setup(Credential("AWS", OLD), Credential("AWS", NEW))
    seen: list[str] = []
    creds = CloudCredentials("aws", cache=cache)
    async with RegistryClient(credentials=creds, transport=_registry(set(), seen)) as client:
        with leak_check.raises(RegistryError, match="refused"):
            await client.list_tags(f"{HOST}/team/app")
    assert fake.calls == 2  # one renewal, no loop


async def test_a_fixed_credential_is_not_asked_again(leak_check: LeakCheck) -> None:
    config = DockerConfig.from_dict(
        {"auths": {HOST: {"auth": base64.b64encode(f"u:{OLD}".encode()).decode()}}}
    )
    seen: list[str] = []
    async with RegistryClient(credentials=config, transport=_registry(set(), seen)) as client:
        with leak_check.raises(RegistryError, match="refused"):
            await client.list_tags(f"{HOST}/team/app")
    assert len(seen) == 2  # anonymous, then Basic once: as before cloud credentials existed


async def test_a_token_service_refusal_renews_the_credential(leak_check: LeakCheck) -> None:
    cache, fake, _ = _setup(Credential("oauth2accesstoken", OLD),
                            Credential("oauth2accesstoken", NEW))  # fmt: skip

    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/token":
            header = request.headers.get("authorization", "")
            ok = header == httpx.BasicAuth("oauth2accesstoken", NEW)._auth_header
            return httpx.Response(200, json={"token": "registry-token-ok"}) if ok else \
                httpx.Response(401)  # fmt: skip
        if request.headers.get("authorization") == "Bearer registry-token-ok":
            return httpx.Response(200, json={"name": "team/app", "tags": ["2.0.0"]})
        challenge = f'Bearer realm="https://{HOST}/token",service="{HOST}"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    SECRETS.add("registry-token-ok")
    creds = CloudCredentials("gcp", cache=CloudCache(now=cache._now, providers={"gcp": fake}))
    async with RegistryClient(credentials=creds, transport=httpx.MockTransport(answer)) as c:
        assert (await c.list_tags(f"{HOST}/team/app")).tags == ("2.0.0",)
    assert fake.calls == 2


async def test_ecr_public_is_read_with_its_anonymous_tokens() -> None:
    def answer(request: httpx.Request) -> httpx.Response:
        if request.url.host == "public.ecr.aws" and request.url.path == "/token/":
            assert "authorization" not in request.headers
            return httpx.Response(200, json={"token": "anonymous-ecr-public"})
        if request.headers.get("authorization") == "Bearer anonymous-ecr-public":
            return httpx.Response(200, json={"name": "lambda/python", "tags": ["3.12"]})
        challenge = 'Bearer realm="https://public.ecr.aws/token/",service="public.ecr.aws"'
        return httpx.Response(401, headers={"WWW-Authenticate": challenge})

    cache = CloudCache()  # the real EcrLogin: public.ecr.aws needs no AWS identity
    creds = CloudCredentials("aws", cache=cache)
    async with RegistryClient(credentials=creds, transport=httpx.MockTransport(answer)) as c:
        assert (await c.list_tags("public.ecr.aws/lambda/python")).tags == ("3.12",)
    assert cache.logins == 1
