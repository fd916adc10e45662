"""Benchmark: `reconcile --once` against a shell doing the same edit, commit and push.

Builds, in a temp dir, a local registry (Debian `docker-registry`) with 100 repositories
`bench/appNNN` tagged 1.0.0 and 2.0.0, and a bare git remote (file://) of 10,000 YAML files
of about 8 KB; 100 of them carry a marker for their own image at 1.0.0, and the repository
holds the 100 ImageRepository/ImagePolicy pairs and one Flux ImageUpdateAutomation.
Every run moves all 100 images to 2.0.0. Then, alternating, with the remote reset to the
seed commit before each run:

* baseline: `git clone --depth 1`, one `sed -i` over the 100 marked files (the list is
  given: the shell knows what to edit and scans no registry), `git commit -a`, `git push`;
* cold: `image-automation reconcile --once --repo file://...` with an empty work dir
  (clone, discover policies, scan the registry, select, edit, commit, push);
* warm: the same with the work dir of the previous run (clone cache hit: fetch + reset).

Each run is checked: the remote ends one commit ahead with 100 files changed. Before
measuring, the package and its dependencies are byte-compiled (as a pip install does; an
environment with PYTHONDONTWRITEBYTECODE would otherwise recompile them in every run).

    .venv/bin/python bench/reconcile.py [--files 10000] [--images 100] [--runs 3] [--keep]
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.integration.local_registry import LocalRegistry  # noqa: E402

EXE = Path(sys.executable).with_name("image-automation")
NAMESPACE = "flux-system"
_ENV = "".join(
    f"            - name: SETTING_{i:03d}\n"
    f'              value: "value-{i:03d}-abcdefghijklmnopqrstuvwxyz0123456789"\n'
    for i in range(73)
)
AUTOMATION = f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: bench, namespace: {NAMESPACE}}}
spec:
  interval: 5m
  sourceRef: {{kind: GitRepository, name: bench}}
  git:
    commit:
      author: {{name: bench, email: bench@example.com}}
  update: {{path: ./apps}}
"""


def _manifest(i: int, image: str, marked: bool) -> str:
    marker = f' # {{"$imagepolicy": "{NAMESPACE}:app{i:03d}"}}' if marked else ""
    return (
        "---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n"
        f"  name: svc-{i}\n  namespace: team-{i % 17}\nspec:\n  replicas: 2\n"
        "  template:\n    spec:\n      containers:\n"
        f"        - name: svc-{i}\n          image: {image}:1.0.0{marker}\n"
        f"          env:\n{_ENV}"
        "          resources:\n            limits: {cpu: 500m, memory: 256Mi}\n"
    )


def _policies(host: str, images: int) -> str:
    docs = []
    for k in range(images):
        docs.append(
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
            f"metadata: {{name: app{k:03d}, namespace: {NAMESPACE}}}\n"
            f"spec:\n  image: {host}/bench/app{k:03d}\n  interval: 5m\n  insecure: true\n---\n"
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
            f"metadata: {{name: app{k:03d}, namespace: {NAMESPACE}}}\n"
            f"spec:\n  imageRepositoryRef: {{name: app{k:03d}}}\n"
            "  policy: {semver: {range: '>=1.0.0'}}\n"
        )
    return "---\n".join(docs)


def build_remote(tmp: Path, host: str, files: int, images: int) -> tuple[Path, list[str], int]:
    """The bare remote, the marked files (relative), and the tree size in bytes."""
    work = tmp / "seed"
    every = files // images
    marked: list[str] = []
    total = 0
    for i in range(files):
        is_marked = i % every == 0 and len(marked) < images
        k = len(marked)
        image = f"{host}/bench/app{k:03d}" if is_marked else f"ghcr.io/example/other{i % 500}"
        rel = f"apps/team-{i % 17:02d}/svc-{i // 17:04d}/deployment.yaml"
        path = work / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        text = _manifest(k if is_marked else i, image, is_marked)
        path.write_text(text)
        total += len(text)
        if is_marked:
            marked.append(rel)
    (work / "automation").mkdir()
    (work / "automation/policies.yaml").write_text(_policies(host, images))
    (work / "automation/automation.yaml").write_text(AUTOMATION)
    git = ["git", "-C", str(work), "-c", "user.name=b", "-c", "user.email=b@example.com"]
    subprocess.run([*git, "init", "-q", "-b", "main"], check=True)
    subprocess.run([*git, "add", "-A"], check=True)
    subprocess.run([*git, "commit", "-q", "-m", "seed"], check=True)
    remote = tmp / "remote.git"
    subprocess.run(["git", "clone", "-q", "--bare", str(work), str(remote)], check=True)
    shutil.rmtree(work)
    return remote, marked, total


