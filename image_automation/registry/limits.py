"""Politeness towards registries: the cheapest, least annoying client a registry sees.

Operators ban scrapers (Quay once banned Flux v1) and Docker Hub counts anonymous pulls, so
every HTTP request we make passes one :class:`HostLimiter` per host: a concurrency limit, a
token bucket (requests per second), a pause after ``429 Retry-After``, and pacing that starts
*before* the host says 429 when ``ratelimit-remaining`` runs low.

:class:`PoliteTransport` applies the limiter to every request (token requests and redirects
included) and counts them; the client retries above it with :class:`RetryPolicy`. Time comes
from an injectable :class:`Clock` so unit tests never sleep for real.
"""

from __future__ import annotations

import asyncio
import contextvars
import random
import time
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field
from typing import Protocol

import httpx

from image_automation.domain import retry_after_seconds
from image_automation.errors import RegistryUnavailable


class Clock(Protocol):
    """Monotonic time and sleeping, injectable for tests."""

    def monotonic(self) -> float: ...

    async def sleep(self, seconds: float) -> None: ...


class SystemClock:
    """The real clock."""

    def monotonic(self) -> float:
        return time.monotonic()

    async def sleep(self, seconds: float) -> None:
        await asyncio.sleep(seconds)


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Bounded retries with exponential backoff and jitter (seconds)."""

    attempts: int = 4
    base_delay: float = 0.5
    max_delay: float = 30.0

    def backoff(self, attempt: int, rng: random.Random) -> float:
        """Delay before retry number ``attempt`` (0-based): half fixed, half random."""
        ceiling = min(self.max_delay, self.base_delay * 2.0**attempt)
        return ceiling / 2 + rng.uniform(0, ceiling / 2)


@dataclass(frozen=True, slots=True)
class HostPoliteness:
    """What one host gets from us. ``requests_per_second`` 0 means unlimited."""

    concurrency: int = 8
    requests_per_second: float = 0.0
    burst: int = 10
    max_wait: float = 60.0
    """Longest pause we sit out ourselves; a longer one raises RegistryUnavailable(delay)."""
    slow_below: float = 0.2
    """Start pacing when ratelimit-remaining / ratelimit-limit falls below this fraction."""


def parse_retry_after(value: str | None, *, now_epoch: float | None = None) -> float | None:
    """Seconds to wait from a ``Retry-After`` header (delta-seconds or HTTP date)."""
    return retry_after_seconds(value, now=time.time() if now_epoch is None else now_epoch)


def _ratelimit_value(value: str | None) -> tuple[int, float | None] | None:
    """``"76;w=21600"`` → ``(76, 21600.0)`` (Docker Hub and the IETF draft syntax)."""
    if not value:
        return None
    head, *params = value.split(";")
    try:
        count = int(head.strip().split(",")[0])
    except ValueError:
        return None
    window: float | None = None
    for param in params:
        key, _, val = param.strip().partition("=")
        if key == "w":
            try:
                window = float(val)
            except ValueError:
                window = None
    return count, window


class HostLimiter:
    """Concurrency, a token bucket and pauses for one host."""

    def __init__(self, host: str, politeness: HostPoliteness, clock: Clock) -> None:
        self.host = host
        self._p = politeness
        self._clock = clock
        self._semaphore = asyncio.Semaphore(max(1, politeness.concurrency))
        self._next_slot = float("-inf")  # token bucket: earliest start of the next request
        self._paused_until = 0.0
        self._min_interval = 0.0  # pacing from ratelimit headers: no burst allowed
        self._last_start = float("-inf")

    @property
    def interval(self) -> float:
        rate = self._p.requests_per_second
        return 1.0 / rate if rate > 0 else 0.0

    async def acquire(self) -> None:
        """Wait for a slot; raise :class:`RegistryUnavailable` when the wait is too long."""
        await self._semaphore.acquire()
        try:
            await self._wait_turn()
        except BaseException:
            self._semaphore.release()
            raise

    def release(self) -> None:
        self._semaphore.release()

    async def _wait_turn(self) -> None:
        now = self._clock.monotonic()
        pause = self._paused_until - now
        if pause > self._p.max_wait:
            raise RegistryUnavailable(
                f"{self.host} asked us to wait {pause:.0f}s (rate limit)", delay=pause
            )
        interval = self.interval
        start = max(now, self._paused_until)
        if interval > 0:
            # Allow a burst: the bucket may lag behind "now" by burst * interval.
            earliest = max(self._next_slot, start - self._p.burst * interval)
            start = max(start, earliest)
            self._next_slot = earliest + interval
        if self._min_interval > 0:
            start = max(start, self._last_start + self._min_interval)
        self._last_start = start
        wait = start - now
        if wait > 0:
            await self._clock.sleep(wait)

    def observe(self, status: int, headers: httpx.Headers) -> None:
        """Learn from a response: 429 pauses the host, low ratelimit-remaining paces it."""
        now = self._clock.monotonic()
        if status == 429:
            delay = parse_retry_after(headers.get("retry-after"))
            self._paused_until = max(self._paused_until, now + (1.0 if delay is None else delay))
        limit = _ratelimit_value(headers.get("ratelimit-limit"))
        remaining = _ratelimit_value(headers.get("ratelimit-remaining"))
        if limit is None or remaining is None or limit[0] <= 0:
            return
        window = remaining[1] or limit[1]
        reset = parse_retry_after(headers.get("ratelimit-reset"))
        span = reset if reset is not None else (window if window is not None else 60.0)
        if remaining[0] <= 0:
            self._paused_until = max(self._paused_until, now + span)
        elif remaining[0] / limit[0] < self._p.slow_below:
            # Spread what is left over the rest of the window instead of running into 429.
            self._min_interval = span / remaining[0]
        else:
            self._min_interval = 0.0


@dataclass
class RequestCounter:
    """Counts HTTP requests; one per client and one per operation (through a context var)."""

    total: int = 0


_operation_counter: contextvars.ContextVar[RequestCounter | None] = contextvars.ContextVar(
    "image_automation_registry_operation_counter", default=None
)


def count_request(counter: RequestCounter) -> None:
    """Count one request made outside httpx (boto3's) in ``counter`` and the operation's."""
    counter.total += 1
    operation = _operation_counter.get()
    if operation is not None:
        operation.total += 1


class counting_operation:
    """Count the requests made by the current task inside the ``with`` block."""

    def __enter__(self) -> RequestCounter:
        self._counter = RequestCounter()
        self._token = _operation_counter.set(self._counter)
        return self._counter

    def __exit__(self, *exc: object) -> None:
        _operation_counter.reset(self._token)


@dataclass
class Limits:
    """One :class:`HostLimiter` per host, created on first use."""

    politeness_for: Callable[[str], HostPoliteness]
    clock: Clock = field(default_factory=SystemClock)
    _limiters: dict[str, HostLimiter] = field(default_factory=dict)

    def for_host(self, host: str) -> HostLimiter:
        limiter = self._limiters.get(host)  # politeness_for is slow: call it once a host
        if limiter is None:
            limiter = HostLimiter(host, self.politeness_for(host), self.clock)
            self._limiters[host] = limiter
        return limiter


class _ReleasingStream(httpx.AsyncByteStream):
    """Holds the host slot until the body is consumed or closed."""

    def __init__(self, inner: httpx.AsyncByteStream, release: Callable[[], None]) -> None:
        self._inner = inner
        self._release: Callable[[], None] | None = release

    async def __aiter__(self) -> AsyncIterator[bytes]:
        async for chunk in self._inner:
            yield chunk

    async def aclose(self) -> None:
        try:
            await self._inner.aclose()
        finally:
            if self._release is not None:
                self._release()
                self._release = None


class PoliteTransport(httpx.AsyncBaseTransport):
    """Wraps a transport: every request waits for its host's limiter and is counted."""

    def __init__(
        self,
        inner: httpx.AsyncBaseTransport,
        *,
        limits: Limits,
        counter: RequestCounter,
        owns_inner: bool = True,
    ) -> None:
        self._inner = inner
        self._limits = limits
        self._counter = counter
        self._owns_inner = owns_inner

    async def handle_async_request(self, request: httpx.Request) -> httpx.Response:
        limiter = self._limits.for_host(request.url.netloc.decode("ascii"))
        await limiter.acquire()
        count_request(self._counter)
        try:
            response = await self._inner.handle_async_request(request)
        except BaseException:
            limiter.release()
            raise
        limiter.observe(response.status_code, response.headers)
        if response.is_closed:  # read already (in-memory transports): nothing holds the host
            limiter.release()
            return response
        stream = response.stream
        assert isinstance(stream, httpx.AsyncByteStream)
        response.stream = _ReleasingStream(stream, limiter.release)
        return response

    async def aclose(self) -> None:
        if self._owns_inner:
            await self._inner.aclose()


__all__ = [
    "Clock",
    "HostLimiter",
    "HostPoliteness",
    "Limits",
    "PoliteTransport",
    "RequestCounter",
    "RetryPolicy",
    "SystemClock",
    "count_request",
    "counting_operation",
    "parse_retry_after",
]
