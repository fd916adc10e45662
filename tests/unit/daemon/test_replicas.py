"""Replicas' rounds on the in-memory coordinator and a test clock: share, take over, fence."""

from __future__ import annotations

import asyncio
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pytest

from image_automation.daemon.forge_wake import PushTarget
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.replicas import GIT, Replicas, ReplicaSettings, unit_for
from image_automation.daemon.scheduler import WorkQueue
from image_automation.daemon.service import Daemon
from image_automation.errors import LeaseLost, StateError
from image_automation.state.leases import Lease, MemoryCoordinator
from tests.unit.daemon.fakes import FakeEngine

T0 = datetime(2026, 1, 1, tzinfo=UTC)
LEASE = 30.0
HOME = "https://git.example/org/fleet.git"


@dataclass
class Clock:
    t: float = 0.0

    def mono(self) -> float:
        return self.t

    def wall(self) -> datetime:
        return T0 + timedelta(seconds=self.t)


def config(repos: int, per_repo: int = 2) -> DaemonConfig:
    automations: dict[str, float] = {}
    targets: dict[str, PushTarget] = {}
    for r in range(repos):
        for a in range(per_repo):
            key = f"ImageAutomation/ns{r}/a{a}"
            automations[key] = 60.0
            targets[key] = PushTarget(f"https://git.example/org/repo{r}.git", None)
    return DaemonConfig(automations=automations, push_targets=targets)


@dataclass
class Seen:
    gained: list[str] = field(default_factory=list)
    lost: list[str] = field(default_factory=list)
    woken: list[str] = field(default_factory=list)


def replica(
    tables: MemoryCoordinator, clock: Clock, name: str, cfg: DaemonConfig
) -> tuple[Replicas, Seen, Metrics]:
    metrics, seen = Metrics(), Seen()
    replicas = Replicas(
        tables.as_holder(name), home=HOME, metrics=metrics,
        settings=ReplicaSettings(lease_duration=LEASE), clock=clock.mono,
    )  # fmt: skip
    replicas.hooks.gained = seen.gained.extend
    replicas.hooks.lost = seen.lost.extend
    replicas.hooks.woken = seen.woken.extend
    replicas.update(cfg)
    return replicas, seen, metrics


def held(replicas: Replicas, cfg: DaemonConfig) -> set[str]:
    return {replicas.unit_of(a) for a in cfg.automations if replicas.owns(a)}


@pytest.fixture
def clock() -> Clock:
    return Clock()


@pytest.fixture
def tables(clock: Clock) -> MemoryCoordinator:
    return MemoryCoordinator("tables", clock.wall)


