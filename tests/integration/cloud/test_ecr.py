"""ECR: boto3's real credential chain and GetAuthorizationToken against moto in server mode;
the token it hands out then opens our real test registry (its token server accepts it, as
ECR accepts its own). Expiry by the test clock (moto's tokens all expire 2015-01-01, so the
clock starts 12 hours before that); a refused token is renewed once."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from image_automation.cli._commands import register
from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import ScanTarget, scan_repositories
from image_automation.errors import NoCloudCredentials, RegistryAuthError, RegistryError
from image_automation.registry import CloudCache, CloudCredentials
from image_automation.state.sqlite import SqliteStore
from tests.integration.cloud.conftest import TAGS, TestClock, scan
from tests.integration.cloud_fixtures import MotoEcr
from tests.integration.conftest import LeakCheck, settings_for
from tests.integration.fixture_base import SECRETS
from tests.integration.registry_fixtures import RegistryServer, TokenServer
from tests.integration.stub_server import Answer, StubServer

pytestmark = pytest.mark.integration

MOTO_EXPIRY = datetime(2015, 1, 1, tzinfo=UTC)  # what moto says of every token
PRIVATE = "210987654321.dkr.ecr.eu-west-1.amazonaws.com"


@pytest.fixture
def aws(moto: MotoEcr, monkeypatch: pytest.MonkeyPatch) -> MotoEcr:
    """Static keys in the environment: the first link of the chain."""
    for name, value in moto.env().items():
        monkeypatch.setenv(name, value)
    return moto


@pytest.fixture
def ecr_clock() -> TestClock:
    return TestClock(datetime(2014, 12, 31, 12, 0, tzinfo=UTC))


@pytest.fixture
def ecr_cache(ecr_clock: TestClock) -> CloudCache:
    return CloudCache(now=ecr_clock)


def _accept_ecr(tokens: TokenServer, moto: MotoEcr) -> None:
    tokens.users["AWS"] = moto.issued_password()


async def test_an_ecr_token_from_the_aws_chain_opens_the_registry(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer, ecr_cache: CloudCache
) -> None:
    _accept_ecr(tokens, aws)
    before = len(aws.token_calls())
    assert await scan(cloud_registry, provider="aws", cache=ecr_cache) == TAGS
    assert len(aws.token_calls()) == before + 1
    assert ecr_cache.secrets  # the password is held in memory, and nowhere the leak check sees


async def test_without_provider_aws_the_same_registry_refuses(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer, ecr_cache: CloudCache,
    leak_check: LeakCheck,
) -> None:  # fmt: skip
    _accept_ecr(tokens, aws)
    before = len(aws.token_calls())
    for provider in ("generic", None):  # 127.0.0.1 is no ECR host: nothing to detect
        with leak_check.raises(RegistryError, match="refused"):
            await scan(cloud_registry, provider=provider, cache=ecr_cache)
    assert len(aws.token_calls()) == before


async def test_the_token_is_kept_until_its_expiry_minus_a_margin_then_renewed(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer,
    ecr_cache: CloudCache, ecr_clock: TestClock,
) -> None:  # fmt: skip
    _accept_ecr(tokens, aws)
    before = len(aws.token_calls())
    await scan(cloud_registry, provider="aws", cache=ecr_cache)
    ecr_clock.advance(hours=11, minutes=29)  # 31 minutes left: the margin is 30
    await scan(cloud_registry, provider="aws", cache=ecr_cache)
    assert len(aws.token_calls()) == before + 1
    ecr_clock.advance(minutes=2)  # 29 minutes left: due for renewal
    assert await scan(cloud_registry, provider="aws", cache=ecr_cache) == TAGS
    assert len(aws.token_calls()) == before + 2


async def test_a_refused_token_is_renewed_once_and_the_scan_goes_on(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer, ecr_cache: CloudCache
) -> None:
    _accept_ecr(tokens, aws)
    await scan(cloud_registry, provider="aws", cache=ecr_cache)
    before = len(aws.token_calls())
    tokens.refuse_basic["AWS"] = 1  # the cached token was revoked (or expired early)
    assert await scan(cloud_registry, provider="aws", cache=ecr_cache) == TAGS
    assert len(aws.token_calls()) == before + 1


async def test_a_token_refused_again_after_renewal_fails_the_scan(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer, ecr_cache: CloudCache,
    leak_check: LeakCheck,
) -> None:  # fmt: skip
    _accept_ecr(tokens, aws)
    tokens.refuse_basic["AWS"] = 10
    before = len(aws.token_calls())
    with leak_check.raises(RegistryAuthError, match=re.escape(cloud_registry.host)):
        await scan(cloud_registry, provider="aws", cache=ecr_cache)
    assert len(aws.token_calls()) == before + 2  # the first login and exactly one renewal


async def test_the_host_names_the_account_and_the_region(
    aws: MotoEcr, ecr_cache: CloudCache
) -> None:
    credential = await CloudCredentials(cache=ecr_cache).credential_for(PRIVATE)  # detected
    assert credential is not None
    assert (credential.username, credential.password) == ("AWS", "210987654321-auth-token")
    signed = aws.token_calls()[-1].headers["authorization"]
    assert "/eu-west-1/ecr/aws4_request" in signed  # signed for the host's region
    SECRETS.add(credential.password)


async def test_web_identity_irsa_logs_in_through_sts(
    moto: MotoEcr, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ecr_cache: CloudCache
) -> None:
    for name, value in moto.env(keys=False).items():
        monkeypatch.setenv(name, value)
    token_file = tmp_path / "eks.amazonaws.com" / "token"
    token_file.parent.mkdir()
    token_file.write_text("eyJ-projected-service-account-token")
    SECRETS.add("eyJ-projected-service-account-token")
    monkeypatch.setenv("AWS_ROLE_ARN", "arn:aws:iam::123456789012:role/image-automation")
    monkeypatch.setenv("AWS_WEB_IDENTITY_TOKEN_FILE", str(token_file))
    credential = await CloudCredentials("aws", cache=ecr_cache).credential_for(PRIVATE)
    assert credential is not None and credential.password == "210987654321-auth-token"
    assert "AssumeRoleWithWebIdentity" in moto.sts_actions()


async def test_eks_pod_identity_credentials_sign_the_token_request(
    moto: MotoEcr, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ecr_cache: CloudCache
) -> None:
    pod_secret = "pod-identity-secret-key"
    SECRETS.add(pod_secret)
    agent = StubServer(lambda seen: Answer(200, {
        "AccessKeyId": "AKIAPODIDENTITY00001", "SecretAccessKey": pod_secret,
        "Token": "pod-session-token-value", "Expiration": "2099-01-01T00:00:00Z",
    })).start()  # fmt: skip
    SECRETS.add("pod-session-token-value")
    token_file = tmp_path / "eks-pod-identity-token"
    token_file.write_text("pod-identity-authorization")
    try:
        for name, value in moto.env(keys=False).items():
            monkeypatch.setenv(name, value)
        monkeypatch.setenv("AWS_CONTAINER_CREDENTIALS_FULL_URI", f"{agent.url}/v1/credentials")
        monkeypatch.setenv("AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE", str(token_file))
        credential = await CloudCredentials("aws", cache=ecr_cache).credential_for(PRIVATE)
    finally:
        agent.stop()
    assert credential is not None
    assert agent.requests[0].headers["authorization"] == "pod-identity-authorization"
    assert "Credential=AKIAPODIDENTITY00001/" in moto.token_calls()[-1].headers["authorization"]


async def test_a_shared_config_profile_supplies_the_keys(
    moto: MotoEcr, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, ecr_cache: CloudCache
) -> None:
    for name, value in moto.env(keys=False).items():
        monkeypatch.setenv(name, value)
    config = tmp_path / "config"
    config.write_text(
        "[profile scanner]\nregion = eu-west-1\n"
        "aws_access_key_id = AKIAPROFILEKEY000001\naws_secret_access_key = profile-secret-key\n"
    )
    SECRETS.add("profile-secret-key")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(config))
    monkeypatch.setenv("AWS_PROFILE", "scanner")
    credential = await CloudCredentials("aws", cache=ecr_cache).credential_for(PRIVATE)
    assert credential is not None
    assert "Credential=AKIAPROFILEKEY000001/" in moto.token_calls()[-1].headers["authorization"]


async def test_provider_aws_without_any_aws_identity_is_an_error_naming_the_chain(
    moto: MotoEcr, monkeypatch: pytest.MonkeyPatch, ecr_cache: CloudCache, leak_check: LeakCheck
) -> None:
    for name, value in moto.env(keys=False).items():
        monkeypatch.setenv(name, value)
    with leak_check.raises(NoCloudCredentials, match="no AWS credentials found .*web identity"):
        await CloudCredentials("aws", cache=ecr_cache).credential_for(PRIVATE)


async def test_a_detected_ecr_host_without_identity_is_read_anonymously_and_not_reprobed(
    moto: MotoEcr, monkeypatch: pytest.MonkeyPatch, ecr_cache: CloudCache
) -> None:
    for name, value in moto.env(keys=False).items():
        monkeypatch.setenv(name, value)
    source = CloudCredentials(None, cache=ecr_cache)
    assert await source.credential_for(PRIVATE) is None
    assert await source.credential_for(PRIVATE) is None
    assert ecr_cache.logins == 1


async def test_ecr_public_needs_no_aws_identity(moto: MotoEcr, ecr_cache: CloudCache) -> None:
    before = len(moto.token_calls())
    assert await CloudCredentials("aws", cache=ecr_cache).credential_for("public.ecr.aws") is None
    assert len(moto.token_calls()) == before  # its anonymous tokens come from its challenge


async def test_no_cloud_credential_reaches_the_state_store(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer, ecr_cache: CloudCache,
    tmp_path: Path,
) -> None:  # fmt: skip
    _accept_ecr(tokens, aws)
    target = ScanTarget(ImageRef.parse(f"{cloud_registry.host}/team/app"), provider="aws",
                        needs_metadata=True)  # fmt: skip
    async with (
        await SqliteStore.open(tmp_path / "state.db") as store,
        open_registry_lister(
            [target], settings=settings_for(cloud_registry), cloud=ecr_cache
        ) as lister,  # fmt: skip
    ):
        reports = await scan_repositories(
            [target], lister=lister, store=store, clock=lambda: datetime.now(UTC)
        )
    assert [report.ok for report in reports] == [True]
    stored = b"".join(path.read_bytes() for path in tmp_path.iterdir() if path.is_file())
    assert b"team/app" in stored  # the scan was stored: the grep had something to search
    assert not SECRETS.find_in(stored.decode(errors="replace"))


def test_scan_image_with_provider_aws_logs_in_through_the_chain(
    aws: MotoEcr, tokens: TokenServer, cloud_registry: RegistryServer, leak_check: LeakCheck
) -> None:
    register(root)
    _accept_ecr(tokens, aws)
    image = f"{cloud_registry.host}/team/app"
    results = {
        flag: CliRunner().invoke(root, ["scan", image, "--insecure", *flag])
        for flag in (("--provider", "aws"), ())
    }
    for result in results.values():
        leak_check.record(result.stdout + result.stderr)
    assert results["--provider", "aws"].exit_code == 0
    assert sorted(results["--provider", "aws"].stdout.split()) == TAGS
    assert results[()].exit_code == 1 and "refused" in results[()].stderr
