"""Politeness with a fake clock: token bucket, Retry-After, ratelimit headers, concurrency."""

from __future__ import annotations

import asyncio
import random

import httpx
import pytest

from image_automation.errors import RegistryUnavailable
from image_automation.registry import RetryPolicy
from image_automation.registry.limits import HostLimiter, HostPoliteness, parse_retry_after


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.mark.parametrize(
    ("value", "expected"),
    [("5", 5.0), ("0", 0.0), ("1.5", 1.5), ("", None), (None, None), ("soon", None)],
)
def test_retry_after_seconds(value: str | None, expected: float | None) -> None:
    assert parse_retry_after(value) == expected


def test_retry_after_http_date() -> None:
    assert parse_retry_after("Wed, 21 Oct 2015 07:28:30 GMT", now_epoch=1445412480.0) == 30.0


async def test_token_bucket_allows_a_burst_then_spaces_requests() -> None:
    clock = FakeClock()
    limiter = HostLimiter("h", HostPoliteness(requests_per_second=2, burst=2), clock)
    for _ in range(6):
        await limiter.acquire()
        limiter.release()
    assert clock.slept == [0.5, 0.5, 0.5]


async def test_429_pauses_the_host_for_retry_after() -> None:
    clock = FakeClock()
    limiter = HostLimiter("h", HostPoliteness(), clock)
    limiter.observe(429, httpx.Headers({"Retry-After": "9"}))
    await limiter.acquire()
    limiter.release()
    assert clock.slept == [9.0]


async def test_a_pause_longer_than_max_wait_raises_with_the_delay() -> None:
    limiter = HostLimiter("h", HostPoliteness(max_wait=30), FakeClock())
    limiter.observe(429, httpx.Headers({"Retry-After": "600"}))
    with pytest.raises(RegistryUnavailable, match="wait 600s") as info:
        await limiter.acquire()
    assert info.value.delay == 600
    # The slot was given back: the host is not wedged.
    limiter.observe(200, httpx.Headers())


async def test_low_remaining_paces_and_plenty_stops_pacing() -> None:
    clock = FakeClock()
    limiter = HostLimiter("h", HostPoliteness(), clock)
    low = httpx.Headers({"ratelimit-limit": "100;w=21600", "ratelimit-remaining": "10;w=21600"})
    await limiter.acquire()
    limiter.release()
    limiter.observe(200, low)
    await limiter.acquire()
    limiter.release()
    assert clock.slept == [pytest.approx(2160.0)]  # 10 left for 6 h: one per 36 min
    limiter.observe(200, httpx.Headers({"ratelimit-limit": "100", "ratelimit-remaining": "90"}))
    await limiter.acquire()
    limiter.release()
    assert len(clock.slept) == 1


async def test_zero_remaining_pauses_until_the_window_resets() -> None:
    clock = FakeClock()
    limiter = HostLimiter("h", HostPoliteness(max_wait=100), clock)
    limiter.observe(
        200,
        httpx.Headers(
            {"ratelimit-limit": "100", "ratelimit-remaining": "0", "ratelimit-reset": "42"}
        ),
    )
    await limiter.acquire()
    limiter.release()
    assert clock.slept == [42.0]


async def test_concurrency_per_host_is_bounded() -> None:
    limiter = HostLimiter("h", HostPoliteness(concurrency=2), FakeClock())
    running = peak = 0

    async def work() -> None:
        nonlocal running, peak
        await limiter.acquire()
        running += 1
        peak = max(peak, running)
        await asyncio.sleep(0)
        await asyncio.sleep(0)
        running -= 1
        limiter.release()

    await asyncio.gather(*(work() for _ in range(10)))
    assert peak == 2


def test_backoff_grows_exponentially_with_jitter_and_a_ceiling() -> None:
    policy = RetryPolicy(attempts=10, base_delay=1, max_delay=8)
    rng = random.Random(7)
    for attempt, ceiling in enumerate([1, 2, 4, 8, 8, 8]):
        delay = policy.backoff(attempt, rng)
        assert ceiling / 2 <= delay <= ceiling
