"""Is this Pub/Sub push from Google, for us? The OIDC token check of Flux's ``gcr`` receiver.

A Pub/Sub push subscription with authentication sends ``Authorization: Bearer <JWT>``: an
OpenID Connect ID token signed by Google (RS256, keys published as a JWK set). As Flux does
(notification-controller 1.8.3 and later), the token must be signed by one of Google's keys,
issued by ``accounts.google.com``, for the ``audience`` the subscription was given, and its
``email`` must be the subscription's service account, verified. The receiver's secret holds
the expected ``email`` and ``audience`` next to its ``token``.

Pure: the keys and the time come in as arguments (the daemon fetches and caches the keys,
:mod:`image_automation.daemon.google_keys`). pyjwt and cryptography do the signature; they are
imported only here, when a ``gcr`` receiver is called (extra ``gcp``).
"""

from __future__ import annotations

import base64
import hmac
import json
from collections.abc import Mapping
from typing import Any

from image_automation.daemon._payloads import MAX_TEXT

GOOGLE_ISSUERS = frozenset({"accounts.google.com", "https://accounts.google.com"})
LEEWAY = 60.0
"""Seconds of clock skew allowed on ``exp`` and ``iat``."""
MAX_TOKEN = 8192
"""Longest bearer token considered (Google's ID tokens are about 1 KiB)."""
EXTRA_HINT = "install image-automation[gcp] (pyjwt, cryptography)"


def bearer_token(authorization: str | None) -> str | None:
    """The token of ``Authorization: Bearer <token>``, when it looks like a JWT."""
    if not authorization or len(authorization) > MAX_TOKEN + 7:
        return None
    scheme, _, token = authorization.strip().partition(" ")
    token = token.strip()
    if scheme.lower() != "bearer" or token.count(".") != 2:
        return None
    return token


def key_id(authorization: str | None) -> str | None:
    """The unverified ``kid`` of the bearer token: which key to have at hand, nothing more."""
    token = bearer_token(authorization)
    if token is None:
        return None
    try:
        header = json.loads(_b64(token.split(".", 1)[0]))
    except (ValueError, UnicodeDecodeError):
        return None
    kid = header.get("kid") if isinstance(header, dict) else None
    return kid if isinstance(kid, str) and 0 < len(kid) <= 256 else None


def check_google_token(
    authorization: str | None,
    *,
    keys: Mapping[str, Mapping[str, Any]],
    audience: str,
    email: str,
    now: float,
) -> str | None:
    """``None`` when the token passes, else why not (never quoting the token)."""
    token = bearer_token(authorization)
    if token is None:
        return "missing Authorization: Bearer <ID token>"
    try:
        import jwt
    except ImportError:
        return f"gcr receivers check Google's signature: {EXTRA_HINT}"
    try:
        header = jwt.get_unverified_header(token)
        if header.get("alg") != "RS256":
            return "the token is not signed with RS256"
        jwk = keys.get(str(header.get("kid")))
        if jwk is None:
            return "the token's key is not one of Google's"
        key = jwt.PyJWK(dict(jwk), algorithm="RS256").key
        claims = jwt.decode(
            token,
            key,
            algorithms=["RS256"],
            audience=audience,
            options={"verify_exp": False, "verify_iat": False, "verify_nbf": False,
                     "require": ["exp", "iat", "iss", "aud"]},
        )  # fmt: skip
    except jwt.InvalidAudienceError:
        return "the token is for another audience"
    except (jwt.PyJWTError, ValueError, TypeError):
        return "the token's signature or claims are invalid"
    return _claims_problem(claims, email=email, now=now)


def _claims_problem(claims: dict[str, Any], *, email: str, now: float) -> str | None:
    if claims.get("iss") not in GOOGLE_ISSUERS:
        return "the token is not issued by Google"
    expires, issued = _number(claims.get("exp")), _number(claims.get("iat"))
    if expires is None or issued is None:
        return "the token has no valid exp/iat"
    if now > expires + LEEWAY:
        return "the token has expired"
    if issued > now + LEEWAY:
        return "the token is issued in the future"
    given = claims.get("email")
    if not isinstance(given, str) or len(given) > MAX_TEXT or not _same(email, given):
        return "the token's email is not the subscription's service account"
    if claims.get("email_verified") is not True:
        return "the token's email is not verified"
    return None


def _same(expected: str, given: str) -> bool:
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def _number(value: Any) -> float | None:
    if isinstance(value, int | float) and not isinstance(value, bool):
        return float(value)
    return None


def _b64(part: str) -> bytes:
    return base64.urlsafe_b64decode(part + "=" * (-len(part) % 4))


__all__ = ["GOOGLE_ISSUERS", "LEEWAY", "bearer_token", "check_google_token", "key_id"]
