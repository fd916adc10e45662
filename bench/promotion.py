"""Benchmark: one promotion evaluation of a repository with 3 stages x N images.

Builds, in a temp dir, the GitHub fake (its real bare repository, served over smart HTTP,
every request validated against GitHub's API description) holding `clusters/{dev,staging,
prod}/svcNNN.yaml` for N images (each marked for its own policy), the N
ImageRepository/ImagePolicy pairs, and one Promotion carrying all N through
dev → staging (soak 1h) → prod (soak 24h, an `e2e` check), one pull request per stage. The
history has 20 earlier commits moving dev's images. Evaluations run in this process, as the
daemon runs them (one forge client pool kept across them, so its ETag cache lives on),
with a clock moved forward instead of waiting:

* no-op: every stage holds the same images: nothing to move, nothing open;
* open: dev holds newer images for all N, soaked: the staging pull request is opened
  (N changes in N files);
* steady: the same again, the pull request open and unchanged;

Reported per scenario: the best and median time per evaluation, and the forge requests per
evaluation (how many were answered 304). Baseline in the same run: the git work an
evaluation cannot avoid, as a shell would do it: per stage's checkout a `git fetch`, and per
stage one `git log -G -p` over its path and a `git grep` of its markers. The goal is on the
forge requests of a no-op evaluation: at most one per stage, conditional where the forge
allows.

    .venv/bin/python bench/promotion.py [--images 200] [--runs 5]
"""

from __future__ import annotations

import argparse
import asyncio
import hashlib
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from image_automation.engine.automations import RepoTarget  # noqa: E402
from image_automation.engine.promotion import PromoteRequest, promote_once  # noqa: E402
from image_automation.engine.pullrequests import ForgePool  # noqa: E402
from image_automation.state import open_store  # noqa: E402
from tests.e2e.pullrequests.fleet import start_forge_git  # noqa: E402
from tests.forges.fixtures import start_fake  # noqa: E402

NS = "apps"
STAGES = ("dev", "staging", "prod")


def digest(n: int, version: str) -> str:
    return "sha256:" + hashlib.sha256(f"{n}-{version}".encode()).hexdigest()


def manifest(n: int, version: str) -> str:
    image = f"registry.example.com/team/svc{n:03d}:{version}@{digest(n, version)}"
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata: {{name: svc{n:03d}}}\nspec:\n"
        "  template:\n    spec:\n      containers:\n        - name: app\n"
        f'          image: {image} # {{"$imagepolicy": "{NS}:svc{n:03d}"}}\n'
    )


def policies(images: int) -> str:
    return "".join(
        f"---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        f"metadata: {{name: svc{n:03d}, namespace: {NS}}}\n"
        f"spec: {{image: registry.example.com/team/svc{n:03d}}}\n"
        f"---\napiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        f"metadata: {{name: svc{n:03d}, namespace: {NS}}}\n"
        f"spec:\n  imageRepositoryRef: {{name: svc{n:03d}}}\n"
        f'  policy: {{semver: {{range: ">=1.0.0"}}}}\n'
        for n in range(images)
    )


def promotion(images: int, api_url: str) -> str:
    names = ", ".join(f"svc{n:03d}" for n in range(images))
    return f"""\
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {{name: fleet, namespace: {NS}}}
spec:
  policies: [{names}]
  pullRequest: {{provider: github, apiURL: "{api_url}"}}
  stages:
    - {{name: dev, path: clusters/dev}}
    - {{name: staging, path: clusters/staging, soak: 1h}}
    - {{name: prod, path: clusters/prod, soak: 24h, gates: {{checks: [e2e]}}}}
"""


