"""Time and rate limits as forges state them, read without sending anything.

Forges say "slow down" in several dialects: ``Retry-After`` (seconds or an HTTP date),
``x-ratelimit-remaining``/``x-ratelimit-reset`` (GitHub, Gitea; epoch seconds),
``ratelimit-*`` (GitLab; the IETF draft, where small resets are deltas), and GitHub's
secondary limit, a 403 whose only sign may be its message. :func:`limit_delay` turns any of
them into seconds to wait. The clock is injected so tests move time instead of waiting.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Protocol

import httpx

from image_automation.domain import retry_after_seconds

DEFAULT_LIMIT_DELAY = 60.0
"""GitHub's advice when nothing says how long: wait at least a minute."""
_RATE_WORDS = re.compile(r"(?i)rate.?limit|abuse detection")


class Clock(Protocol):
    """Wall-clock time (token expiry and ``x-ratelimit-reset`` are epoch seconds) and
    sleeping, injectable so tests never wait."""

    def time(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def time(self) -> float:
        return time.time()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


def _header(headers: httpx.Headers, *names: str) -> str | None:
    for name in names:
        value = headers.get(name)
        if value is not None:
            return str(value).strip()
    return None


def reset_delay(headers: httpx.Headers, *, now: float) -> float | None:
    """Seconds until ``x-ratelimit-reset`` / ``ratelimit-reset``: an epoch (GitHub, GitLab,
    Gitea) or, for small values, a delta (the IETF draft)."""
    value = _header(headers, "x-ratelimit-reset", "ratelimit-reset")
    try:
        reset = float(value) if value else None
    except ValueError:
        return None
    if reset is None:
        return None
    return max(0.0, reset - now) if reset > 1e9 else max(0.0, reset)


def remaining(headers: httpx.Headers) -> int | None:
    value = _header(headers, "x-ratelimit-remaining", "ratelimit-remaining")
    try:
        return int(value) if value else None
    except ValueError:
        return None


def limit_delay(status: int, headers: httpx.Headers, said: str, *, now: float) -> float | None:
    """Seconds to wait if an answer says "slow down" (429, or a 403 that is a primary or
    secondary rate limit rather than a permission), else None."""
    if status not in (403, 429):
        return None
    after = retry_after_seconds(headers.get("retry-after"), now=now)
    reset = reset_delay(headers, now=now)
    if status == 429:
        return after if after is not None else reset or DEFAULT_LIMIT_DELAY
    if after is not None:
        return after
    if remaining(headers) == 0 or _RATE_WORDS.search(said):
        return reset or DEFAULT_LIMIT_DELAY
    return None


__all__ = [
    "DEFAULT_LIMIT_DELAY",
    "Clock",
    "SystemClock",
    "limit_delay",
    "remaining",
    "reset_delay",
]
