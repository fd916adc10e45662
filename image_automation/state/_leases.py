"""Lease rules, pure: who holds a named piece of work, until when, under which fencing token.

Why a module without I/O: every backend (the PostgreSQL table replicas share, the in-memory
table of a single daemon on SQLite) applies exactly these rules to a row it has read and
locked, at the time its own clock gives. So the rules are written once and tested once,
table-driven, with a test clock.

- A lease is *free* when nobody holds it or its expiry has passed. Acquiring a free lease
  makes the caller its holder until ``now + ttl`` with the next fencing token: tokens only
  ever grow, so a later tenure always has a larger token than an earlier one, whoever held
  them. Taking over another holder's expired lease ("steal") is an acquisition like any other.
- Acquiring a lease the caller already holds (same holder, not expired) renews it and keeps
  its token: asking twice is harmless.
- Renewal needs the same holder *and* token and an unexpired lease. An expired lease is never
  renewed, even when nobody took it: the holder may have been presumed dead, so it must
  acquire again and get a new token.
- Release needs the same holder and token; the lease becomes free at once and keeps its
  token, so the next acquisition still gets a larger one.
- The fencing check (:func:`holds`) passes only for the current holder and token with more
  than ``margin`` left: a stale holder (expired, released, or superseded) is refused.
- A scan slot (:func:`slot_free`) is not a lease: it only says when a repository was last
  scanned on a timer, so that the next scheduled scan waits at least one interval.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import datetime, timedelta


@dataclass(frozen=True, slots=True)
class Lease:
    """One lease as stored: ``holder`` is ``None`` once released. ``token`` is the fencing
    token of the latest acquisition (0 for a lease never acquired)."""

    kind: str
    name: str
    holder: str | None
    token: int
    expires: datetime

    def free(self, now: datetime) -> bool:
        """Nobody holds it now: released, or its expiry has passed."""
        return self.holder is None or self.expires <= now

    def held_by(self, holder: str, now: datetime) -> bool:
        return self.holder == holder and self.expires > now


def acquire(
    current: Lease | None, *, kind: str, name: str, holder: str, now: datetime, ttl: float
) -> Lease | None:
    """The lease after ``holder`` asks for it at ``now``; ``None`` when someone else holds it.

    ``current`` is the stored row (``None``: never stored).
    """
    if ttl <= 0:
        raise ValueError(f"a lease needs a positive duration, not {ttl}")
    until = now + timedelta(seconds=ttl)
    if current is None:
        return Lease(kind, name, holder, 1, until)
    if current.held_by(holder, now):
        return replace(current, expires=max(current.expires, until))
    if not current.free(now):
        return None
    return replace(current, holder=holder, token=current.token + 1, expires=until)


def renew(current: Lease | None, lease: Lease, *, now: datetime, ttl: float) -> Lease | None:
    """``lease`` extended to ``now + ttl``; ``None`` when it is no longer the holder's."""
    if not holds(current, lease, now=now):
        return None
    assert current is not None  # holds() said so
    return replace(current, expires=max(current.expires, now + timedelta(seconds=ttl)))


def release(current: Lease | None, lease: Lease, *, now: datetime) -> Lease | None:
    """The row after ``lease`` is given back; ``None`` when it was not the holder's to give
    (expired and taken, or released already): nothing to change then."""
    if current is None or (current.holder, current.token) != (lease.holder, lease.token):
        return None
    return replace(current, holder=None, expires=min(current.expires, now))


def holds(current: Lease | None, lease: Lease, *, now: datetime, margin: float = 0.0) -> bool:
    """The fencing check: ``lease`` is still the current tenure with more than ``margin``
    seconds left."""
    if current is None or lease.holder is None:
        return False
    same = (current.holder, current.token) == (lease.holder, lease.token)
    return same and current.expires > now + timedelta(seconds=margin)


def slot_free(claimed: datetime | None, *, now: datetime, every: float) -> bool:
    """A scan slot last claimed at ``claimed`` may be claimed again at ``now``: at least
    ``every`` seconds have passed (or it was never claimed)."""
    return claimed is None or now - claimed >= timedelta(seconds=every)


__all__ = ["Lease", "acquire", "holds", "release", "renew", "slot_free"]
