"""Google's token-signing keys for ``gcr`` receivers: fetched once, cached as Google says.

Google publishes the keys that sign its ID tokens as a JWK set (``keys: [{kid, kty, n, e,
alg}]``) and says in ``Cache-Control: max-age`` how long to keep them. A token naming a key
we do not have makes us fetch again, at most once a minute, so a rotation is picked up at once
and a flood of made-up key ids costs one request a minute. When a fetch fails, the keys we had
stay in use; with none at all, the request cannot be verified now (the server answers 503
and Pub/Sub retries).
"""

from __future__ import annotations

import json
import logging
import re
import time
from collections.abc import Callable, Mapping
from typing import Any

import aiohttp

log = logging.getLogger(__name__)

GOOGLE_CERTS_URL = "https://www.googleapis.com/oauth2/v3/certs"
DEFAULT_MAX_AGE = 3600.0
LONGEST_MAX_AGE = 86400.0
REFETCH_AFTER = 60.0
"""Least seconds between two fetches caused by an unknown key id."""
MAX_BODY = 64 * 1024
TIMEOUT = 10.0
_MAX_AGE = re.compile(r"max-age=(\d+)")

Keys = Mapping[str, Mapping[str, Any]]


class KeysUnavailable(Exception):
    """Google's keys could not be fetched and none are cached."""


class GoogleKeys:
    """The JWK set at ``url``, by key id, refreshed per ``Cache-Control``."""

    def __init__(self, url: str = GOOGLE_CERTS_URL, *,
                 clock: Callable[[], float] = time.monotonic) -> None:  # fmt: skip
        self.url = url
        self._clock = clock
        self._keys: dict[str, Mapping[str, Any]] = {}
        self._expires = 0.0
        self._fetched = -REFETCH_AFTER

    async def for_kid(self, kid: str | None) -> Keys:
        """The keys, fetched first when stale or when ``kid`` is not among them."""
        now = self._clock()
        stale = now >= self._expires
        unknown = kid is not None and kid not in self._keys
        if stale or (unknown and now - self._fetched >= REFETCH_AFTER):
            await self._refresh(now)
        return self._keys

    async def _refresh(self, now: float) -> None:
        self._fetched = now
        try:
            keys, max_age = await self._fetch()
        except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
            if not self._keys:
                raise KeysUnavailable(f"cannot fetch Google's keys from {self.url}: {exc}") from exc
            log.warning("keeping Google's keys: cannot fetch %s: %s", self.url, exc)
            return
        self._keys = keys
        self._expires = now + max_age

    async def _fetch(self) -> tuple[dict[str, Mapping[str, Any]], float]:
        timeout = aiohttp.ClientTimeout(total=TIMEOUT)
        async with aiohttp.ClientSession(timeout=timeout) as session, session.get(
            self.url, headers={"Accept": "application/json"}
        ) as response:  # fmt: skip
            if response.status != 200:
                raise ValueError(f"HTTP {response.status}")
            body = await response.content.read(MAX_BODY + 1)
            if len(body) > MAX_BODY:
                raise ValueError(f"the key set is larger than {MAX_BODY} bytes")
            found = _MAX_AGE.search(response.headers.get("Cache-Control", ""))
        max_age = min(float(found.group(1)), LONGEST_MAX_AGE) if found else DEFAULT_MAX_AGE
        return _parse(body), max_age


def _parse(body: bytes) -> dict[str, Mapping[str, Any]]:
    data = json.loads(body)
    entries = data.get("keys") if isinstance(data, dict) else None
    if not isinstance(entries, list):
        raise ValueError("the key set has no keys")
    keys: dict[str, Mapping[str, Any]] = {
        entry["kid"]: entry
        for entry in entries
        if isinstance(entry, dict)
        and isinstance(entry.get("kid"), str)
        and entry.get("kty") == "RSA"
    }
    if not keys:
        raise ValueError("the key set has no RSA keys")
    return keys


__all__ = ["GOOGLE_CERTS_URL", "GoogleKeys", "Keys", "KeysUnavailable"]
