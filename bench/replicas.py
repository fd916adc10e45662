"""Benchmark: reconcile throughput and memory of 1 and of 3 replicas on one PostgreSQL.

The fleet (defaults): 1,000 native ``ImageAutomation`` objects, each in a namespace of its
own with 5 ``TrackedImage`` policies (5,000 policies) over 500 image repositories in a real
registry (Debian ``docker-registry``; each repository holds ``1.0.0`` and ``1.1.0``, every
policy allows both). The automations write to 100 git repositories (``file://`` bare repos,
10 automations each, every one under its own path with 5 marked values at ``1.0.0``); the
policy repository holds all 6,000 documents. So every automation has one commit to make.

For each replica count (1, then 3) the run starts from the same seed: fresh database,
target repositories reset, empty data dirs. It starts the replicas together (``run --state
postgresql://…``) and waits until every automation has pushed (the ``pushes`` table counts
them; at the end each repository's history is checked: exactly one commit per automation).
Reported per run:

* **throughput**: automations reconciled (committed and pushed) per second between the 10th
  and the 90th percentile of the push times (the steady middle, after every replica has read
  the files and joined, before the last stragglers);
* **cold**: seconds from starting the processes to the last push (start-up included: reading
  6,000 documents, scanning 500 repositories once between all replicas, cloning);
* **RSS** per replica, current and peak (``VmRSS``, ``VmHWM``), at the end.

Then the ratio of the throughputs (goal: 3 replicas ≥ 2.5x one) and the largest RSS (goal:
≤ 200 MB). The machine's cores are printed: three processes cannot run three times as fast on
fewer than three cores.

    .venv/bin/python bench/replicas.py [--automations 1000] [--policies 5] [--images 500]
                                       [--repos 100] [--replicas 1,3]
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psycopg

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.integration.git_fixtures import free_port, make_remote, run_git
from tests.integration.postgres_server import PostgresServer, start_postgres
from tests.integration.registry_fixtures import push_image, start_registry

EXE = Path(sys.executable).with_name("image-automation")


def namespace_doc(ns: int, *, policies: int, images: int, host: str, repo: str) -> str:
    docs = [
        f"""\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {{name: p{p}, namespace: ns{ns:04d}}}
spec:
  image: {host}/bench/img{(ns * policies + p) % images:03d}
  scan: {{interval: 1h}}
  select: {{semver: {{range: ">=1.0.0"}}}}
"""
        for p in range(policies)
    ]
    docs.append(f"""\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: deliver, namespace: ns{ns:04d}}}
spec:
  interval: 1h
  git:
    url: {repo}
    branch: main
    push: {{branch: main}}
  commit:
    author: {{name: bench, email: bench@example.com}}
  update: {{path: ./ns{ns:04d}}}
""")
    return "---\n".join(docs)


def manifest(ns: int, *, policies: int, images: int, host: str) -> str:
    containers = "".join(
        f"        - name: c{p}\n"
        f"          image: {host}/bench/img{(ns * policies + p) % images:03d}:1.0.0"
        f' # {{"$imagepolicy": "ns{ns:04d}:p{p}"}}\n'
        for p in range(policies)
    )
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: app, namespace: ns{ns:04d}}}\n"
        f"spec:\n  template:\n    spec:\n      containers:\n{containers}"
    )


class Fleet:
    """The seed: registry content, the policy repository, template target repositories."""

    def __init__(self, root: Path, args: argparse.Namespace, host: str) -> None:
        self.root, self.args, self.host = root, args, host
        self.home = make_remote(root / "home.git")
        self.templates = root / "templates"
        self.targets = root / "targets"
        self.registries = root / "registries.yaml"
        self.registries.write_text(f"hosts:\n  {host}:\n    insecure: true\n")

    def build(self) -> None:
        a = self.args
        per_repo: dict[int, dict[str, str]] = {}
        docs = {}
        for ns in range(a.automations):
            repo = ns % a.repos
            url = f"file://{self.targets / f'r{repo:03d}.git'}"
            docs[f"clusters/ns{ns:04d}.yaml"] = namespace_doc(
                ns, policies=a.policies, images=a.images, host=self.host, repo=url
            )
            per_repo.setdefault(repo, {})[f"ns{ns:04d}/app.yaml"] = manifest(
                ns, policies=a.policies, images=a.images, host=self.host
            )
        self.home.commit_files(docs, "fleet")
        for repo, files in per_repo.items():
            make_remote(self.templates / f"r{repo:03d}.git").commit_files(files, "seed")

    def reset(self) -> None:
        shutil.rmtree(self.targets, ignore_errors=True)
        shutil.copytree(self.templates, self.targets, symlinks=True)

    def commits(self) -> int:
        """Commits on top of the seeds, over all target repositories."""
        total = 0
        for repo in sorted(self.targets.glob("r*.git")):
            out = run_git("--git-dir", str(repo), "rev-list", "--count", "main")
            total += int(out) - 2  # the empty initial commit and the seed
        return total


def push_registry(registry_url: str, images: int, client_factory: object) -> None:
    with client_factory() as client:  # type: ignore[operator]
        for i in range(images):
            push_image(client, registry_url, f"bench/img{i:03d}", ["1.0.0", "1.1.0"],
                       salt=str(i))  # fmt: skip


def status(pid: int) -> dict[str, float]:
    """RSS and peak RSS in bytes, and CPU seconds: the process's own and its waited-for
    children's (the git commands it ran)."""
    out: dict[str, float] = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        key, _, value = line.partition(":")
        if key in ("VmRSS", "VmHWM"):
            out[key] = int(value.split()[0]) * 1024
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    ticks = os.sysconf("SC_CLK_TCK")
    out["cpu"] = (int(fields[11]) + int(fields[12])) / ticks
    out["children"] = (int(fields[13]) + int(fields[14])) / ticks
    return out


