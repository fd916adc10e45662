"""The daemon as a subprocess against a real registry and a real smart-HTTP git remote.

:class:`Fleet` lays out a policy repository (ImageRepository, ImagePolicy,
ImageUpdateAutomation, two Receivers and a marked Deployment) in a bare repo served over
smart HTTP, the secrets dir (git credentials, receiver token), and starts
``image-automation run`` with ``--listen 127.0.0.1:PORT``. Waiting is bounded polling on
conditions (a commit on the remote, a metric), never a timed assertion.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import httpx
from prometheus_client.parser import text_string_to_metric_families

from image_automation.config.receivers import webhook_path
from tests.integration.git_fixtures import GitRemote, HttpGitServer, free_port
from tests.integration.registry_fixtures import RegistryServer, push_image

TOKEN = "hook-Secr3t-token-e2e"
NAMESPACE = "flux-system"
IMAGE = "team/app"


def wait_for(condition: Callable[[], bool], what: str, *, limit: float = 60.0) -> None:
    deadline = time.monotonic() + limit
    while time.monotonic() < deadline:
        if condition():
            return
        time.sleep(0.05)
    raise AssertionError(f"timed out waiting for {what}")


def policy_files(
    host: str, *, scan: str, reconcile: str, range_: str = ">=1.0.0", name: str = IMAGE
) -> dict[str, str]:
    image = f"{host}/{name}"
    return {
        "clusters/images.yaml": f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: {NAMESPACE}}}
spec: {{image: "{image}", interval: {scan}, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app, namespace: {NAMESPACE}}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{semver: {{range: "{range_}"}}}}
""",
        "clusters/automation.yaml": f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: fleet, namespace: {NAMESPACE}}}
spec:
  interval: {reconcile}
  sourceRef: {{kind: GitRepository, name: fleet}}
  git:
    commit:
      author: {{name: bot, email: bot@example.test}}
    push: {{branch: main}}
  update: {{path: ./deploy}}
""",
        "clusters/receivers.yaml": f"""\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: hub, namespace: {NAMESPACE}}}
spec:
  type: dockerhub
  secretRef: {{name: hook-token}}
  resources: [{{kind: ImageRepository, name: app}}]
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: signed, namespace: {NAMESPACE}}}
spec:
  type: generic-hmac
  secretRef: {{name: hook-token}}
  resources: [{{kind: ImageRepository, name: app}}]
""",
        "deploy/app.yaml": f"""\
apiVersion: apps/v1
kind: Deployment
metadata: {{name: app, namespace: prod}}
spec:
  template:
    spec:
      containers:
        - name: app
          image: {image}:1.0.0 # {{"$imagepolicy": "{NAMESPACE}:app"}}
