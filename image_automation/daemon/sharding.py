"""Which replica should hold which git repository: rendezvous hashing with bounded loads.

Pure: every replica computes the same answer from the same inputs (the repositories the
policy files name and the replicas alive in the lease table), so they agree on who takes
what without talking to each other; the leases settle any moment of disagreement (a
repository wanted by two replicas goes to the one that acquires it first).

A live replica keeps the repositories it holds, up to its share, ``ceil(repositories /
replicas)``; every other repository ranks the replicas by a hash of (replica, repository) and
goes to the highest-ranked one that still has room. So no replica gets more than its share
(the slowest replica bounds the whole fleet's throughput), a replica leaving moves only its
own repositories, and one joining takes its share and nothing else moves.
"""

from __future__ import annotations

import hashlib
import math
from collections import Counter
from collections.abc import Iterable, Mapping


def _rank(*parts: str) -> bytes:
    return hashlib.sha256("\0".join(parts).encode()).digest()


def assign(
    units: Iterable[str], replicas: Iterable[str], held: Mapping[str, str] | None = None
) -> dict[str, str]:
    """Unit → replica, each replica getting at most ``ceil(len(units) / len(replicas))``.

    ``held``: unit → the replica holding it now. A live replica keeps what it holds, up to
    its share (the units it ranks highest), so a replica leaving moves only its own units and
    one joining takes only its share. Empty when there are no replicas.
    """
    members = sorted(set(replicas))
    order = sorted(set(units), key=lambda u: (_rank(u), u))
    if not members or not order:
        return {}
    room = math.ceil(len(order) / len(members))
    out: dict[str, str] = {}
    load: Counter[str] = Counter()
    mine: dict[str, list[str]] = {}
    for unit in order:
        holder = (held or {}).get(unit)
        if holder in members:
            mine.setdefault(holder, []).append(unit)
    for member, kept in mine.items():
        for unit in sorted(kept, key=lambda u: _rank(member, u), reverse=True)[:room]:
            out[unit] = member
            load[member] += 1
    for unit in order:
        if unit in out:
            continue
        for member in sorted(members, key=lambda m: _rank(m, unit), reverse=True):
            if load[member] < room:
                out[unit] = member
                load[member] += 1
                break
    return out


__all__ = ["assign"]