def pushed(pg: PostgresServer, db: str) -> int:
    """Pushes recorded so far (0 before the first replica created the tables)."""
    try:
        [(done,)] = pg.sql("SELECT count(*) FROM pushes", dbname=db)
    except psycopg.errors.UndefinedTable:
        return 0
    return int(str(done))


def one_run(fleet: Fleet, pg: PostgresServer, replicas: int) -> dict[str, object]:
    a = fleet.args
    fleet.reset()
    db = pg.create_database()
    url = pg.url(db)
    procs = []
    started = time.monotonic()
    for n in range(replicas):
        data = fleet.root / f"data-{replicas}-{n}"
        shutil.rmtree(data, ignore_errors=True)
        log = (fleet.root / f"replicas-{replicas}-{n}.log").open("wb")
        procs.append(subprocess.Popen(
            [str(EXE), "run", "--repo", f"file://{fleet.home.path}", "--state", url,
             "--data-dir", str(data), "--listen", f"127.0.0.1:{free_port()}",
             "--registries", str(fleet.registries), "--log-format", "json",
             "--log-level", a.log_level, "--interval", "1h"],
            stdout=log, stderr=subprocess.STDOUT,
        ))  # fmt: skip
    try:
        deadline = started + a.limit
        while True:
            done = pushed(pg, db)
            if done >= a.automations:
                break
            for proc in procs:
                if proc.poll() is not None:
                    raise SystemExit(f"a replica exited with {proc.returncode}")
            if time.monotonic() > deadline:
                raise SystemExit(f"only {done} of {a.automations} pushed within {a.limit}s")
            time.sleep(1)
        cold = time.monotonic() - started
        memory = [status(p.pid) for p in procs]
        rows = pg.sql("SELECT extract(epoch FROM pushed_at) FROM pushes ORDER BY pushed_at",
                      dbname=db)  # fmt: skip
        times = [float(str(r[0])) for r in rows]
        lo, hi = times[len(times) // 10], times[(len(times) * 9) // 10]
        middle = (len(times) * 9) // 10 - len(times) // 10
        by_replica = pg.sql(
            "SELECT holder, count(*) FROM leases WHERE kind = 'git' GROUP BY holder", dbname=db
        )
    finally:
        for proc in procs:
            proc.send_signal(signal.SIGTERM)
        for proc in procs:
            proc.wait(120)
    commits = fleet.commits()
    if commits != a.automations:
        raise SystemExit(f"{commits} commits on the remotes for {a.automations} automations")
    pg.drop_database(db)
    return {
        "throughput": middle / (hi - lo) if hi > lo else float("inf"),
        "cold": cold,
        "memory": memory,
        "repos": sorted(int(str(c)) for _, c in by_replica),
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--automations", type=int, default=1000)
    parser.add_argument("--policies", type=int, default=5, help="per automation")
    parser.add_argument("--images", type=int, default=500)
    parser.add_argument("--repos", type=int, default=100, help="git repositories written to")
    parser.add_argument("--replicas", default="1,3")
    parser.add_argument("--limit", type=float, default=3600, help="seconds one run may take")
    parser.add_argument("--keep", type=Path, help="work here and keep it (logs, data dirs)")
    parser.add_argument("--log-level", default="warning", help="of the replicas' logs")
    args = parser.parse_args()
    counts = [int(x) for x in args.replicas.split(",")]
    print(f"python {platform.python_version()} on {platform.machine()}, {os.cpu_count()} cores, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    print(f"{args.automations} automations, {args.automations * args.policies} policies, "
          f"{args.images} image repositories, {args.repos} git repositories")  # fmt: skip
    registry = start_registry("anonymous")
    pg = start_postgres()
    with tempfile.TemporaryDirectory(prefix="bench-replicas-") as scratch:
        tmp = args.keep or scratch
        Path(tmp).mkdir(parents=True, exist_ok=True)
        try:
            fleet = Fleet(Path(tmp), args, registry.host)
            push_registry(registry.url, args.images, registry.push_client)
            fleet.build()
            results = {}
            for n in counts:
                results[n] = r = one_run(fleet, pg, n)
                rss = ", ".join(f"{m['VmRSS'] / 2**20:.0f}/{m['VmHWM'] / 2**20:.0f}"
                                for m in r["memory"])  # type: ignore[attr-defined]  # fmt: skip
                cpu = ", ".join(f"{m['cpu']:.0f}+{m['children']:.0f}"
                                for m in r["memory"])  # type: ignore[attr-defined]  # fmt: skip
                print(f"{n} replica(s): {r['throughput']:.2f} automations/s (10th-90th pct of "
                      f"pushes), cold {r['cold']:.0f}s to the last push, git repositories held "
                      f"{r['repos']}, RSS/peak MB {rss}, CPU s (own+git) {cpu}, load average "
                      f"{os.getloadavg()[0]:.1f}")  # fmt: skip
        finally:
            pg.stop()
            registry.stop()
    if 1 in results and len(results) > 1:
        top = max(counts)
        ratio = float(results[top]["throughput"]) / float(results[1]["throughput"])  # type: ignore[arg-type]
        print(
            f"ratio {top} vs 1: {ratio:.2f}x (goal >= 2.5x): {'met' if ratio >= 2.5 else 'NOT met'}"
        )
    peak = max(m["VmHWM"] for r in results.values() for m in r["memory"]) / 2**20  # type: ignore[attr-defined]
    print(
        f"largest peak RSS: {peak:.0f} MB (goal <= 200 MB): {'met' if peak <= 200 else 'NOT met'}"
    )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
