"""Benchmark: the manifest updater against grep (the floor) and a naive ruamel round trip.

Generates a git checkout (``git init`` + one commit) of N YAML files of about 8 KB in a temp
directory, 1 % of them carrying a setter marker, as ``reconcile`` will see it. Then, in the
same run, alternating to share the machine's noise:

* ``grep -rl '$imagepolicy' ROOT`` (a subprocess, wall time including its start);
* ``update_tree(ROOT, ...)`` with a new tag per run, so every marked file is rewritten;
* for information, ``grep -rl --exclude-dir=.git`` (the walker skips ``.git`` too), and
  CPU time (user+sys) of grep and of the updater, steadier than wall time on a busy box;
* once, a naive ruamel.yaml round-trip ``load`` + ``dump`` (to memory) of every file.

Prints medians and the ratios. Goal: update_tree <= 2x grep. Nothing generated is kept
unless ``--keep`` is given.

    .venv/bin/python bench/update.py [--files 10000] [--per-dir 10] [--runs 7]
                                     [--naive-limit N] [--keep]
"""

from __future__ import annotations

import argparse
import io
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from ruamel.yaml import YAML

from image_automation.domain import ImageRef
from image_automation.manifests import update_tree

NAMESPACE = "flux-system"
_ENV = "".join(
    f"            - name: SETTING_{i:03d}\n"
    f'              value: "value-{i:03d}-abcdefghijklmnopqrstuvwxyz0123456789"\n'
    for i in range(73)
)


def _manifest(i: int, marked: bool) -> str:
    app = f"app{i % 500:03d}"
    marker = f' # {{"$imagepolicy": "{NAMESPACE}:{app}"}}' if marked else ""
    return (
        "---\n"
        "apiVersion: apps/v1\n"
        "kind: Deployment\n"
        "metadata:\n"
        f"  name: {app}-{i}\n"
        f"  namespace: team-{i % 17}\n"
        "  labels:\n"
        f"    app.kubernetes.io/name: {app}\n"
        "spec:\n"
        "  replicas: 2\n"
        "  template:\n"
        "    spec:\n"
        "      containers:\n"
        f"        - name: {app}\n"
        f"          image: ghcr.io/example/{app}:1.0.0{marker}\n"
        "          env:\n"
        f"{_ENV}"
        "          resources:\n"
        "            limits: {cpu: 500m, memory: 256Mi}\n"
    )


