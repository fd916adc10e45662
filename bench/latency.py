"""Benchmark: webhook POST → commit visible on the remote, against a raw git round trip.

Part 1, latency. Starts a real registry (Debian ``docker-registry``), a smart-HTTP git server
(``git http-backend`` behind aiohttp) with two identical fleet repositories, and
``image-automation run`` as a subprocess on the first. Each iteration pushes a new tag, then
times (a) POST to the Docker-Hub-style receiver until the remote's ``deploy/app.yaml`` names
the tag, and (b) on the second repository, in the same run: ``git fetch`` + ``reset --hard`` +
the same one-line edit + ``git commit`` + ``git push`` from a prepared clone. Both sides send
the same bearer token up front (``http.extraHeader``). Prints medians and the ratio.
Goal: at most 1.5 times.

Part 2, memory. A second daemon over 1,000 ImageRepository/ImagePolicy pairs whose
repositories hold 1,000 tags each (1,000,000 tags cached in the state store after the start-up
scans). The registry here is an in-process aiohttp stub serving ``tags/list`` (pushing a
million real tags would take an hour); the daemon cannot tell. Prints the daemon's RSS after
start-up scans and a reconcile, and its peak (VmHWM). Goal: ≤ 200 MB.

    .venv/bin/python bench/latency.py [--iterations 20] [--policies 1000] [--tags 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import platform
import statistics
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
from aiohttp import web

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from tests.e2e.daemon.harness import NAMESPACE, Fleet, wait_for
from tests.integration.git_fixtures import HttpGitServer, make_remote, run_git
from tests.integration.registry_fixtures import start_registry


def _raw_round_trip(clone: Path, tag: str, image: str) -> float:
    started = time.perf_counter()
    run_git("fetch", "--quiet", "origin", cwd=clone)
    run_git("reset", "--quiet", "--hard", "origin/main", cwd=clone)
    path = clone / "deploy" / "app.yaml"
    text = path.read_text()
    head, _, rest = text.partition(f"{image}:")
    path.write_text(f"{head}{image}:{tag} {rest.split(' ', 1)[1]}")
    run_git("commit", "--quiet", "-am", f"raw {tag}", cwd=clone)
    run_git("push", "--quiet", "origin", "HEAD:main", cwd=clone)
    return time.perf_counter() - started


def latency(iterations: int, root: Path) -> tuple[float, float]:
    registry = start_registry("anonymous")
    server = HttpGitServer(root / "served")
    (root / "served").mkdir(parents=True)
    server.start()
    fleet = Fleet(root / "fleet", make_remote(root / "served" / "fleet.git"), server, registry)
    twin = make_remote(root / "served" / "twin.git")
    (root / "fleet").mkdir()
    try:
        fleet.setup(scan="1h", reconcile="1h")
        # Both sides authenticate the same way: a bearer token sent up front (no 401 trip).
        for name in ("username", "password"):
            (fleet.root / "secrets" / "git" / name).unlink()
        (fleet.root / "secrets" / "git" / "bearerToken").write_text(server.token)
        files = {p: fleet.remote.read(p) for p in ("clusters/images.yaml", "deploy/app.yaml")}
        twin.commit_files(files, "fleet")
        clone = root / "twin"
        header = f"Authorization: Bearer {server.token}"
        run_git("-c", f"http.extraHeader={header}", "clone", "--quiet", server.url_for(twin),
                str(clone))  # fmt: skip
        run_git("config", "http.extraHeader", header, cwd=clone)
        run_git("config", "user.email", "raw@example.test", cwd=clone)
        run_git("config", "user.name", "raw", cwd=clone)
        proc = fleet.start()
        fleet.wait_reconciled()
        hooks, raws = [], []
        for i in range(iterations):
            tag = f"1.1.{i}"
            fleet.push_tags(tag)
            started = time.perf_counter()
            response = httpx.post(fleet.hook_url("hub"), content=b'{"push_data": {}}')
            assert response.status_code == 202, response.text
            hooks.append(_until_deployed(fleet, tag, started))
            raws.append(_raw_round_trip(clone, tag, f"{fleet.host}/{fleet.image}"))
        fleet.stop(proc)
        return statistics.median(hooks), statistics.median(raws)
    finally:
        fleet.close()
        server.stop()
        registry.stop()


def _until_deployed(fleet: Fleet, tag: str, started: float) -> float:
    """Seconds from ``started`` until the remote's file names ``tag``: the ref is polled every
    few milliseconds with ``git rev-parse`` on the bare repo (cheap), the file read on change."""
    head = fleet.remote.head()
    deadline = started + 120
    while time.perf_counter() < deadline:
        now_head = fleet.remote.head()
        if now_head != head:
            seen = time.perf_counter()
            head = now_head
            if fleet.deployed() == tag:
                return seen - started
        time.sleep(0.002)
    raise AssertionError(f"no commit of {tag} within 120 s")


# -- part 2: memory ---------------------------------------------------------------------------


class StubRegistry:
    """``GET /v2/<name>/tags/list`` → ``tags`` generated tags; nothing else."""

    def __init__(self, tags: int) -> None:
        self.body = {"tags": [f"{i // 100}.{i % 100}.0" for i in range(tags)]}
        self.port = 0
        self._stop: asyncio.Event | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._ready = threading.Event()
        self._thread = threading.Thread(target=lambda: asyncio.run(self._serve()), daemon=True)

    async def _tags(self, request: web.Request) -> web.Response:
        return web.json_response({"name": request.match_info["name"], **self.body})

    async def _serve(self) -> None:
        self._loop = asyncio.get_running_loop()
        self._stop = asyncio.Event()
        app = web.Application()
        app.router.add_get("/v2/{name:.+}/tags/list", self._tags)
        app.router.add_get("/v2/", lambda r: web.json_response({}))
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        self.port = int(runner.addresses[0][1])
        self._ready.set()
        await self._stop.wait()
        await runner.cleanup()

    def start(self) -> None:
        self._thread.start()
        self._ready.wait(15)

    def stop(self) -> None:
        if self._loop and self._stop:
            self._loop.call_soon_threadsafe(self._stop.set)
        self._thread.join(15)


def _many_policies(host: str, count: int) -> str:
    docs = []
    for i in range(count):
        docs.append(
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
            f"metadata: {{name: app{i}, namespace: {NAMESPACE}}}\n"
            f'spec: {{image: "{host}/team/app{i}", interval: 1h, insecure: true}}\n---\n'
            f"apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
            f"metadata: {{name: app{i}, namespace: {NAMESPACE}}}\n"
            f"spec:\n  imageRepositoryRef: {{name: app{i}}}\n"
            f'  policy: {{semver: {{range: ">=1.0.0"}}}}\n'
        )
    return "---\n".join(docs)


def _status(pid: int) -> dict[str, int]:
    out = {}
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        name, _, value = line.partition(":")
        if name in ("VmRSS", "VmHWM"):
            out[name] = int(value.split()[0]) * 1024
    return out


def memory(policies: int, tags: int, root: Path) -> dict[str, int]:
    stub = StubRegistry(tags)
    stub.start()
    server = HttpGitServer(root / "served")
    (root / "served").mkdir(parents=True)
    server.start()
    remote = make_remote(root / "served" / "many.git")
    host = f"127.0.0.1:{stub.port}"
    remote.commit_files({"clusters/images.yaml": _many_policies(host, policies)}, "many")
    fleet = Fleet(root / "many", remote, server, registry=None)  # type: ignore[arg-type]
    (root / "many" / "secrets" / "git").mkdir(parents=True)
    (root / "many" / "secrets" / "git" / "username").write_text(server.username)
    (root / "many" / "secrets" / "git" / "password").write_text(server.password)
    (root / "many" / "secrets" / "hook-token").mkdir()
    try:
        proc = fleet.start()
        wait_for(lambda: _scanned(fleet) >= policies, "start-up scans", limit=1800)
        wait_for(lambda: _reconciled(fleet), "a reconcile", limit=600)
        status = _status(proc.pid)
        fleet.stop(proc)
        return status
    finally:
        fleet.close()
        server.stop()
        stub.stop()


def _reconciled(fleet: Fleet) -> bool:
    return any(
        v for (name, _), v in fleet.metrics().items() if name == "image_automation_reconciles_total"
    )


def _scanned(fleet: Fleet) -> float:
    return sum(
        v for (name, _), v in fleet.metrics().items() if name == "image_automation_scans_total"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--iterations", type=int, default=20)
    parser.add_argument("--policies", type=int, default=1000)
    parser.add_argument("--tags", type=int, default=1000)
    parser.add_argument("--skip-memory", action="store_true")
    parser.add_argument("--skip-latency", action="store_true")
    args = parser.parse_args()
    print(f"python {platform.python_version()} on {platform.machine()}, "
          f"load average {os.getloadavg()[0]:.1f}")  # fmt: skip
    with tempfile.TemporaryDirectory(prefix="bench-latency-") as tmp:
        if not args.skip_latency:
            hook, raw = latency(args.iterations, Path(tmp) / "latency")
            ratio = hook / raw
            print(f"webhook -> commit on remote: median {hook * 1000:.0f} ms of {args.iterations}")
            print(f"raw fetch+edit+commit+push:  median {raw * 1000:.0f} ms of {args.iterations}")
            print(f"ratio: {ratio:.2f}x (goal <= 1.5x): {'met' if ratio <= 1.5 else 'NOT met'}")
        if not args.skip_memory:
            status = memory(args.policies, args.tags, Path(tmp) / "memory")
            rss, peak = status["VmRSS"] / 2**20, status["VmHWM"] / 2**20
            cached = args.policies * args.tags
            print(f"daemon with {args.policies} policies, {cached} cached tags: "
                  f"RSS {rss:.0f} MB, peak {peak:.0f} MB (goal <= 200 MB): "
                  f"{'met' if peak <= 200 else 'NOT met'}")  # fmt: skip
    return 0


if __name__ == "__main__":
    sys.exit(main())
