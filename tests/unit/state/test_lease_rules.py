"""The lease rules (acquire, renew, release, fencing), table-driven, on a test clock."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest

from image_automation.state._leases import Lease, acquire, holds, release, renew, slot_free

T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
TTL = 30.0


def at(seconds: float) -> datetime:
    return T0 + timedelta(seconds=seconds)


def row(holder: str | None, token: int, expires: float) -> Lease:
    return Lease("git", "repo", holder, token, at(expires))


ACQUIRE = [
    # (case, stored row, holder, now, expected (holder, token, expires) or None)
    ("never stored: first tenure, token 1", None, "a", 0, ("a", 1, 30)),
    ("released: next token", row(None, 5, 10), "b", 20, ("b", 6, 50)),
    (
        "expired, held by another: stolen with the next token",
        row("a", 3, 10),
        "b",
        10,
        ("b", 4, 40),
    ),
    ("held by another, not expired: refused", row("a", 3, 10), "b", 9.999, None),
    ("held by the caller: renewed, same token", row("a", 3, 10), "a", 5, ("a", 3, 35)),
    ("held by the caller, expired: a new tenure", row("a", 3, 10), "a", 11, ("a", 4, 41)),
    ("asking twice never shortens the lease", row("a", 3, 100), "a", 5, ("a", 3, 100)),
]


@pytest.mark.parametrize(
    ("case", "stored", "holder", "now", "expected"), ACQUIRE, ids=[c[0] for c in ACQUIRE]
)
def test_acquire(
    case: str,
    stored: Lease | None,
    holder: str,
    now: float,
    expected: tuple[str, int, float] | None,
) -> None:
    got = acquire(stored, kind="git", name="repo", holder=holder, now=at(now), ttl=TTL)
    if expected is None:
        assert got is None, case
    else:
        assert got is not None, case
        assert (got.holder, got.token, got.expires) == (expected[0], expected[1], at(expected[2]))
        assert (got.kind, got.name) == ("git", "repo")


def test_acquire_refuses_a_duration_that_is_not_positive() -> None:
    for ttl in (0.0, -1.0):
        with pytest.raises(ValueError, match="positive"):
            acquire(None, kind="git", name="repo", holder="a", now=T0, ttl=ttl)


LEASE = row("a", 3, 10)
RENEW = [
    ("the holder, in time: extended, same token", row("a", 3, 10), 5, ("a", 3, 35)),
    ("expired, even untouched: refused", row("a", 3, 10), 10, None),
    ("a newer tenure (stolen): refused", row("b", 4, 40), 11, None),
    ("the same holder's newer tenure: refused to the old lease", row("a", 4, 40), 11, None),
    ("released: refused", row(None, 3, 5), 5, None),
    ("gone: refused", None, 5, None),
]


@pytest.mark.parametrize(("case", "stored", "now", "expected"), RENEW, ids=[c[0] for c in RENEW])
def test_renew(
    case: str, stored: Lease | None, now: float, expected: tuple[str, int, float] | None
) -> None:
    got = renew(stored, LEASE, now=at(now), ttl=TTL)
    if expected is None:
        assert got is None, case
    else:
        assert got is not None, case
        assert (got.holder, got.token, got.expires) == (expected[0], expected[1], at(expected[2]))


RELEASE = [
    ("the holder: free at once, token kept", row("a", 3, 10), 5, (None, 3, 5)),
    ("after expiry, not taken: free, token kept", row("a", 3, 10), 20, (None, 3, 10)),
    ("stolen meanwhile: the thief keeps it", row("b", 4, 40), 20, None),
    ("released already: nothing to do", row(None, 3, 5), 6, None),
    ("gone: nothing to do", None, 6, None),
]


@pytest.mark.parametrize(
    ("case", "stored", "now", "expected"), RELEASE, ids=[c[0] for c in RELEASE]
)
def test_release(
    case: str, stored: Lease | None, now: float, expected: tuple[None, int, float] | None
) -> None:
    got = release(stored, LEASE, now=at(now))
    if expected is None:
        assert got is None, case
    else:
        assert got is not None, case
        assert (got.holder, got.token, got.expires) == (expected[0], expected[1], at(expected[2]))
        assert got.free(at(now))


HOLDS = [
    ("current tenure, time to spare", row("a", 3, 10), 0, 5, True),
    ("current tenure, less than the margin left", row("a", 3, 10), 5.5, 5, False),
    ("current tenure, no margin asked, just in time", row("a", 3, 10), 9.9, 0, True),
    ("expired", row("a", 3, 10), 10, 0, False),
    ("stolen: the stale holder is refused", row("b", 4, 40), 11, 0, False),
    ("re-acquired by the same holder: the old tenure is refused", row("a", 4, 40), 11, 0, False),
    ("released", row(None, 3, 5), 6, 0, False),
    ("gone", None, 0, 0, False),
]


@pytest.mark.parametrize(
    ("case", "stored", "now", "margin", "expected"), HOLDS, ids=[c[0] for c in HOLDS]
)
def test_fencing_check(
    case: str, stored: Lease | None, now: float, margin: float, expected: bool
) -> None:
    assert holds(stored, LEASE, now=at(now), margin=margin) is expected, case


def test_a_released_lease_passes_no_fencing_check() -> None:
    released = Lease("git", "repo", None, 3, at(10))
    assert not holds(released, released, now=T0)


@pytest.mark.parametrize("seed", range(20))
def test_fencing_tokens_only_grow_whoever_acquires(seed: int) -> None:
    """Random acquisitions, renewals, releases and pauses by three holders: every new tenure
    has a larger token than every earlier one, and at most one holder holds at any time."""
    rng = random.Random(seed)
    stored: Lease | None = None
    now, last_token = 0.0, 0
    mine: dict[str, Lease] = {}
    for _ in range(300):
        now += rng.choice([0.0, 1.0, 5.0, 29.0, 31.0])
        holder = rng.choice("abc")
        action = rng.choice(["acquire", "renew", "release"])
        if action == "acquire":
            got = acquire(stored, kind="git", name="repo", holder=holder, now=at(now), ttl=TTL)
            if got is not None:
                if stored is None or got.token != stored.token or got.holder != stored.holder:
                    assert got.token > last_token
                    last_token = got.token
                stored, mine[holder] = got, got
        elif holder in mine:
            change = (renew(stored, mine[holder], now=at(now), ttl=TTL) if action == "renew"
                      else release(stored, mine[holder], now=at(now)))  # fmt: skip
            if change is not None:
                assert change.token == stored.token if stored else False
                stored = change
        holding = [h for h, lease in mine.items() if holds(stored, lease, now=at(now))]
        assert len(holding) <= 1


SLOTS = [
    ("never claimed", None, 0, True),
    ("claimed long enough ago", 0, 60, True),
    ("claimed less than an interval ago", 0, 59.9, False),
]


@pytest.mark.parametrize(("case", "claimed", "now", "expected"), SLOTS, ids=[c[0] for c in SLOTS])
def test_scan_slot(case: str, claimed: float | None, now: float, expected: bool) -> None:
    when = None if claimed is None else at(claimed)
    assert slot_free(when, now=at(now), every=60) is expected, case