class Bench:
    def __init__(self, root: Path, images: int) -> None:
        self.root, self.images = root, images
        self.fake = start_fake("github", root / "forge")
        self.git = start_forge_git(self.fake)
        secrets = root / "secrets" / "forge"
        secrets.mkdir(parents=True)
        (secrets / "bearerToken").write_text(self.fake.token)
        files = {f"clusters/{s}/svc{n:03d}.yaml": manifest(n, "1.0.0")
                 for s in STAGES for n in range(images)}  # fmt: skip
        files["policies/policies.yaml"] = policies(images)
        files["policies/promotion.yaml"] = promotion(images, self.fake.api_url)
        self.fake.move_base(files, "the fleet")
        for i in range(20):  # some history: dev's images move back and forth
            n = i % images
            version = "0.9.0" if i % 2 else "1.0.0"
            self.fake.move_base({f"clusters/dev/svc{n:03d}.yaml": manifest(n, version)}, f"h{i}")
        self.fake.move_base({f"clusters/dev/svc{n:03d}.yaml": manifest(n, "1.0.0")
                             for n in range(images)}, "dev settles")  # fmt: skip

    def stop(self) -> None:
        self.git.stop()
        self.fake.stop()

    async def evaluate(self, pool: ForgePool, offset: timedelta) -> tuple[float, int, int]:
        request = PromoteRequest(
            work_dir=self.root / "work", repo=RepoTarget(self.git.url, "main", "forge"),
            secrets_dir=self.root / "secrets",
        )  # fmt: skip

        def clock() -> datetime:
            return datetime.now(UTC) + offset

        self.fake.reset_requests()
        started = time.perf_counter()
        async with await open_store(str(self.root / "state.db")) as store:
            report = await promote_once(request, store=store, clock=clock, forges=pool)
        took = time.perf_counter() - started
        assert report.ok, report
        return took, self.fake.count(), self.fake.count(status=304)

    def baseline(self) -> float:
        clone = self.root / "plain"
        if not clone.exists():
            subprocess.run(["git", "clone", "-q", self.git.url, str(clone)], check=True,
                           env=_git_env(self.fake.token))  # fmt: skip
        started = time.perf_counter()
        subprocess.run(["git", "-C", str(clone), "fetch", "-q", "origin"], check=True,
                       env=_git_env(self.fake.token))  # fmt: skip
        for stage in STAGES:
            subprocess.run(["git", "-C", str(clone), "log", "--first-parent", "-G",
                            r"\$imagepolicy", "-p", "--unified=0", "origin/main", "--",
                            f"clusters/{stage}"], check=True, capture_output=True)  # fmt: skip
            subprocess.run(["git", "-C", str(clone), "grep", "-n", "-F", "$imagepolicy", "--",
                            f"clusters/{stage}"], check=True, capture_output=True)  # fmt: skip
        return time.perf_counter() - started


def _git_env(token: str) -> dict[str, str]:
    return {**os.environ, "GIT_CONFIG_COUNT": "1", "GIT_CONFIG_KEY_0": "http.extraHeader",
            "GIT_CONFIG_VALUE_0": f"Authorization: Bearer {token}"}  # fmt: skip


def _line(name: str, runs: list[tuple[float, int, int]]) -> str:
    times = [t for t, _, _ in runs]
    requests = {r for _, r, _ in runs}
    conditional = {c for _, _, c in runs}
    return (
        f"{name:<8} best {min(times) * 1000:7.0f} ms, median {statistics.median(times) * 1000:7.0f}"
        f" ms; forge requests per evaluation {sorted(requests)} (304: {sorted(conditional)})"
    )


async def main(images: int, runs: int) -> None:
    root = Path(tempfile.mkdtemp(prefix="bench-promotion-"))
    bench = Bench(root, images)
    try:
        async with ForgePool() as pool:
            await bench.evaluate(pool, timedelta(0))  # clone, first read: not measured
            noop = [await bench.evaluate(pool, timedelta(0)) for _ in range(runs)]
            base = [bench.baseline() for _ in range(runs)]
            bench.fake.move_base({f"clusters/dev/svc{n:03d}.yaml": manifest(n, "1.1.0")
                                  for n in range(images)}, "dev takes 1.1.0")  # fmt: skip
            opened = [await bench.evaluate(pool, timedelta(hours=2))]
            assert len(bench.fake.pulls) == 1, "the staging pull request should be open"
            steady = [await bench.evaluate(pool, timedelta(hours=2)) for _ in range(runs)]
    finally:
        bench.stop()
        shutil.rmtree(root, ignore_errors=True)
    print(f"python {sys.version.split()[0]}, {images} images x {len(STAGES)} stages, {runs} runs")
    print(
        f"baseline (git fetch + log -G -p + grep per stage): best "
        f"{min(base) * 1000:.0f} ms, median {statistics.median(base) * 1000:.0f} ms"
    )
    print(_line("no-op", noop))
    print(_line("open", opened))
    print(_line("steady", steady))
    ratio = min(t for t, _, _ in noop) / min(base)
    print(f"no-op evaluation / baseline: {ratio:.1f}x")
    worst = max(r for _, r, _ in noop)
    per_stage = worst / (len(STAGES) - 1)
    verdict = "met" if per_stage <= 1 else "NOT met"
    print(f"no-op forge requests per promoted stage: {per_stage:.1f} (goal <= 1): {verdict}")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--images", type=int, default=200)
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.images, args.runs))
