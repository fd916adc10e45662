"""Replicas as subprocesses for the chaos and hand-over tests: a fleet of git repositories.

:class:`ReplicaFleet` lays out a policy repository whose namespaces ``ns0``… each hold two
``ImageRepository``/``ImagePolicy`` pairs (semver ``>=1.0.0 <2.0.0``) and one native
``ImageAutomation`` writing to a git repository of its own (``g0.git``…, over smart HTTP),
where ``deploy/app.yaml`` marks both images. Images are shared between namespaces (``ns i``
uses ``img i`` and ``img i+1``), so a tag touches two git repositories, held by whichever
replicas hold them. The registry is reached through a counting proxy (:class:`Proxy`), so a
test can count the ``tags/list`` requests all replicas made together.
"""

from __future__ import annotations

import asyncio
import os
import re
import signal
import subprocess
import threading
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from image_automation.config.receivers import webhook_path
from tests.e2e.daemon.harness import TOKEN, Fleet
from tests.integration.fault_proxy import FaultProxy
from tests.integration.git_fixtures import GitRemote, HttpGitServer, make_remote
from tests.integration.registry_fixtures import RegistryServer, push_image

RANGE = ">=1.0.0 <2.0.0"


class Proxy:
    """The counting proxy in front of the real registry, on a loop of its own (a thread)."""

    def __init__(self, upstream: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self.proxy = FaultProxy(upstream)
        asyncio.run_coroutine_threadsafe(self.proxy.start(), self._loop).result(30)

    @property
    def host(self) -> str:
        return self.proxy.host

    def tag_lists(self) -> Counter[str]:
        """``GET /v2/<repository>/tags/list`` requests so far, by repository path."""
        found: Counter[str] = Counter()
        for seen in list(self.proxy.seen):
            match = re.fullmatch(r"/v2/(.+)/tags/list(\?.*)?", seen.path)
            if seen.method == "GET" and match:
                found[match.group(1)] += 1
        return found

    def close(self) -> None:
        asyncio.run_coroutine_threadsafe(self.proxy.stop(), self._loop).result(30)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()


def _namespace(i: int, n: int, *, proxy: str, prefix: str, repo_url: str, every: str) -> str:
    images = [(i + k) % n for k in (0, 1)]
    docs = []
    for j in images:
        docs.append(f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: img{j}, namespace: ns{i}}}
spec: {{image: "{proxy}/{prefix}/img{j}", interval: {every}, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: img{j}, namespace: ns{i}}}
spec:
  imageRepositoryRef: {{name: img{j}}}
  policy: {{semver: {{range: "{RANGE}"}}}}
""")
    docs.append(f"""\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: deliver, namespace: ns{i}}}
spec:
  interval: {every}
  git:
    url: {repo_url}
    branch: main
    secretRef: {{name: git}}
    push: {{branch: main}}
  commit:
    author: {{name: bot, email: bot@example.test}}
  update: {{path: ./deploy}}
""")
    docs.append(f"""\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: hub, namespace: ns{i}}}
spec:
  type: dockerhub
  secretRef: {{name: hook-token}}
  resources: [{", ".join(f"{{kind: ImageRepository, name: img{j}}}" for j in images)}]
""")
    return "---\n".join(docs)


def _manifest(i: int, n: int, *, proxy: str, prefix: str) -> str:
    containers = "".join(
        f"        - name: c{j}\n"
        f'          image: {proxy}/{prefix}/img{j}:1.0.0 # {{"$imagepolicy": "ns{i}:img{j}"}}\n'
        for j in [(i + k) % n for k in (0, 1)]
    )
    return f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: ns{i}}}
spec:
  template:
    spec:
      containers:
{containers}"""


@dataclass
class Replica:
    proc: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    @property
    def alive(self) -> bool:
        return self.proc.poll() is None


