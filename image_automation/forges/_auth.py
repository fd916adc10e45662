"""Credentials for a forge API, and the settings that decide where they may be sent.

An API root with userinfo, a query or a foreign scheme, or a token with a line break in it,
is refused before anything is sent (a line break in a header value is header injection);
none of them is ever echoed. :class:`StaticAuth` keeps its header value out of ``repr``.
"""

from __future__ import annotations

import base64
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

import httpx

from image_automation.errors import ForgeError
from image_automation.forges.base import ForgeSettings

if TYPE_CHECKING:
    from image_automation.forges._http import ForgeHttp


class Auth(Protocol):
    """Where a request's credentials come from."""

    async def headers(self, http: ForgeHttp) -> Mapping[str, str]: ...

    async def refresh(self, http: ForgeHttp) -> bool:
        """Drop a cached credential after a 401; True if retrying can help."""
        ...

    def secrets(self) -> tuple[str, ...]: ...


@dataclass(frozen=True, slots=True)
class StaticAuth:
    """A fixed header (``Authorization: Bearer …``, ``token …``, ``Basic …``)."""

    name: str
    value: str = field(repr=False)
    secret: str = field(repr=False, default="")

    async def headers(self, http: ForgeHttp) -> Mapping[str, str]:
        return {self.name: self.value} if self.value else {}

    async def refresh(self, http: ForgeHttp) -> bool:
        return False

    def secrets(self) -> tuple[str, ...]:
        return tuple(s for s in (self.secret, self.value) if s)


def basic(username: str, password: str) -> str:
    """An ``Authorization: Basic`` value."""
    return "Basic " + base64.b64encode(f"{username}:{password}".encode()).decode()


def check_settings(forge: str, settings: ForgeSettings) -> None:
    """Refuse an API root or credential that could not be sent safely (no echo of either)."""
    if len(settings.api_url) > 2048:
        raise ForgeError(f"{forge}: api_url is longer than 2048 characters")
    try:
        url = httpx.URL(settings.api_url)
    except (httpx.InvalidURL, TypeError):
        raise ForgeError(f"{forge}: api_url is not a valid URL") from None
    if url.scheme not in ("https", "http") or not url.host:
        raise ForgeError(f"{forge}: api_url must be an https:// (or http://) URL")
    if url.userinfo:
        raise ForgeError(f"{forge}: api_url must not carry credentials; use the token")
    if url.query or url.fragment:
        raise ForgeError(f"{forge}: api_url must not have a query or fragment")
    for name, value in (("token", settings.token), ("username", settings.username)):
        if any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
            raise ForgeError(f"{forge}: the {name} holds a control character (line break?)")


__all__ = ["Auth", "StaticAuth", "basic", "check_settings"]
