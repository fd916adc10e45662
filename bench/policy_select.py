"""Benchmark: semver selection over 100,000 tags against a naive baseline in the same run.

The baseline is the least a semver pick can do: one compiled regex turning each tag into an int
tuple, then ``sorted()`` of the tuples inside ``>=1.0.0 <50.0.0``. ``select()`` does much more
(range parsing, the default ``.sig`` exclusion, de-duplication, a reason for every tag), so the
goal is to stay within 1.2x of the baseline. Run: ``.venv/bin/python bench/policy_select.py``.
"""

from __future__ import annotations

import gc
import platform
import random
import re
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime

from image_automation.policy import SelectionSpec, select

N_TAGS = 100_000
RANGE = ">=1.0.0 <50.0.0"
REPEATS = 15
GOAL = 1.2


def generate_tags(n: int, *, seed: int = 20261122) -> list[str]:
    """``n`` distinct three-part tags, some below, inside and above the range, shuffled."""
    rng = random.Random(seed)
    combos = [(a, b, c) for a in range(60) for b in range(50) for c in range(34)]
    picked = rng.sample(combos, n)
    return [f"{a}.{b}.{c}" for a, b, c in picked]


_TAG = re.compile(r"(\d+)\.(\d+)\.(\d+)")


def baseline(tags: list[str]) -> str:
    lo, hi = (1, 0, 0), (50, 0, 0)
    parsed = [(int(m[1]), int(m[2]), int(m[3])) for m in map(_TAG.fullmatch, tags) if m]
    best = sorted(k for k in parsed if lo <= k < hi)[-1]
    return "{}.{}.{}".format(*best)


def ours(tags: list[str]) -> str:
    spec = SelectionSpec(name="bench", ordering="semver", semver_range=RANGE)
    decision = select(spec, tags, now=datetime(2026, 1, 1, tzinfo=UTC))
    assert decision.tag is not None
    return decision.tag


def best_time(fn: Callable[[list[str]], str], tags: list[str]) -> tuple[float, str]:
    gc.collect()
    start = time.perf_counter()
    result = fn(tags)
    return time.perf_counter() - start, result


def main() -> int:
    tags = generate_tags(N_TAGS)
    base_times: list[float] = []
    our_times: list[float] = []
    for _ in range(REPEATS):  # interleaved, so both see the same machine state
        t, expected = best_time(baseline, tags)
        base_times.append(t)
        t, got = best_time(ours, tags)
        our_times.append(t)
        if got != expected:
            print(f"MISMATCH: select() chose {got}, baseline {expected}")
            return 1
    base, mine = min(base_times), min(our_times)
    ratio = mine / base
    print(f"python {platform.python_version()} on {platform.machine()}, {N_TAGS} tags, {RANGE!r}")
    print(f"baseline (regex + sorted): best {base * 1e3:.1f} ms of {REPEATS}")
    print(f"select():                  best {mine * 1e3:.1f} ms of {REPEATS}")
    print(f"ratio: {ratio:.2f}x (goal <= {GOAL}x): {'met' if ratio <= GOAL else 'NOT met'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