async def test_a_lone_replica_holds_every_repository_after_its_first_round(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(3)
    one, seen, metrics = replica(tables, clock, "one", cfg)
    assert not one.owns("ImageAutomation/ns0/a0")
    await one.round()
    assert held(one, cfg) == {unit_for(f"https://git.example/org/repo{r}.git") for r in range(3)}
    assert sorted(seen.gained) == sorted(cfg.automations)
    assert metrics.registry.get_sample_value("image_automation_leases_held", {"kind": GIT}) == 3
    assert one.status()[0].startswith("replica one (1 live): holds 3 of 3 git repositories")


async def test_two_replicas_split_the_repositories_and_never_share_one(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(7)
    a, _, _ = replica(tables, clock, "a", cfg)
    b, _, _ = replica(tables, clock, "b", cfg)
    for _ in range(3):  # a takes everything first, then gives b its share
        await a.round()
        await b.round()
    ours, theirs = held(a, cfg), held(b, cfg)
    assert not ours & theirs
    assert len(ours | theirs) == 7
    assert max(len(ours), len(theirs)) <= math.ceil(7 / 2)


async def test_a_dead_replicas_repositories_are_taken_over_when_its_leases_expire(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(6)
    a, seen_a, _ = replica(tables, clock, "a", cfg)
    b, _, _ = replica(tables, clock, "b", cfg)
    for _ in range(3):
        await a.round()
        await b.round()
    orphans = held(b, cfg)
    assert orphans
    # b dies after that round (at t=0). Until its leases expire (t=30) a may not take its
    # repositories; a's rounds are due then, not a whole round period later.
    clock.t += 1
    taken_at = None
    for _ in range(10):
        delay = await a.round()
        if held(a, cfg) >= orphans:
            taken_at = clock.t
            break
        assert clock.t < LEASE  # nothing is taken before b's leases expire
        clock.t += delay
    assert taken_at is not None and LEASE <= taken_at <= LEASE + 0.2
    assert held(a, cfg) == {unit_for(f"https://git.example/org/repo{r}.git") for r in range(6)}
    assert {a_ for a_ in seen_a.gained if b.unit_of(a_) in orphans} == {
        a_ for a_ in cfg.automations if b.unit_of(a_) in orphans
    }


class Slow(MemoryCoordinator):
    """The database takes ``lag`` seconds to renew git leases: they outlast the membership."""

    lag: float = 0.0
    tick: Clock | None = None

    async def renew(self, leases: Sequence[Lease], *, ttl: float) -> list[Lease]:
        if self.tick is not None and any(x.kind == GIT for x in leases):
            self.tick.t += self.lag
        return await super().renew(leases, ttl=ttl)


async def test_a_dead_replicas_repositories_move_within_one_lease_of_its_last_renewal(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(4)
    a, _, _ = replica(tables, clock, "a", cfg)
    b, _, _ = replica(tables, clock, "b", cfg)
    for _ in range(3):
        await a.round()
        await b.round()
    slow = Slow("b", clock.wall, tables._leases, tables._slots, tables._wakeups, tables._listeners)
    slow.lag, slow.tick = 0.5, clock
    b._co = slow
    await b.round()  # b renews its membership, then (0.5 s later) its git leases, and dies
    died, orphans = clock.t, held(b, cfg)
    assert orphans
    delay = await a.round()
    for _ in range(20):
        if held(a, cfg) >= orphans:
            break
        assert clock.t < died + LEASE  # nothing is taken before b's git leases expire
        clock.t += delay
        delay = await a.round()
    assert held(a, cfg) >= orphans
    assert clock.t <= died + LEASE + 0.2  # at their expiry, not a round period later


async def test_a_replica_that_lost_its_lease_may_not_push(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(1)
    a, _, _ = replica(tables, clock, "a", cfg)
    b, _, _ = replica(tables, clock, "b", cfg)
    await a.round()
    lease = a.lease_of("ImageAutomation/ns0/a0")
    assert lease is not None
    guard = a.fence(lease)
    await guard()  # held, with time to spare
    clock.t += LEASE + 1  # a stalls (a long GC pause, a partition) past its lease
    await b.round()  # b is alive and takes the repository over
    assert b.owns("ImageAutomation/ns0/a0")
    with pytest.raises(LeaseLost, match="no longer this replica's"):
        await guard()


async def test_a_lease_too_close_to_expiry_fences_the_push(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(1)
    a, _, _ = replica(tables, clock, "a", cfg)
    await a.round()
    lease = a.lease_of("ImageAutomation/ns0/a0")
    assert lease is not None
    clock.t += LEASE - LEASE / 3 + 0.1  # renewals failed: less than a third left
    with pytest.raises(LeaseLost):
        await a.fence(lease)()


class Down(MemoryCoordinator):
    async def renew(self, *args: object, **kwargs: object) -> list[object]:  # type: ignore[override]
        raise StateError("database at 127.0.0.1: connection refused")


async def test_a_replica_that_cannot_renew_drops_its_leases_once_they_surely_expired(
    clock: Clock,
) -> None:
    cfg = config(2)
    tables = MemoryCoordinator("tables", clock.wall)
    a, seen, _ = replica(tables, clock, "a", cfg)
    await a.round()
    a._co = Down("a", clock.wall)  # the database goes away
    clock.t += 10
    await a.round()
    assert a.problem and "connection refused" in a.problem
    assert held(a, cfg)  # still within the lease: its own pushes are fenced by the database
    clock.t += LEASE
    await a.round()
    assert not held(a, cfg)
    assert sorted(seen.lost) == sorted(cfg.automations)


async def test_a_repository_with_a_job_running_is_not_given_away_until_it_ends(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(4)
    a, _, _ = replica(tables, clock, "a", cfg)
    await a.round()
    b, _, _ = replica(tables, clock, "b", cfg)
    await b.round()  # joins: a should give two repositories to b
    busy = list(cfg.automations)
    async with a.working(busy[0]), a.working(busy[2]), a.working(busy[4]), a.working(busy[6]):
        await a.round()
        assert len(held(a, cfg)) == 4
    await a.round()
    await b.round()
    assert len(held(a, cfg)) == 2
    assert len(held(b, cfg)) == 2


async def test_work_handed_over_reaches_the_holder(tables: MemoryCoordinator, clock: Clock) -> None:
    cfg = config(2, per_repo=1)
    a, seen_a, _ = replica(tables, clock, "a", cfg)
    b, _, _ = replica(tables, clock, "b", cfg)
    for _ in range(3):
        await a.round()
        await b.round()
    [theirs] = [x for x in cfg.automations if b.owns(x)]
    await a.hand_off([theirs])
    await a.round()
    assert theirs not in seen_a.woken  # not a's to run
    seen_b = Seen()
    b.hooks.woken = seen_b.woken.extend
    await b.round()
    assert seen_b.woken == [theirs]
    await b.round()
    assert seen_b.woken == [theirs]  # taken once


async def test_closing_gives_everything_back_at_once(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(3)
    a, _, _ = replica(tables, clock, "a", cfg)
    b, _, _ = replica(tables, clock, "b", cfg)
    await a.round()
    await a.close()
    await b.round()  # no wait for expiry
    assert len(held(b, cfg)) == 3


async def test_reconciles_waiting_for_a_repository_given_away_are_withdrawn_unfetched(
    tables: MemoryCoordinator, clock: Clock
) -> None:
    cfg = config(2, per_repo=1)
    a, _, _ = replica(tables, clock, "a", cfg)
    await a.round()  # a holds both repositories
    engine = FakeEngine(cfg)
    engine.checkout = asyncio.Event()  # both reconciles wait for the checkout
    queue = WorkQueue()
    daemon = Daemon(engine=engine, metrics=Metrics(), queue=queue, replicas=a)
    daemon.bind_replicas()
    tasks = [daemon.request_reconcile(x) for x in sorted(cfg.automations)]
    await asyncio.sleep(0)
    b, _, _ = replica(tables, clock, "b", cfg)
    await b.round()
    await a.round()  # b joined: a gives one repository back
    [kept] = [x for x in cfg.automations if a.owns(x)]
    engine.checkout.set()
    await asyncio.wait([t for t in tasks if t is not None])
    assert engine.fetched == [kept]  # the other one never fetched, let alone selected
    assert engine.finished == [kept]
    await queue.drain(grace=5)
