"""The replicas' coordinator, one suite for both backends: in memory and real PostgreSQL.

Several holders share one set of tables (several connections, for PostgreSQL) and contend
for the same leases at once. Expiry is real time here (leases of a fraction of a second),
waited for by polling the table, never asserted as a duration.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass, field

import pytest

from image_automation.state.leases import Coordinator, MemoryCoordinator, open_coordinator
from tests.integration.postgres_server import PostgresServer

pytestmark = pytest.mark.integration


@dataclass
class Tables:
    """Coordinators of several holders over one set of tables."""

    open: Callable[[str], Awaitable[Coordinator]]
    opened: list[Coordinator] = field(default_factory=list)

    async def holder(self, name: str) -> Coordinator:
        coordinator = await self.open(name)
        self.opened.append(coordinator)
        return coordinator


@pytest.fixture(params=["memory", "postgresql"])
async def tables(request: pytest.FixtureRequest) -> AsyncIterator[Tables]:
    if request.param == "memory":
        shared = MemoryCoordinator("tables")

        async def memory(name: str) -> Coordinator:
            return shared.as_holder(name)

        made = Tables(memory)
    else:
        server: PostgresServer = request.getfixturevalue("postgres_server")
        url = server.url(request.getfixturevalue("postgres_database"))

        async def postgres(name: str) -> Coordinator:
            return await open_coordinator(url, holder=name)

        made = Tables(postgres)
    yield made
    for coordinator in made.opened:
        await coordinator.close()


async def wait_until_free(co: Coordinator, kind: str, name: str) -> None:
    deadline = time.monotonic() + 30
    while any(x.name == name for x in (await co.table(kind)).held()):
        assert time.monotonic() < deadline, f"{kind} {name} never expired"
        await asyncio.sleep(0.05)


async def test_a_held_lease_is_refused_to_another_holder(tables: Tables) -> None:
    a, b = await tables.holder("a"), await tables.holder("b")
    got = await a.acquire("git", ["r1", "r2"], ttl=30)
    assert [(x.name, x.holder, x.token) for x in got] == [("r1", "a", 1), ("r2", "a", 1)]
    assert [x.name for x in await b.acquire("git", ["r1", "r2", "r3"], ttl=30)] == ["r3"]
    table = await b.table("git")
    assert [(x.name, x.holder) for x in table.held()] == [("r1", "a"), ("r2", "a"), ("r3", "b")]


async def test_renewal_keeps_the_token_and_release_frees_for_the_next_tenure(
    tables: Tables,
) -> None:
    a, b = await tables.holder("a"), await tables.holder("b")
    [lease] = await a.acquire("git", ["r1"], ttl=30)
    [renewed] = await a.renew([lease], ttl=60)
    assert (renewed.token, renewed.holder) == (lease.token, "a")
    assert renewed.expires > lease.expires
    assert await a.holds(renewed, margin=20)
    await a.release([renewed])
    assert not await a.holds(renewed, margin=0)
    [taken] = await b.acquire("git", ["r1"], ttl=30)
    assert (taken.holder, taken.token) == ("b", lease.token + 1)
    assert await a.renew([renewed], ttl=30) == []


async def test_an_expired_lease_goes_to_the_next_holder_and_the_stale_one_is_fenced(
    tables: Tables,
) -> None:
    a, b = await tables.holder("a"), await tables.holder("b")
    [stale] = await a.acquire("git", ["r1"], ttl=0.3)
    assert await b.acquire("git", ["r1"], ttl=30) == []
    await wait_until_free(b, "git", "r1")
    [fresh] = await b.acquire("git", ["r1"], ttl=30)
    assert fresh.token > stale.token
    assert not await a.holds(stale, margin=0)  # a must not push any more
    assert await a.renew([stale], ttl=30) == []  # nor extend its old tenure
    await a.release([stale])  # a late release does not free b's lease
    assert await b.holds(fresh, margin=10)


async def test_holders_racing_for_the_same_leases_each_get_a_different_part(
    tables: Tables,
) -> None:
    holders = [await tables.holder(f"h{i}") for i in range(6)]
    names = [f"repo{i:02d}" for i in range(40)]
    results = await asyncio.gather(*(h.acquire("git", names, ttl=30) for h in holders))
    owners: dict[str, str] = {}
    for got in results:
        for lease in got:
            assert lease.name not in owners, f"{lease.name} held twice"
            owners[lease.name] = str(lease.holder)
    table = await holders[0].table("git")
    assert {x.name: x.holder for x in table.held()} == owners


async def test_the_fencing_check_needs_the_margin_left(tables: Tables) -> None:
    a = await tables.holder("a")
    [lease] = await a.acquire("git", ["r1"], ttl=5)
    assert await a.holds(lease, margin=1)
    assert not await a.holds(lease, margin=10)


async def test_a_scan_slot_goes_to_one_holder_per_interval(tables: Tables) -> None:
    holders = [await tables.holder(f"h{i}") for i in range(4)]
    claims = await asyncio.gather(*(h.claim_scan("ghcr.io/org/app", every=0.4) for h in holders))
    assert sorted(claims) == [False, False, False, True]
    assert not await holders[0].claim_scan("ghcr.io/org/app", every=0.4)
    assert await holders[0].claim_scan("ghcr.io/org/other", every=0.4)
    deadline = time.monotonic() + 30
    while not await holders[1].claim_scan("ghcr.io/org/app", every=0.4):
        assert time.monotonic() < deadline, "the slot never came free"
        await asyncio.sleep(0.05)


async def test_work_handed_over_reaches_the_holder_once_and_wakes_it(tables: Tables) -> None:
    a, b = await tables.holder("a"), await tables.holder("b")
    rung = asyncio.Event()
    b.listen(rung.set)
    await asyncio.sleep(0.2)  # let a listening connection (PostgreSQL) be set up
    rung.clear()
    await a.wake("https://git.example/org/r1", ["ns/x", "ns/y", "ns/x"])
    await a.wake("https://git.example/org/r2", ["ns/z"])
    await asyncio.wait_for(rung.wait(), timeout=30)
    taken = await b.take_wakeups(["https://git.example/org/r1"])
    assert taken == [("https://git.example/org/r1", "ns/x"), ("https://git.example/org/r1", "ns/y")]
    assert await b.take_wakeups(["https://git.example/org/r1"]) == []
    assert await b.take_wakeups(["https://git.example/org/r2"]) == [
        ("https://git.example/org/r2", "ns/z")
    ]


async def test_replica_rows_of_long_gone_holders_are_pruned(tables: Tables) -> None:
    a, b = await tables.holder("a"), await tables.holder("b")
    [gone] = await a.acquire("replica", ["a"], ttl=0.2)
    await b.acquire("replica", ["b"], ttl=30)
    await wait_until_free(b, "replica", "a")
    await asyncio.sleep(0.3)
    await b.prune("replica", older_than=0.1)
    assert [x.name for x in (await b.table("replica")).leases] == ["b"]
    [back] = await a.acquire("replica", ["a"], ttl=30)
    assert back.token >= 1 and gone.token == 1
