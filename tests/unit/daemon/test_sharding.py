"""Who should hold which repository: every one held once, no replica above its share."""

from __future__ import annotations

import math
import random
from collections import Counter

import pytest

from image_automation.daemon.sharding import assign

UNITS = [f"https://git.example/org/repo{i}" for i in range(100)]


@pytest.mark.parametrize(
    ("units", "replicas"),
    [(0, 3), (1, 3), (2, 3), (10, 3), (100, 1), (100, 3), (1000, 3), (7, 7), (5, 8)],
)
def test_every_unit_goes_to_one_live_replica_none_above_its_share(
    units: int, replicas: int
) -> None:
    names = [f"u{i}" for i in range(units)]
    members = [f"r{i}" for i in range(replicas)]
    plan = assign(names, members)
    assert set(plan) == set(names)
    assert set(plan.values()) <= set(members)
    if units:
        assert max(Counter(plan.values()).values()) <= math.ceil(units / replicas)


def test_no_replica_means_nobody_holds_anything() -> None:
    assert assign(UNITS, []) == {}


def test_every_replica_computes_the_same_plan_whatever_order_it_sees() -> None:
    members = ["web-1", "web-2", "web-3"]
    first = assign(UNITS, members)
    rng = random.Random(7)
    for _ in range(5):
        units, order = UNITS[:], members[:]
        rng.shuffle(units)
        rng.shuffle(order)
        assert assign(units + units[:3], order) == first  # duplicates count once


@pytest.mark.parametrize("seed", range(10))
def test_when_a_replica_leaves_only_its_repositories_move(seed: int) -> None:
    units = [f"{u}-{seed}" for u in UNITS]
    before = assign(units, ["a", "b", "c"])
    after = assign(units, ["a", "b"], held=before)
    assert all(after[u] == r for u, r in before.items() if r != "c")
    assert max(Counter(after.values()).values()) <= math.ceil(len(units) / 2)


@pytest.mark.parametrize("seed", range(10))
def test_when_a_replica_joins_it_takes_its_share_and_nothing_else_moves(seed: int) -> None:
    units = [f"{u}-{seed}" for u in UNITS]
    before = assign(units, ["a", "b", "c"])
    after = assign(units, ["a", "b", "c", "d"], held=before)
    moved = [u for u in units if after[u] != before[u]]
    assert all(after[u] == "d" for u in moved)  # nobody else trades
    assert len(moved) == Counter(after.values())["d"] <= math.ceil(len(units) / 4)
    assert assign(units, ["a", "b", "c", "d"], held=after) == after  # and it stays so


def test_what_a_dead_replica_held_is_shared_out_like_anything_free() -> None:
    before = assign(UNITS, ["a", "b", "c"])
    assert assign(UNITS, ["a", "b"], held=before) == assign(
        UNITS, ["a", "b"], held={u: r for u, r in before.items() if r != "c"}
    )
