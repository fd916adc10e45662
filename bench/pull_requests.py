"""Benchmark: pull-request delivery on the six fake forges (issue 10's two figures).

Every forge is one of the test suite's spec-validating fakes (tests/forges), started in this
process, with its real bare repository served over smart HTTP at the forge's own path
(tests/e2e/pullrequests/fleet.py); the registry is a real Debian ``docker-registry``. The
fleet is a Flux ImageUpdateAutomation opted in to pull requests by annotations, a marked
Deployment, an ImageRepository/ImagePolicy pair and a Docker-Hub-style Receiver.

(a) Steady state: forge API requests per no-op reconcile of an automation whose pull request
is open (nothing new to propose), counted in the fake's request log; goal <= 1, answered
``304 Not Modified`` where the forge supports conditional requests (GitHub only). Two ways:

- ``reconcile --once``, one process per run (``--once-runs`` of them after the one that
  opens the pull request): a new process has a new forge client, whose ETags come from
  the state store (the first run after opening has none for the pull request's own URL);
- the daemon (``image-automation run`` as a subprocess), whose forge client pool lives as
  long as the daemon: each no-op reconcile is started by a registry webhook with no new tag
  and counted from "the daemon's queue is idle" to "one more reconcile recorded and idle
  again" (its metrics), so every request in between belongs to that reconcile.

(b) Webhook → pull request updated, on the same daemon: a new tag is pushed (not timed),
then the time from the POST to the Receiver until the fake records the pull request's update
request (title and body naming the tag; the head was force-pushed just before). Baseline in
the same run, same fake, same smart-HTTP server, same bare repository: ``git push --force``
of a commit prepared beforehand (one edit on main's head) to a branch of its own, then the
forge's one update request (PATCH; PUT on GitLab and Bitbucket) for a pull request of its
own, over a kept-open HTTP connection, until the fake records it. The order alternates per
iteration. Goal: median <= 1.5x the baseline's.

Any request or reply that breaks a forge's description, a daemon that exits, or a pull
request that is not updated fails the run.

    .venv/bin/python bench/pull_requests.py [--forges github,gitlab,...] [--once-runs 5]
        [--noops 10] [--iterations 15]
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from dataclasses import dataclass, field
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from bench._pr_fleet import (
    BenchFleet,
    Noop,
    Watch,
    update_operation,
)
from tests.forges.fixtures import PROVIDERS
from tests.integration.registry_fixtures import RegistryServer, start_registry

CONDITIONAL = frozenset({"github"})  # the forges whose API answers If-None-Match with 304


@dataclass
class Figures:
    provider: str
    once: list[Noop] = field(default_factory=list)
    daemon: list[Noop] = field(default_factory=list)
    hook: list[float] = field(default_factory=list)
    raw: list[float] = field(default_factory=list)
    updates: list[Noop] = field(default_factory=list)

    @property
    def ratio(self) -> float:
        return statistics.median(self.hook) / statistics.median(self.raw)


def once_runs(provider: str, registry: RegistryServer, root: Path, runs: int) -> list[Noop]:
    """Open the pull request with one ``reconcile --once``, then ``runs`` no-op runs."""
    with BenchFleet.start(provider, registry, root) as bench:
        bench.fleet.seed(bench.automation(), scan="1h")
        bench.fleet.push("1.1.0")
        first = bench.fleet.reconcile(process=True)
        assert ": opened #" in first.stdout, first.stdout
        counted = []
        for _ in range(runs):
            counted.append(bench.count(lambda: _unchanged(bench)))
        bench.verdict()
        return counted


def _unchanged(bench: BenchFleet) -> None:
    done = bench.fleet.reconcile(process=True)
    assert ": unchanged" in done.stdout, done.stdout


def daemon_runs(
    provider: str, registry: RegistryServer, root: Path, *, noops: int, iterations: int
) -> Figures:
    figures = Figures(provider)
    with BenchFleet.start(provider, registry, root) as bench:
        bench.fleet.seed(bench.automation(), scan="1h")
        bench.fleet.push("1.1.0")
        bench.start_daemon()
        number = bench.open_pull_request()
        for _ in range(noops):
            figures.daemon.append(bench.count(bench.hook_reconcile))
        raw = bench.baseline_pull_request()
        op = update_operation(bench.fake)
        watch = Watch(bench.fake)
        for i in range(iterations):
            tag = f"1.2.{i}"
            for side in ("hook", "raw") if i % 2 == 0 else ("raw", "hook"):
                if side == "hook":
                    seconds, requests = bench.timed_hook(watch, op, number, tag)
                    figures.hook.append(seconds)
                    figures.updates.append(requests)
                else:
                    figures.raw.append(bench.timed_raw(watch, op, raw, tag))
        bench.stop_daemon()
        bench.verdict()
    return figures


def _counts(noops: list[Noop]) -> str:
    return " ".join(str(n.requests) for n in noops)


def _not_modified(noops: list[Noop]) -> str:
    return " ".join(str(n.not_modified) for n in noops)


def report(f: Figures) -> list[str]:
    lines = [f"== {f.provider}"]
    conditional = f.provider in CONDITIONAL
    # The first no-op read of a pull request by number has no ETag to send: opening it
    # listed the head's pull requests and created one, it never read the pull request's URL.
    for name, noops, steady in (("reconcile --once", f.once, f.once[1:]),
                                ("daemon", f.daemon, f.daemon[1:])):  # fmt: skip
        if not noops:
            continue
        lines.append(f"  steady state, {name}: forge requests per no-op run: {_counts(noops)}"
                     f" (of them 304: {_not_modified(noops)})")  # fmt: skip
        lines.append(f"    requests: {sorted(set(r for n in noops for r in n.seen))}")
        where = " after the first"
        few = max(n.requests for n in steady) <= 1
        line = f"    goal <= 1 request{where}: {'met' if few else 'NOT met'}"
        if conditional:
            cached = sum(n.not_modified for n in steady)
            total = sum(n.requests for n in steady)
            verdict = "met" if cached == total else "NOT met"
            line += f"; answered 304{where}: {verdict} ({cached} of {total})"
        else:
            line += " (this forge has no conditional requests)"
        lines.append(line)
    if f.hook:
        hook, raw = statistics.median(f.hook), statistics.median(f.raw)
        per = statistics.median(h / r for h, r in zip(f.hook, f.raw, strict=True))
        lines.append(f"  webhook -> PR updated:      median {hook * 1000:6.0f} ms of {len(f.hook)}"
                     f"  (min {min(f.hook) * 1000:.0f}, max {max(f.hook) * 1000:.0f})")  # fmt: skip
        lines.append(f"  raw push + one update call: median {raw * 1000:6.0f} ms of {len(f.raw)}"
                     f"  (min {min(f.raw) * 1000:.0f}, max {max(f.raw) * 1000:.0f})")  # fmt: skip
        lines.append(f"    forge requests per update: {_counts(f.updates)}; the last: "
                     + ", ".join(f.updates[-1].seen))  # fmt: skip
        verdict = "met" if f.ratio <= 1.5 else "NOT met"
        lines.append(f"  ratio of medians: {f.ratio:.2f}x, median per-iteration ratio "
                     f"{per:.2f}x (goal <= 1.5x): {verdict}")  # fmt: skip
    return lines


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--forges", default=",".join(PROVIDERS))
    parser.add_argument("--once-runs", type=int, default=5)
    parser.add_argument("--noops", type=int, default=10)
    parser.add_argument("--iterations", type=int, default=15)
    parser.add_argument("--keep", type=Path, help="work here and keep it (daemon logs ...)")
    args = parser.parse_args()
    forges = [f.strip() for f in args.forges.split(",") if f.strip()]
    unknown = sorted(set(forges) - set(PROVIDERS))
    if unknown or args.noops < 2 or args.once_runs < 1 or args.iterations < 1:
        parser.error(f"unknown forges {unknown} or counts too small (--noops >= 2)")
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"{os.cpu_count()} CPUs, load average before: {_load()}")  # fmt: skip
    registry = start_registry("anonymous")
    try:
        with tempfile.TemporaryDirectory(prefix="bench-pr-") as tmp:
            for provider in forges:
                root = (args.keep.absolute() if args.keep else Path(tmp)) / provider
                figures = daemon_runs(provider, registry, root / "daemon",
                                      noops=args.noops, iterations=args.iterations)  # fmt: skip
                figures.once = once_runs(provider, registry, root / "once", args.once_runs)
                print("\n".join(report(figures)), flush=True)
    finally:
        registry.stop()
    print(f"load average after: {_load()}")
    return 0


def _load() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


if __name__ == "__main__":
    sys.exit(main())