def generate(root: Path, files: int, every: int, per_dir: int) -> tuple[int, int]:
    """Write the tree (``per_dir`` files a directory) and commit it; return (marked, bytes)."""
    marked = total = 0
    for i in range(files):
        is_marked = i % every == 0
        service = i // per_dir
        directory = root / f"apps/team-{service % 17:02d}/svc-{service:04d}"
        directory.mkdir(parents=True, exist_ok=True)
        text = _manifest(i, is_marked)
        (directory / f"deployment-{i % per_dir}.yaml").write_text(text)
        marked += is_marked
        total += len(text)
    git = ["git", "-C", str(root), "-c", "user.name=bench", "-c", "user.email=bench@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "-c", "gc.auto=0", "commit", "-q", "-m", "generated"], check=True)
    # Pack now, as a clone would have it, instead of letting auto-gc rewrite .git mid-run.
    subprocess.run([*git, "gc", "-q", "--prune=now"], check=True)
    return marked, total


def time_grep(root: Path, *extra: str) -> tuple[float, float]:
    """(wall, CPU) seconds of one grep run."""
    cpu, start = _cpu(resource.RUSAGE_CHILDREN), time.perf_counter()
    subprocess.run(["grep", "-rl", *extra, "$imagepolicy", str(root)], stdout=subprocess.DEVNULL)
    return time.perf_counter() - start, _cpu(resource.RUSAGE_CHILDREN) - cpu


def time_update(root: Path, run: int, marked: int) -> tuple[float, float]:
    """(wall, CPU) seconds of one update_tree run that rewrites every marked file."""
    policies = {
        f"app{k:03d}": ImageRef.parse(f"ghcr.io/example/app{k:03d}:2.0.{run}") for k in range(500)
    }
    cpu, start = _cpu(resource.RUSAGE_SELF), time.perf_counter()
    result = update_tree(root, namespace=NAMESPACE, policies=policies)
    elapsed = time.perf_counter() - start, _cpu(resource.RUSAGE_SELF) - cpu
    if result.errors or result.warnings or len(result.files_written) != marked:
        sys.exit(
            f"update run {run} is wrong: {len(result.files_written)} written, {result.errors[:3]}"
        )
    return elapsed


def time_naive(root: Path, limit: int | None) -> tuple[float, int]:
    yaml = YAML()  # round-trip
    paths = sorted(root.rglob("*.yaml"))[: limit or None]
    start = time.perf_counter()
    for path in paths:
        docs = list(yaml.load_all(path.read_text()))
        out = io.StringIO()
        yaml.dump_all(docs, out)
    return time.perf_counter() - start, len(paths)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--marked-every", type=int, default=100, help="1 in N files marked")
    parser.add_argument("--per-dir", type=int, default=10, help="files per directory")
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument(
        "--naive-limit", type=int, default=500, help="round-trip N files and extrapolate (0: all)"
    )
    parser.add_argument("--keep", action="store_true", help="keep the generated tree")
    args = parser.parse_args()

    tmp = Path(tempfile.mkdtemp(prefix="bench-update-"))
    try:
        root = tmp / "checkout"
        root.mkdir()
        marked, total = generate(root, args.files, args.marked_every, args.per_dir)
        print(
            f"tree: {args.files} files ({args.per_dir} a directory), {total / 1e6:.1f} MB, "
            f"{marked} marked, in {root}"
        )
        update = _against_grep(root, args.runs, marked)
        naive, naive_files = time_naive(root, args.naive_limit)
        naive_all = naive * args.files / naive_files
        label = "" if naive_files == args.files else f" (extrapolated from {naive_files} files)"
        print(f"ruamel round trip        {naive_all:.1f} s{label}")
        print(f"naive / update = {naive_all / update:.0f}x")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp)


def _against_grep(root: Path, runs: int, marked: int) -> float:
    """Alternate grep and update_tree ``runs`` times; print medians; return update's."""
    time_grep(root), time_update(root, 0, marked)  # warm the page cache
    print(f"load average before: {_load()}")
    greps, updates, greps_nogit = [], [], []
    for run in range(1, runs + 1):
        greps.append(time_grep(root))
        updates.append(time_update(root, run, marked))
        greps_nogit.append(time_grep(root, "--exclude-dir=.git"))
    print(f"load average after:  {_load()}")
    grep, update = _median(greps), _median(updates)
    nogit = _median(greps_nogit)
    print(f"grep -rl '$imagepolicy'   median {grep:.3f} s  (runs: {_fmt(greps)})")
    print(f"update_tree              median {update:.3f} s  (runs: {_fmt(updates)})")
    print(f"(info) grep without .git median {nogit:.3f} s  (runs: {_fmt(greps_nogit)})")
    grep_cpu, update_cpu = _median(greps, 1), _median(updates, 1)
    print(
        f"(info) CPU time (user+sys) medians: grep {grep_cpu:.3f} s, update_tree "
        f"{update_cpu:.3f} s, ratio {update_cpu / grep_cpu:.2f}x"
    )
    verdict = "met" if update / grep <= 2 else "NOT met"
    print(f"update / grep  = {update / grep:.2f}x   (goal <= 2.00x: {verdict})", flush=True)
    return update


def _median(pairs: list[tuple[float, float]], index: int = 0) -> float:
    return statistics.median(p[index] for p in pairs)


def _cpu(who: int) -> float:
    usage = resource.getrusage(who)
    return usage.ru_utime + usage.ru_stime


def _load() -> str:
    return " ".join(f"{v:.2f}" for v in os.getloadavg()) + f" on {os.cpu_count()} CPUs"


def _fmt(pairs: list[tuple[float, float]]) -> str:
    return " ".join(f"{wall:.3f}" for wall, _ in pairs)


if __name__ == "__main__":
    main()
