"""Optional credentials for the status page and its API: a bearer token, basic auth, or both.

Pure: the secret and a request's ``Authorization`` header in, allowed or not out. Comparisons
take constant time (``hmac.compare_digest``) so a timing does not tell how much of a guess was
right. The secret's values never appear in a repr, a log line or a response.
"""

from __future__ import annotations

import base64
import binascii
import hmac
from dataclasses import dataclass, field

REALM = "image-automation status"
MAX_HEADER = 8 * 1024


@dataclass(frozen=True, slots=True)
class StatusAuth:
    """No credential configured means the page is open (it is read-only and shows no secret)."""

    token: str | None = field(default=None, repr=False)
    username: str | None = None
    password: str | None = field(default=None, repr=False)

    @property
    def enabled(self) -> bool:
        return bool(self.token) or bool(self.username and self.password)

    @property
    def challenge(self) -> str:
        """The ``WWW-Authenticate`` of a 401 (Basic makes a browser ask for a login)."""
        if self.username and self.password:
            return f'Basic realm="{REALM}", charset="UTF-8"'
        return f'Bearer realm="{REALM}"'

    def allows(self, authorization: str | None) -> bool:
        """True when no credential is configured or ``authorization`` carries a right one."""
        if not self.enabled:
            return True
        if not authorization or len(authorization) > MAX_HEADER:
            return False
        scheme, _, value = authorization.strip().partition(" ")
        value = value.strip()
        if scheme.lower() == "bearer" and self.token:
            return _same(value, self.token)
        if scheme.lower() == "basic" and self.username and self.password:
            pair = _basic(value)
            if pair is None:
                return False
            user_ok = _same(pair[0], self.username)
            return _same(pair[1], self.password) and user_ok
        return False


def _basic(value: str) -> tuple[str, str] | None:
    try:
        text = base64.b64decode(value, validate=True).decode("utf-8")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    user, sep, password = text.partition(":")
    return (user, password) if sep else None


def _same(given: str, expected: str) -> bool:
    return hmac.compare_digest(given.encode("utf-8", "replace"), expected.encode("utf-8"))


__all__ = ["REALM", "StatusAuth"]