BASELINE = """\
set -e
git clone -q --depth 1 --branch main "file://$REMOTE" "$DIR"
cd "$DIR"
xargs sed -i 's|:1\\.0\\.0 # {"\\$imagepolicy"|:2.0.0 # {"$imagepolicy"|' < "$LIST"
git -c user.name=bench -c user.email=bench@example.com commit -q -a -m "bump images"
git push -q origin HEAD:refs/heads/main
"""


def run_baseline(tmp: Path, remote: Path, listing: Path, n: int) -> float:
    target = tmp / f"baseline-{n}"
    env = {"REMOTE": str(remote), "DIR": str(target), "LIST": str(listing), "PATH": _path()}
    start = time.perf_counter()
    subprocess.run(["bash", "-c", BASELINE], env=env, check=True)
    elapsed = time.perf_counter() - start
    shutil.rmtree(target)
    return elapsed


def run_reconcile(remote: Path, work: Path) -> float:
    start = time.perf_counter()
    done = subprocess.run(
        [
            str(EXE),
            "reconcile",
            "--once",
            "--repo",
            f"file://{remote}",
            "--work-dir",
            str(work),
            "--state",
            f"{work}.state.db",
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode != 0:
        sys.exit(f"reconcile failed:\n{done.stdout}\n{done.stderr}")
    return elapsed


def check_and_reset(remote: Path, seed: str, images: int) -> None:
    git = ["git", "--git-dir", str(remote)]
    head = subprocess.run([*git, "rev-parse", "main"], capture_output=True, text=True, check=True)
    parent = subprocess.run(
        [*git, "rev-parse", "main^"], capture_output=True, text=True, check=True
    ).stdout.strip()
    stat = subprocess.run(
        [*git, "diff", "--numstat", seed, "main"], capture_output=True, text=True, check=True
    ).stdout.splitlines()
    if parent != seed or len(stat) != images:
        sys.exit(f"wrong result: {head.stdout.strip()} parent {parent}, {len(stat)} files")
    subprocess.run([*git, "update-ref", "refs/heads/main", seed], check=True)


def _path() -> str:
    import os

    return os.environ.get("PATH", "/usr/bin:/bin")


def main() -> None:
    parser = argparse.ArgumentParser(description=(__doc__ or "").splitlines()[0])
    parser.add_argument("--files", type=int, default=10_000)
    parser.add_argument("--images", type=int, default=100)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--keep", action="store_true")
    args = parser.parse_args()
    tmp = Path(tempfile.mkdtemp(prefix="bench-reconcile-"))
    site = Path(sysconfig.get_paths()["purelib"])
    subprocess.run(
        [sys.executable, "-m", "compileall", "-q", "-j", "0", str(ROOT / "image_automation"),
         str(site)],
        check=False, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with LocalRegistry() as registry:
            for k in range(args.images):
                registry.push(f"bench/app{k:03d}", "1.0.0", "2.0.0")
            remote, marked, total = build_remote(tmp, registry.host, args.files, args.images)
            listing = tmp / "marked.txt"
            listing.write_text("".join(f"{rel}\n" for rel in marked))
            seed = subprocess.run(
                ["git", "--git-dir", str(remote), "rev-parse", "main"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
            print(
                f"remote: {args.files} files, {total / 1e6:.1f} MB, {len(marked)} marked images; "
                f"registry {registry.host} with {args.images} repositories"
            )
            base, cold, warm = [], [], []
            for n in range(args.runs):
                base.append(run_baseline(tmp, remote, listing, n))
                check_and_reset(remote, seed, args.images)
                work = tmp / f"work-{n}"
                cold.append(run_reconcile(remote, work))
                check_and_reset(remote, seed, args.images)
                warm.append(run_reconcile(remote, work))
                check_and_reset(remote, seed, args.images)
                shutil.rmtree(work)
        b, c, w = (statistics.median(x) for x in (base, cold, warm))
        print(f"baseline (clone --depth 1, sed, commit, push) median {b:.2f} s  ({_fmt(base)})")
        print(f"reconcile --once, cold cache                  median {c:.2f} s  ({_fmt(cold)})")
        print(f"reconcile --once, warm cache                  median {w:.2f} s  ({_fmt(warm)})")
        for label, value in (("cold", c), ("warm", w)):
            ratio = value / b
            verdict = "met" if ratio <= 1.5 else "NOT met"
            print(f"ratio {label}: {ratio:.2f}x (goal <= 1.5x): {verdict}")
    finally:
        if args.keep:
            print(f"kept {tmp}")
        else:
            shutil.rmtree(tmp, ignore_errors=True)


def _fmt(values: list[float]) -> str:
    return " ".join(f"{v:.2f}" for v in values)


if __name__ == "__main__":
    main()
