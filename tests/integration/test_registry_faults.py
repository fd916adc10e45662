"""Every fault of the proxy ends in a correct result or a clear error, never a crash."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from typing import Any

import pytest

from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.registry import (
    Credential,
    RegistryClient,
    RegistrySettings,
    StaticCredentials,
)
from tests.integration.conftest import LeakCheck
from tests.integration.fault_proxy import Fault, FaultProxy, Sink
from tests.integration.registry_fixtures import (
    PASSWORD,
    SECRETS,
    USERNAME,
    RegistryServer,
    push_image,
)

pytestmark = pytest.mark.integration
TAGS = [f"1.{i}.0" for i in range(25)]


class FakeClock:
    """Monotonic time that only moves when the client sleeps; records every sleep."""

    def __init__(self) -> None:
        self.now = 0.0
        self.slept: list[float] = []

    def monotonic(self) -> float:
        return self.now

    async def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


@pytest.fixture(scope="module")
def repo(registry_anonymous: RegistryServer) -> str:
    name = f"faults/{uuid.uuid4().hex[:8]}"
    with registry_anonymous.push_client() as push:
        push_image(push, registry_anonymous.url, name, TAGS)
    return name


def _client(proxy: FaultProxy, clock: FakeClock, **host: Any) -> RegistryClient:
    settings = RegistrySettings.model_validate({"retry": {"attempts": 3, "baseDelay": 0.5}})
    settings = settings.with_host(proxy.host, insecure=True, **host)
    return RegistryClient(settings=settings, clock=clock)


async def test_500_then_success_is_retried_with_backoff(fault_proxy: FaultProxy, repo: str) -> None:
    fault_proxy.add(Fault("status", times=2, status=500))
    clock = FakeClock()
    async with _client(fault_proxy, clock) as client:
        listing = await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert sorted(listing.tags) == sorted(TAGS)
    assert listing.requests == 3
    assert len(clock.slept) == 2
    assert clock.slept[1] > clock.slept[0] * 0.99 / 2  # grows (jitter keeps half of it)


async def test_persistent_5xx_becomes_registry_unavailable(
    fault_proxy: FaultProxy, repo: str, leak_check: LeakCheck
) -> None:
    fault_proxy.add(Fault("status", times=100, status=503))
    async with _client(fault_proxy, FakeClock()) as client:
        with leak_check.raises(RegistryUnavailable, match=repo) as info:
            await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert "503" in str(info.value)
    assert info.value.delay > 0
    assert len(fault_proxy.seen) == 3


async def test_429_waits_for_retry_after(fault_proxy: FaultProxy, repo: str) -> None:
    fault_proxy.add(Fault("retry_after", retry_after="7"))
    clock = FakeClock()
    async with _client(fault_proxy, clock) as client:
        listing = await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert len(listing.tags) == len(TAGS)
    assert clock.slept == [7.0]


async def test_429_longer_than_max_wait_fails_with_the_delay(
    fault_proxy: FaultProxy, repo: str, leak_check: LeakCheck
) -> None:
    fault_proxy.add(Fault("retry_after", retry_after="3600"))
    async with _client(fault_proxy, FakeClock(), max_wait=60) as client:
        with leak_check.raises(RegistryUnavailable, match="wait") as info:
            await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert info.value.delay == pytest.approx(3600)
    assert len(fault_proxy.seen) == 1


async def test_low_ratelimit_remaining_paces_requests_before_any_429(
    fault_proxy: FaultProxy, repo: str
) -> None:
    fault_proxy.add(Fault("ratelimit", ratelimit=(100, 5)))
    clock = FakeClock()
    async with _client(fault_proxy, clock) as client:
        await client.list_tags(f"{fault_proxy.host}/{repo}")
        assert clock.slept == []
        await client.list_tags(f"{fault_proxy.host}/{repo}")
    # 5 requests left in a 60 s window: one every 12 s.
    assert clock.slept == [pytest.approx(12.0)]
    assert all(s.path.endswith("tags/list?n=1000") for s in fault_proxy.seen)


async def test_a_slow_answer_times_out_and_is_retried(fault_proxy: FaultProxy, repo: str) -> None:
    fault_proxy.add(Fault("delay", delay=4.0))
    # 1 s is far above a normal answer here even under load, far below the injected delay.
    async with _client(fault_proxy, FakeClock(), timeout=1.0) as client:
        listing = await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert len(listing.tags) == len(TAGS)
    assert listing.requests == 2


@pytest.mark.parametrize("kind", ["reset", "cut"])
async def test_dropped_connections_are_retried(
    fault_proxy: FaultProxy, repo: str, kind: Any
) -> None:
    fault_proxy.add(Fault(kind))
    async with _client(fault_proxy, FakeClock()) as client:
        listing = await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert len(listing.tags) == len(TAGS)


async def test_connections_dropped_every_time_end_in_registry_unavailable(
    fault_proxy: FaultProxy, repo: str, leak_check: LeakCheck
) -> None:
    fault_proxy.add(Fault("reset", times=100))
    async with _client(fault_proxy, FakeClock()) as client:
        with leak_check.raises(RegistryUnavailable, match="unreachable"):
            await client.list_tags(f"{fault_proxy.host}/{repo}")


async def test_truncated_json_is_a_clear_error(
    fault_proxy: FaultProxy, repo: str, leak_check: LeakCheck
) -> None:
    fault_proxy.add(Fault("truncate"))
    async with _client(fault_proxy, FakeClock()) as client:
        with leak_check.raises(RegistryError, match=f"{repo}: tag list .* not valid JSON"):
            await client.list_tags(f"{fault_proxy.host}/{repo}")


@pytest.mark.parametrize("chunked", [False, True])
async def test_a_tag_list_over_the_size_cap_names_the_image(
    fault_proxy: FaultProxy, repo: str, leak_check: LeakCheck, chunked: bool
) -> None:
    fault_proxy.add(Fault("oversize", size=2 << 20, chunked=chunked))
    async with _client(fault_proxy, FakeClock(), max_body_bytes=1 << 20) as client:
        with leak_check.raises(RegistryError, match=f"{repo}: .*cap"):
            await client.list_tags(f"{fault_proxy.host}/{repo}")


@pytest.mark.parametrize("link", [True, False], ids=["link-header", "n-last"])
async def test_oldest_first_pages_are_all_read(
    fault_proxy: FaultProxy, repo: str, link: bool
) -> None:
    fault_proxy.paginate(TAGS, page_size=10, link=link)
    async with _client(fault_proxy, FakeClock(), page_size=10) as client:
        listing = await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert list(listing.tags) == TAGS  # the newest are on the last page
    assert (listing.pages, listing.requests) == (3, 3)


async def test_link_pagination_works_whatever_page_size_we_ask(
    fault_proxy: FaultProxy, repo: str
) -> None:
    fault_proxy.paginate(TAGS, page_size=4, link=True)
    async with _client(fault_proxy, FakeClock()) as client:
        listing = await client.list_tags(f"{fault_proxy.host}/{repo}")
    assert list(listing.tags) == TAGS
    assert listing.pages == 7


async def test_page_cap_is_an_error_not_a_partial_list(
    fault_proxy: FaultProxy, repo: str, leak_check: LeakCheck
) -> None:
    fault_proxy.paginate(TAGS, page_size=10, link=True)
    async with _client(fault_proxy, FakeClock(), max_pages=2) as client:
        with leak_check.raises(RegistryError, match=f"{repo}: more than 2 pages"):
            await client.list_tags(f"{fault_proxy.host}/{repo}")


@pytest.fixture
async def proxy_for(request: pytest.FixtureRequest) -> AsyncIterator[Any]:
    started: list[FaultProxy] = []

    async def make(server: RegistryServer) -> FaultProxy:
        proxy = await FaultProxy(server.url).start()
        started.append(proxy)
        return proxy

    yield make
    for proxy in started:
        await proxy.stop()


@pytest.mark.parametrize("setup", ["basic", "token"])
async def test_redirect_to_another_host_carries_no_credential(
    setup: str, request: pytest.FixtureRequest, sink: Sink, proxy_for: Any
) -> None:
    server: RegistryServer = request.getfixturevalue(f"registry_{setup}")
    name = f"redirect/{uuid.uuid4().hex[:8]}"
    with server.push_client() as push:
        push_image(push, server.url, name, ["v1"])
    proxy: FaultProxy = await proxy_for(server)
    proxy.add(Fault("redirect", location=sink.url, times=5, authorized_only=True))
    creds = StaticCredentials({proxy.host: Credential(USERNAME, PASSWORD)})
    settings = RegistrySettings().with_host(proxy.host, insecure=True)
    async with RegistryClient(settings=settings, credentials=creds) as client:
        first = await client.list_tags(f"{proxy.host}/{name}")
        second = await client.list_tags(f"{proxy.host}/{name}")
    assert first.tags == second.tags == ("from-sink",)
    assert len(sink.seen) == 2
    # The proxy did see credentials (so they were in play), the other host never did.
    assert any("authorization" in {k.lower() for k in s.headers} for s in proxy.seen)
    for seen in sink.seen:
        assert "authorization" not in {k.lower() for k in seen.headers}
        assert not SECRETS.find_in(repr(seen.headers))
