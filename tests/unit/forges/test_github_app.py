"""GitHub App auth: JWT → installation token, cached until expiry, refreshed once on 401."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from image_automation.errors import ForgeAuthError
from image_automation.forges._github_app import EXPIRY_MARGIN, InstallationAuth
from image_automation.forges.base import ForgeSettings, GitHubApp
from image_automation.forges.github import GitHubForge
from tests.unit.forges.mockforge import FakeClock, MockForge, reply

ROOT = "https://api.github.com"
TOKENS = "/app/installations/{installation_id}/access_tokens"
REPO = "/repos/{owner}/{repo}"
NOW = 1_800_000_000.0
LIFETIME = 3600


@pytest.fixture(scope="module")
def key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


@pytest.fixture(scope="module")
def pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock(NOW)


class Minter:
    """The token endpoint: checks the App JWT, hands out ghs_1, ghs_2, ..."""

    def __init__(self, key: rsa.RSAPrivateKey, clock: FakeClock) -> None:
        self.public = key.public_key()
        self.clock = clock
        self.claims: list[dict[str, Any]] = []

    def __call__(self, request: httpx.Request) -> httpx.Response:
        scheme, _, token = request.headers["authorization"].partition(" ")
        assert scheme == "Bearer"
        assert jwt.get_unverified_header(token)["alg"] == "RS256"
        claims = jwt.decode(
            token,
            self.public,
            algorithms=["RS256"],
            options={"verify_exp": False, "verify_iat": False},
        )
        assert claims["iss"] == "4242"
        assert claims["iat"] <= self.clock.now < claims["exp"]
        assert claims["exp"] - claims["iat"] <= 600  # GitHub's ten-minute maximum
        self.claims.append(claims)
        expires = datetime.fromtimestamp(self.clock.now + LIFETIME, UTC)
        body = {
            "token": f"ghs_{len(self.claims)}",
            "expires_at": expires.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        return httpx.Response(201, json=body)


@pytest.fixture
def gh() -> MockForge:
    return MockForge("github", ROOT)


@pytest.fixture
async def app_forge(gh: MockForge, clock: FakeClock, pem: str) -> AsyncIterator[GitHubForge]:
    app = GitHubApp(app_id="4242", installation_id=77, private_key_pem=pem)
    client = GitHubForge(
        ForgeSettings("github", ROOT, "org/fleet", app=app), transport=gh.transport, clock=clock
    )
    yield client
    await client.aclose()


def _repo(gh: MockForge) -> Any:
    return gh.sample("GET", REPO, default_branch="main")


def _auth(forge: GitHubForge) -> InstallationAuth:
    auth = forge.http.auth
    assert isinstance(auth, InstallationAuth)
    return auth


async def test_the_installation_token_is_minted_once_and_reused(
    gh: MockForge, app_forge: GitHubForge, key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    gh.on("POST", TOKENS, Minter(key, clock))
    gh.on("GET", REPO, reply(200, _repo(gh)))
    await app_forge.default_branch()
    await app_forge.default_branch()
    assert [s.template for s in gh.seen] == [TOKENS, REPO, REPO]
    assert gh.seen[0].path == "/app/installations/77/access_tokens"
    assert gh.seen[0].body is None  # no narrowing: the installation's own grant
    assert all(s.headers["authorization"] == "Bearer ghs_1" for s in gh.seen[1:])


async def test_a_token_near_expiry_is_replaced(
    gh: MockForge, app_forge: GitHubForge, key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    minter = Minter(key, clock)
    gh.on("POST", TOKENS, minter)
    gh.on("GET", REPO, reply(200, _repo(gh)))
    await app_forge.default_branch()
    clock.now += LIFETIME - EXPIRY_MARGIN - 1  # still fresh
    await app_forge.default_branch()
    assert len(minter.claims) == 1
    clock.now += 2  # inside the margin
    await app_forge.default_branch()
    assert len(minter.claims) == 2
    assert gh.seen[-1].headers["authorization"] == "Bearer ghs_2"


async def test_a_401_refreshes_the_token_and_retries_once(
    gh: MockForge, app_forge: GitHubForge, key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    minter = Minter(key, clock)
    gh.on("POST", TOKENS, minter)
    revoked = reply(401, {"message": "Bad credentials", "documentation_url": "https://d"})
    gh.on("GET", REPO, revoked, reply(200, _repo(gh)))
    assert await app_forge.default_branch() == "main"
    assert len(minter.claims) == 2
    assert [s.headers["authorization"] for s in gh.calls("GET", REPO)] == [
        "Bearer ghs_1",
        "Bearer ghs_2",
    ]


async def test_a_401_that_persists_is_an_auth_error_not_a_loop(
    gh: MockForge, app_forge: GitHubForge, key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    minter = Minter(key, clock)
    gh.on("POST", TOKENS, minter)
    gh.on("GET", REPO, reply(401, {"message": "Bad credentials", "documentation_url": "https://d"}))
    with pytest.raises(ForgeAuthError):
        await app_forge.default_branch()
    assert len(minter.claims) == 2 and len(gh.calls("GET", REPO)) == 2


async def test_a_refused_jwt_is_an_auth_error(gh: MockForge, app_forge: GitHubForge) -> None:
    gh.on("POST", TOKENS, reply(401, {"message": "A JSON web token could not be decoded"}))
    with pytest.raises(ForgeAuthError, match="401"):
        await app_forge.default_branch()
    assert len(gh.seen) == 1


async def test_concurrent_first_requests_share_one_mint(
    gh: MockForge, app_forge: GitHubForge, key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    minter = Minter(key, clock)
    gh.on("POST", TOKENS, minter)
    gh.on("GET", REPO, reply(200, _repo(gh)))
    await asyncio.gather(*(app_forge.default_branch() for _ in range(5)))
    assert len(minter.claims) == 1


async def test_tokens_the_forge_echoes_are_masked(
    gh: MockForge, app_forge: GitHubForge, key: rsa.RSAPrivateKey, clock: FakeClock
) -> None:
    gh.on("POST", TOKENS, Minter(key, clock))
    gh.on(
        "GET", REPO, reply(404, {"message": "no repo for ghs_1", "documentation_url": "https://d"})
    )
    with pytest.raises(Exception) as caught:
        await app_forge.default_branch()
    assert "ghs_1" not in str(caught.value)


@pytest.mark.parametrize(
    "pem",
    ["not a key", "-----BEGIN RSA PRIVATE KEY-----\nSECRETBITS\n-----END RSA PRIVATE KEY-----\n"],
)
async def test_a_bad_private_key_is_refused_without_showing_it(gh: MockForge, pem: str) -> None:
    app = GitHubApp(app_id="4242", installation_id=77, private_key_pem=pem)
    client = GitHubForge(
        ForgeSettings("github", ROOT, "org/fleet", app=app),
        transport=gh.transport,
        clock=FakeClock(),
    )
    try:
        with pytest.raises(ForgeAuthError, match="not an RSA key") as caught:
            await client.default_branch()
    finally:
        await client.aclose()
    assert "SECRETBITS" not in str(caught.value) and "SECRETBITS" not in repr(caught.value)
    assert gh.seen == []
