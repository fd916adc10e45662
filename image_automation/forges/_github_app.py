"""GitHub App credentials: an RS256 JWT buys an installation token, kept until it expires.

An installation token lives an hour; minting one per request would double our requests and
GitHub limits how fast Apps may mint. So the token is cached until ``expires_at`` minus a
margin (clock injected, so tests move time instead of waiting), concurrent first requests
share one mint, and a 401 (token revoked early) drops it: ``ForgeHttp`` then retries the
request once with a fresh one. pyjwt and cryptography are imported only when an App is
configured (extra ``image-automation[github-app]``).
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from image_automation.errors import ForgeAuthError, ForgeError
from image_automation.forges._http import ForgeHttp, seg
from image_automation.forges.base import GitHubApp

EXPIRY_MARGIN = 300.0
"""Seconds before ``expires_at`` at which a cached installation token counts as spent."""
_JWT_BACKDATE = 60  # GitHub's advice: allow for clock drift
_JWT_LIFETIME = 540  # under GitHub's ten-minute maximum


class InstallationAuth:
    """``Authorization: Bearer <installation token>`` for one App installation."""

    def __init__(self, app: GitHubApp, *, margin: float = EXPIRY_MARGIN) -> None:
        self._app = app
        self._margin = margin
        self._token = ""
        self._expires = 0.0
        self._jwt = ""
        self._lock = asyncio.Lock()
        self.minted = 0
        """How many installation tokens this auth has bought (tests count them)."""

    def __repr__(self) -> str:
        return f"InstallationAuth(app_id={self._app.app_id!r})"

    async def headers(self, http: ForgeHttp) -> Mapping[str, str]:
        return {"Authorization": f"Bearer {await self._current(http)}"}

    async def refresh(self, http: ForgeHttp) -> bool:
        self._token, self._expires = "", 0.0
        return True

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self._token, self._jwt, self._app.private_key_pem) if s)

    async def _current(self, http: ForgeHttp) -> str:
        if self._fresh(http):
            return self._token
        async with self._lock:
            if not self._fresh(http):  # else a request we waited for minted one
                await self._mint(http)
        return self._token

    def _fresh(self, http: ForgeHttp) -> bool:
        return bool(self._token) and http.clock.time() < self._expires - self._margin

    async def _mint(self, http: ForgeHttp) -> None:
        self._jwt = app_jwt(self._app, now=http.clock.time())
        path = f"/app/installations/{seg(self._app.installation_id)}/access_tokens"
        reply = await http.request(
            "POST",
            path,
            auth_headers={"Authorization": f"Bearer {self._jwt}"},
            idempotent=True,  # a second token is harmless, unlike a second pull request
            ok=frozenset({201}),
        )
        data = http.decode(reply, f"POST {path}")
        token, expires = http.parse(f"POST {path}", lambda: _token_of(data))
        self._token, self._expires = token, expires
        self.minted += 1


def _token_of(data: Any) -> tuple[str, float]:
    token = data["token"]
    if not isinstance(token, str) or not token:
        raise ValueError("no token")
    expires = datetime.fromisoformat(str(data["expires_at"]).replace("Z", "+00:00"))
    return token, expires.timestamp()


def app_jwt(app: GitHubApp, *, now: float) -> str:
    """The App's own short-lived JWT (RS256, ``iss`` = App id)."""
    try:
        import jwt
    except ImportError:  # pragma: no cover - the test extra installs it
        raise ForgeError(
            "github: GitHub App credentials need pyjwt and cryptography "
            "(pip install 'image-automation[github-app]')"
        ) from None
    issued = int(now) - _JWT_BACKDATE
    claims = {"iat": issued, "exp": int(now) + _JWT_LIFETIME, "iss": str(app.app_id)}
    try:
        return jwt.encode(claims, app.private_key_pem, algorithm="RS256")
    except (ValueError, TypeError, jwt.PyJWTError):
        # The key's text must never reach a message: say only what is wrong with it.
        raise ForgeAuthError(
            f"github: the private key of GitHub App {app.app_id} is not an RSA key in PEM form"
        ) from None


__all__ = ["EXPIRY_MARGIN", "InstallationAuth", "app_jwt"]