@dataclass
class ReplicaFleet:
    """``repos`` git repositories and as many images, replicas on one PostgreSQL."""

    root: Path
    git: HttpGitServer
    registry: RegistryServer
    proxy: Proxy
    state: str
    repos: int = 3
    lease: str = "3s"
    interval: str = "2s"
    """Scan and reconcile interval of everything in the fleet."""
    prefix: str = field(default_factory=lambda: f"chaos-{os.urandom(4).hex()}")
    targets: list[GitRemote] = field(default_factory=list)
    seeds: list[str] = field(default_factory=list)
    """Each target's head before any replica ran."""
    fleet: Fleet | None = None
    started: int = 0

    def setup(self, served: Path) -> None:
        home = make_remote(served / f"{self.prefix}-home.git")
        self.fleet = Fleet(self.root, home, self.git, self.registry)
        self.fleet.image = f"{self.prefix}/unused"
        secrets = self.root / "secrets"
        (secrets / "git").mkdir(parents=True)
        (secrets / "git" / "username").write_text(self.git.username)
        (secrets / "git" / "password").write_text(self.git.password)
        (secrets / "hook-token").mkdir()
        (secrets / "hook-token" / "token").write_text(TOKEN + "\n")
        for j in range(self.repos):
            self.push(j, "1.0.0")
        files = {}
        for i in range(self.repos):
            target = make_remote(served / f"{self.prefix}-g{i}.git")
            target.commit_files(
                {"deploy/app.yaml": _manifest(i, self.repos, proxy=self.proxy.host,
                                              prefix=self.prefix)}, "seed")  # fmt: skip
            # Every update of main the remote accepts is logged: a push later overwritten
            # (a lost commit) shows in the reflog, whatever the replicas recorded.
            target.git("config", "core.logAllRefUpdates", "always")
            self.targets.append(target)
            self.seeds.append(target.head())
            files[f"clusters/ns{i}.yaml"] = _namespace(
                i, self.repos, proxy=self.proxy.host, prefix=self.prefix,
                repo_url=self.git.url_for(target), every=self.interval,
            )  # fmt: skip
        home.commit_files(files, "fleet")

    def push(self, image: int, tag: str) -> None:
        with self.registry.push_client() as client:
            push_image(client, self.registry.url, f"{self.prefix}/img{image}", [tag], salt=tag)

    def start(self, slot: int) -> Replica:
        """Start a replica with data dir ``data-<slot>`` (one live replica per slot)."""
        assert self.fleet is not None
        n = self.started
        self.started += 1
        proc = self.fleet.start(
            log=f"replica-{n}.log", data=f"data-{slot}", wait_ready=False,
            extra=["--state", self.state, "--lease-duration", self.lease],
        )  # fmt: skip
        return Replica(proc, self.fleet.port)

    def hook(self, replica: Replica, namespace: int) -> int:
        """POST a Docker Hub webhook to ``replica``'s ``ns<i>/hub``; its status (0: no answer)."""
        path = webhook_path(TOKEN, name="hub", namespace=f"ns{namespace}")
        body = {"push_data": {"tag": "x"}, "repository": {"repo_name": "x"}}
        try:
            return httpx.post(replica.url + path, json=body, timeout=5).status_code
        except httpx.HTTPError:
            return 0

    def deployed(self, repo: int, ref: str = "main") -> dict[int, str]:
        """Image index → tag, as ``g<repo>``'s ``deploy/app.yaml`` has it at ``ref``."""
        text = self.targets[repo].read("deploy/app.yaml", ref)
        found = re.findall(rf"{re.escape(self.prefix)}/img(\d+):(\S+) #", text)
        return {int(j): tag for j, tag in found}

    def ref_updates(self, repo: int) -> list[str]:
        """Every value ``g<repo>``'s main took since the seed, oldest first (its reflog)."""
        out = self.targets[repo].git("reflog", "show", "--format=%H", "refs/heads/main")
        shas = list(reversed(out.split()))  # logging began after the seed commit
        return shas[shas.index(self.seeds[repo]) + 1 :] if self.seeds[repo] in shas else shas

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in sorted(self.root.glob("*.log")))

    @staticmethod
    def metric(replica: Replica, name: str, **labels: str) -> float:
        text = httpx.get(f"{replica.url}/metrics", timeout=5).text
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == name and sample.labels == labels:
                    return float(sample.value)
        return 0.0

    @staticmethod
    def readyz(replica: Replica) -> tuple[int, str]:
        try:
            response = httpx.get(f"{replica.url}/readyz", timeout=5)
        except httpx.HTTPError as exc:
            return 0, str(exc)
        return response.status_code, response.text

    @staticmethod
    def kill(replica: Replica) -> None:
        replica.proc.send_signal(signal.SIGKILL)
        replica.proc.wait(30)


__all__ = ["RANGE", "Proxy", "Replica", "ReplicaFleet"]
