"""Benchmark: semver selection over 100,000 tags against a naive baseline in the same run.

The baseline is the least a semver pick can do: one compiled regex turning each tag into an int
tuple, then ``sorted()`` of the tuples inside ``>=1.0.0 <50.0.0``. ``select()`` does much more
(range parsing, the default ``.sig`` exclusion, de-duplication, a reason for every tag), so the
goal is to stay within 1.2x of the baseline.

Then the command line, as a user runs it (the console script, one process per run, best of
``CLI_REPEATS`` interleaved): interpreter start-up alone (``python -c pass``), ``--version``,
``--help``, and ``policy select`` over the same selection written as a policy file and a tag
list of 10 and of 100,000 tags. Goals: ``--version``/``--help`` <= 150 ms and select on 10
tags <= 300 ms of wall time; select on 100,000 tags minus start-up <= 1.2x the in-process
baseline. Run: ``.venv/bin/python bench/policy_select.py`` (``--no-cli``: in-process only).
"""

from __future__ import annotations

import argparse
import gc
import os
import platform
import random
import re
import resource
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path

from image_automation.policy import SelectionSpec, select

N_TAGS = 100_000
RANGE = ">=1.0.0 <50.0.0"
REPEATS = 15
GOAL = 1.2
CLI_REPEATS = 7
CLI_GOALS_MS = {"--version": 150.0, "--help": 150.0, "select 10 tags": 300.0}
POLICY = f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: bench, namespace: bench}}
spec:
  image: registry.example.com/bench
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: bench, namespace: bench}}
spec:
  imageRepositoryRef: {{name: bench}}
  policy:
    semver: {{range: '{RANGE}'}}
"""


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


def in_process(tags: list[str]) -> tuple[float, float] | None:
    """Best baseline and select() times; None when they disagree on the winner."""
    base_times: list[float] = []
    our_times: list[float] = []
    for _ in range(REPEATS):  # interleaved, so both see the same machine state
        t, expected = best_time(baseline, tags)
        base_times.append(t)
        t, got = best_time(ours, tags)
        our_times.append(t)
        if got != expected:
            print(f"MISMATCH: select() chose {got}, baseline {expected}")
            return None
    return min(base_times), min(our_times)


def run_once(argv: Sequence[str]) -> tuple[float, float, str]:
    """Wall and CPU (user + sys) seconds of one child process, and its stdout."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(argv, capture_output=True, text=True, check=False)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"{' '.join(argv[:4])}... exited {proc.returncode}: {proc.stderr}")
    return wall, cpu, proc.stdout


def cli_runs(tags: list[str], workdir: Path) -> dict[str, tuple[float, float]]:
    """Best wall and CPU seconds per command line, all interleaved round by round."""
    script = Path(sys.executable).with_name("image-automation")
    exe = [str(script)] if script.exists() else [sys.executable, "-m", "image_automation"]
    policy = workdir / "policy.yaml"
    policy.write_text(POLICY)
    lines = {"select 10 tags": tags[:10], "select 100k tags": tags}
    commands: dict[str, list[str]] = {
        "python -c pass": [sys.executable, "-c", "pass"],
        "--version": [*exe, "--version"],
        "--help": [*exe, "--help"],
    }
    expected: dict[str, str] = {}
    for name, subset in lines.items():
        path = workdir / f"{name.split()[1]}.txt"
        path.write_text("\n".join(subset) + "\n")
        commands[name] = [
            *exe,
            "policy",
            "select",
            "--policy",
            str(policy),
            "--tags-from",
            str(path),
        ]
        expected[name] = baseline(subset) + "\n"
    best: dict[str, tuple[float, float]] = {}
    for _ in range(CLI_REPEATS):
        for name, argv in commands.items():
            wall, cpu, out = run_once(argv)
            if name in expected and out != expected[name]:
                raise RuntimeError(f"MISMATCH: {name} printed {out!r}, baseline {expected[name]!r}")
            old = best.get(name, (wall, cpu))
            best[name] = (min(old[0], wall), min(old[1], cpu))
    return best


def report_cli(best: dict[str, tuple[float, float]], *, base: float, mine: float) -> None:
    start_wall = best["python -c pass"][0]
    print(f"command line: best of {CLI_REPEATS} interleaved runs each (wall / CPU user+sys)")
    for name, (wall, cpu) in best.items():
        line = f"  {name:<17} wall {wall * 1e3:7.1f} ms  cpu {cpu * 1e3:7.1f} ms"
        if name != "python -c pass":
            line += f"  minus start-up: wall {(wall - start_wall) * 1e3:7.1f} ms"
        goal = CLI_GOALS_MS.get(name)
        if goal is not None:
            line += f"  (goal <= {goal:.0f} ms wall: {'met' if wall * 1e3 <= goal else 'NOT met'})"
        print(line)
    big, small = best["select 100k tags"][0], best["select 10 tags"][0]
    whole = (big - start_wall) / base
    print(
        f"select 100k tags minus start-up vs in-process baseline: {whole:.2f}x "
        f"(goal <= {GOAL}x): {'met' if whole <= GOAL else 'NOT met'}"
    )
    print(
        f"select 100k tags minus start-up vs in-process select(): {(big - start_wall) / mine:.2f}x"
    )
    print(
        f"select 100k minus select 10 (the per-tag part) vs baseline: {(big - small) / base:.2f}x"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--no-cli", action="store_true", help="in-process measurement only")
    args = parser.parse_args()
    tags = generate_tags(N_TAGS)
    timed = in_process(tags)
    if timed is None:
        return 1
    base, mine = timed
    ratio = mine / base
    print(f"python {platform.python_version()} on {platform.machine()}, {N_TAGS} tags, {RANGE!r}")
    print(f"baseline (regex + sorted): best {base * 1e3:.1f} ms of {REPEATS}")
    print(f"select():                  best {mine * 1e3:.1f} ms of {REPEATS}")
    print(f"ratio: {ratio:.2f}x (goal <= {GOAL}x): {'met' if ratio <= GOAL else 'NOT met'}")
    if args.no_cli:
        return 0
    print(f"load average before the command-line runs: {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as workdir:
        try:
            best = cli_runs(tags, Path(workdir))
        except RuntimeError as exc:
            print(exc)
            return 1
    report_cli(best, base=base, mine=mine)
    return 0


if __name__ == "__main__":
    sys.exit(main())