""",
    }


@dataclass
class Fleet:
    """One policy repository, its registry and secrets; starts daemons against them."""

    root: Path
    remote: GitRemote
    git: HttpGitServer
    registry: RegistryServer
    processes: list[subprocess.Popen[bytes]] = field(default_factory=list)
    port: int = 0
    image: str = field(default_factory=lambda: f"{IMAGE}-{os.urandom(4).hex()}")
    """Repository in the registry; its own per fleet (the registry outlives a test)."""

    @property
    def host(self) -> str:
        return self.registry.host

    def setup(self, *, scan: str = "1h", reconcile: str = "1h", range_: str = ">=1.0.0") -> None:
        secrets = self.root / "secrets"
        (secrets / "git").mkdir(parents=True)
        (secrets / "git" / "username").write_text(self.git.username)
        (secrets / "git" / "password").write_text(self.git.password)
        (secrets / "hook-token").mkdir()
        (secrets / "hook-token" / "token").write_text(TOKEN + "\n")
        self.push_tags("1.0.0")
        self.remote.commit_files(self.files(scan=scan, reconcile=reconcile, range_=range_), "fleet")

    def files(self, *, scan: str, reconcile: str, range_: str = ">=1.0.0") -> dict[str, str]:
        return policy_files(
            self.host, scan=scan, reconcile=reconcile, range_=range_, name=self.image
        )

    def push_tags(self, *tags: str) -> None:
        with self.registry.push_client() as client:
            for tag in tags:
                push_image(client, self.registry.url, self.image, [tag], salt=tag)

    def start(
        self,
        *,
        log: str = "daemon.log",
        debug: bool = False,
        relative: bool = False,
        grace: str = "30s",
        repo: str | None = None,
        wait_ready: bool = True,
        preexec_fn: Callable[[], None] | None = None,
        data: str = "data",
        extra: Sequence[str] = (),
    ) -> subprocess.Popen[bytes]:
        """Start ``run``; ``relative``: from ``root`` as cwd, with ``./secrets`` and ``./data``.

        ``data``: the data dir's name under ``root`` (one per replica); ``extra``: more flags.
        """
        self.port = free_port()
        env = {**os.environ, "IMAGE_AUTOMATION_LISTEN": f"127.0.0.1:{self.port}"}
        base = Path(".") if relative else self.root
        with (self.root / log).open("ab") as sink:
            proc = subprocess.Popen(
                [
                    sys.executable, "-c", "from image_automation.cli import main; main()",
                    "run", "--repo", repo or self.git.url_for(self.remote),
                    "--git-secret", "git", "--secrets-dir", f"{base}/secrets",
                    "--data-dir", f"{base}/{data}", "--log-format", "json",
                    "--grace-period", grace, "--log-level", "debug" if debug else "info",
                    *extra,
                ],
                stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=self.root,
                preexec_fn=preexec_fn,
            )  # fmt: skip
        self.processes.append(proc)
        if wait_ready:
            wait_for(lambda: self.ready(proc), "the daemon to be ready")
        return proc

    def readyz(self) -> tuple[int, str]:
        try:
            response = httpx.get(f"{self.url}/readyz", timeout=2)
        except httpx.HTTPError as exc:
            return 0, str(exc)
        return response.status_code, response.text

    def ready(self, proc: subprocess.Popen[bytes]) -> bool:
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited with {proc.returncode}: {self.logs()[-4000:]}")
        try:
            return httpx.get(f"{self.url}/readyz", timeout=2).status_code == 200
        except httpx.HTTPError:
            return False

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def hook_url(self, receiver: str) -> str:
        return self.url + webhook_path(TOKEN, name=receiver, namespace=NAMESPACE)

    def deployed(self) -> str:
        return self.remote.read("deploy/app.yaml").split(f"{self.image}:")[1].split(" ")[0]

    def metrics(self) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
        text = httpx.get(f"{self.url}/metrics", timeout=5).text
        out = {}
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                out[(sample.name, tuple(sorted(sample.labels.items())))] = sample.value
        return out

    def metric(self, name: str, **labels: str) -> float:
        return self.metrics().get((name, tuple(sorted(labels.items()))), 0.0)

    def reconciles(self) -> float:
        return sum(
            value
            for (name, labels), value in self.metrics().items()
            if name == "image_automation_reconciles_total"
            and ("automation", f"{NAMESPACE}/fleet") in labels
        )

    def wait_reconciled(self, times: int = 1) -> None:
        wait_for(lambda: self.reconciles() >= times, f"{times} reconcile(s)")

    def logs(self) -> str:
        return "".join(p.read_text(errors="replace") for p in self.root.glob("*.log"))

    def stop(self, proc: subprocess.Popen[bytes], *, sig: int = signal.SIGTERM) -> int:
        proc.send_signal(sig)
        return proc.wait(60)

    def close(self) -> None:
        for proc in self.processes:
            if proc.poll() is None:
                proc.kill()
                proc.wait(10)


class SilentServer:
    """A TCP server that accepts connections and never answers (a hung registry)."""

    def __init__(self) -> None:
        self._sock = socket.create_server(("127.0.0.1", 0), backlog=64)
        self._sock.settimeout(0.1)
        self.host = f"127.0.0.1:{self._sock.getsockname()[1]}"
        self.accepted = 0
        self._held: list[socket.socket] = []
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._accept, daemon=True)
        self._thread.start()

    def _accept(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._sock.accept()
            except TimeoutError:
                continue
            self._held.append(conn)
            self.accepted += 1

    def close(self) -> None:
        self._stop.set()
        self._thread.join(10)
        self._sock.close()
        for conn in self._held:
            conn.close()
