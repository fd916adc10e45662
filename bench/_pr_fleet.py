"""The moving parts of bench/pull_requests.py: one fake forge, its fleet, the daemon, a baseline.

:class:`BenchFleet` holds a started fake forge (tests/forges), the smart-HTTP server at the
forge's own path, a :class:`PrFleet` on them, and at most one daemon. Requests are counted
in the fake's own log; "the daemon is idle" is its ``image_automation_queued_jobs`` gauge at
0 (scan and reconcile jobs waiting or running). :class:`Watch` notes the moment the fake
records a matching request, so both sides of the latency figure stop the clock at the same
place: inside the fake, once it has applied and answered the update.
"""

from __future__ import annotations

import base64
import signal
import subprocess
import threading
import time
import urllib.parse
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

import httpx
from prometheus_client.parser import text_string_to_metric_families

from image_automation.config.receivers import webhook_path
from tests.e2e.daemon.harness import wait_for
from tests.e2e.pullrequests.fleet import (
    APP_FILE,
    NAMESPACE,
    ForgeGit,
    PrFleet,
    flux_automation,
    start_forge_git,
)
from tests.forges.fixtures import start_fake
from tests.forges.server import FakeForge
from tests.forges.state import Seen
from tests.integration.fixture_base import free_port
from tests.integration.git_fixtures import run_git
from tests.integration.registry_fixtures import RegistryServer

HEAD = "image-automation/fleet"
AUTOMATION = f"{NAMESPACE}/fleet"
BASELINE = "bench/baseline"
HOOK_TOKEN = "bench-hook-token-0123456789"
UPDATE_HANDLERS = ("update_pull", "update_mr", "edit_pull", "update_pr")
RECEIVER = f"""\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {{name: hub, namespace: {NAMESPACE}}}
spec:
  type: dockerhub
  secretRef: {{name: hook-token}}
  resources: [{{kind: ImageRepository, name: app}}]
"""


@dataclass(frozen=True)
class Noop:
    """The forge requests of one no-op reconcile."""

    requests: int
    not_modified: int
    seen: tuple[str, ...]  # "METHOD /template STATUS"


def update_operation(fake: FakeForge) -> str:
    """``METHOD /template`` of the fake's update-pull-request operation."""
    return next(op for op, handler in fake.routes.items() if handler in UPDATE_HANDLERS)


def _number(path: str) -> str:
    return path.split("?", 1)[0].rstrip("/").rsplit("/", 1)[1]


class Watch:
    """Wraps ``fake.record``: the first request matching what :meth:`arm` was given after
    the call sets :attr:`at` (``time.perf_counter()`` in the fake's thread)."""

    def __init__(self, fake: FakeForge) -> None:
        self._record = fake.record
        self._match: Callable[[Seen], bool] | None = None
        self._event = threading.Event()
        self.at = 0.0
        fake.record = self._on_record  # type: ignore[method-assign]

    def _on_record(self, seen: Seen) -> None:
        self._record(seen)
        match = self._match
        if match is not None and match(seen):
            self.at = time.perf_counter()
            self._match = None
            self._event.set()

    def arm(self, *, operation: str, number: int, needle: str = "") -> None:
        self._event.clear()
        self._match = lambda s: (
            s.operation == operation
            and s.status < 300
            and _number(s.path) == str(number)
            and needle.encode() in s.body
        )

    def wait(self, what: str, limit: float = 120.0) -> float:
        if not self._event.wait(limit):
            raise AssertionError(f"timed out waiting for {what}")
        return self.at


def raw_update(fake: FakeForge, number: int, tag: str) -> tuple[str, str, dict[str, str], Any]:
    """The forge's one update request for pull request ``number``: method, URL, headers, body."""
    title, body = f"raw update to {tag}", f"The baseline's pull request, at {tag}.\n"
    api, repo, token = fake.api_url, fake.repository, fake.token
    bearer = {"Authorization": f"Bearer {token}"}
    provider = fake.provider
    if provider == "github":
        return "PATCH", f"{api}/repos/{repo}/pulls/{number}", bearer, {"title": title, "body": body}
    if provider == "gitlab":
        project = urllib.parse.quote(repo, safe="")
        url = f"{api}/projects/{project}/merge_requests/{number}"
        return "PUT", url, bearer, {"title": title, "description": body}
    if provider in ("gitea", "forgejo"):
        auth = {"Authorization": f"token {token}"}
        return "PATCH", f"{api}/repos/{repo}/pulls/{number}", auth, {"title": title, "body": body}
    if provider == "bitbucket":
        url = f"{api}/repositories/{repo}/pullrequests/{number}"
        payload = {"type": "pullrequest", "title": title, "description": body}
        return "PUT", url, bearer, payload
    _, project, _, name = repo.split("/")
    url = f"{api}/{project}/_apis/git/repositories/{name}/pullrequests/{number}"
    basic = {"Authorization": "Basic " + base64.b64encode(f":{token}".encode()).decode()}
    return "PATCH", url + "?api-version=7.2-preview.2", basic, {"title": title, "description": body}


@dataclass
class BenchFleet:
    fake: FakeForge
    git: ForgeGit
    fleet: PrFleet
    http: httpx.Client
    proc: subprocess.Popen[bytes] | None = None
    port: int = 0
    clone: Path = field(default_factory=Path)

    @classmethod
    @contextmanager
    def start(cls, provider: str, registry: RegistryServer, root: Path) -> Iterator[Self]:
        root.mkdir(parents=True)
        fake = start_fake(provider, root / "forge")
        try:
            git = start_forge_git(fake)
            try:
                with httpx.Client(timeout=30) as http:
                    bench = cls(fake, git, PrFleet(fake, git, registry, root), http)
                    try:
                        yield bench
                    finally:
                        bench.kill()
            finally:
                git.stop()
        finally:
            fake.stop()

    def automation(self) -> str:
        return flux_automation(self.fake, interval="1h") + RECEIVER

    def count(self, run: Callable[[], None]) -> Noop:
        """The forge requests made while ``run()`` ran."""
        with self.fake.lock:
            before = len(self.fake.requests)
        run()
        with self.fake.lock:
            seen = self.fake.requests[before:]
        return Noop(
            len(seen),
            sum(s.status == 304 for s in seen),
            tuple(f"{s.operation} {s.status}" for s in seen),
        )

    def verdict(self) -> None:
        self.fake.assert_clean()
        logs = "".join(p.read_text(errors="replace") for p in self.fleet.root.glob("*.log"))
        assert self.fake.token not in logs, "the forge token is in the daemon's log"

    # -- the daemon ---------------------------------------------------------------------------

    def start_daemon(self) -> None:
        secret = self.fleet.root / "secrets" / "hook-token"
        secret.mkdir(parents=True, exist_ok=True)
        (secret / "token").write_text(HOOK_TOKEN + "\n")
        self.port = free_port()
        self.proc = self.fleet.daemon(self.port)
        wait_for(self._ready, "the daemon to be ready", limit=120)

    def _alive(self) -> None:
        assert self.proc is not None
        if self.proc.poll() is not None:
            log = (self.fleet.root / "daemon.log").read_text(errors="replace")
            raise AssertionError(f"daemon exited with {self.proc.returncode}: {log[-4000:]}")

    def _ready(self) -> bool:
        self._alive()
        try:
            return self.http.get(f"http://127.0.0.1:{self.port}/readyz").status_code == 200
        except httpx.HTTPError:
            return False

    def _metrics(self) -> tuple[float, float]:
        """(reconciles of the automation so far, jobs queued or running)."""
        self._alive()
        text = self.http.get(f"http://127.0.0.1:{self.port}/metrics").text
        reconciles = queued = 0.0
        for family in text_string_to_metric_families(text):
            for sample in family.samples:
                if sample.name == "image_automation_reconciles_total":
                    if sample.labels.get("automation") == AUTOMATION:
                        reconciles += sample.value
                elif sample.name == "image_automation_queued_jobs":
                    queued += sample.value
        return reconciles, queued

    def wait_idle(self) -> float:
        """Wait until no job is queued or running; the reconciles recorded so far."""
        found = [0.0]

        def idle() -> bool:
            found[0], queued = self._metrics()
            return queued == 0

        wait_for(idle, "the daemon's queue to empty", limit=120)
        return found[0]

    def _wait_reconciled(self, before: float) -> None:
        def done() -> bool:
            reconciles, queued = self._metrics()
            return reconciles > before and queued == 0

        wait_for(done, "the webhook's reconcile", limit=120)

    def _hook(self) -> None:
        url = f"http://127.0.0.1:{self.port}" + webhook_path(HOOK_TOKEN, name="hub",
                                                             namespace=NAMESPACE)  # fmt: skip
        response = self.http.post(url, content=b'{"push_data": {}}')
        assert response.status_code == 202, response.text

    def hook_reconcile(self) -> None:
        """A registry webhook, then its scan and reconcile to the end (call when idle)."""
        before = self.wait_idle()
        self._hook()
        self._wait_reconciled(before)

    def open_pull_request(self) -> int:
        """The pull request the daemon opens for 1.1.0 (at start-up, or after a webhook)."""
        wait_for(lambda: self._metrics()[0] >= 1, "the start-up reconcile", limit=120)
        self.wait_idle()
        if not self.fleet.pulls():
            self.hook_reconcile()
        (pr,) = self.fleet.pulls("open")
        assert pr.head == HEAD and "1.1.0" in pr.title, pr
        return pr.number

    def stop_daemon(self) -> None:
        assert self.proc is not None
        self.proc.send_signal(signal.SIGTERM)
        self.proc.wait(60)

    def kill(self) -> None:
        if self.proc is not None and self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait(10)

    # -- the two sides of the latency figure ----------------------------------------------

    def timed_hook(self, watch: Watch, operation: str, number: int, tag: str) -> tuple[float, Noop]:
        """Seconds from the webhook POST to the fake recording the update to ``tag``, and
        the forge requests of that reconcile."""
        self.fleet.push(tag)
        before = self.wait_idle()
        watch.arm(operation=operation, number=number, needle=tag)
        started = [0.0]

        def run() -> None:
            started[0] = time.perf_counter()
            self._hook()
            watch.wait(f"the update of #{number} to {tag}")
            self._wait_reconciled(before)

        requests = self.count(run)
        pr = self.fake.pull(number)
        assert pr.state == "open" and tag in pr.title and tag in pr.body, pr
        assert self.fleet.marked(HEAD) == tag
        assert [p.number for p in self.fleet.pulls("open") if p.head == HEAD] == [number]
        return watch.at - started[0], requests

    def baseline_pull_request(self) -> int:
        """A clone of the fleet and a pull request of the baseline's own, from ``BASELINE``."""
        self.clone = self.fleet.root / "baseline"
        header = f"http.extraHeader=Authorization: Bearer {self.fake.token}"
        run_git("-c", header, "clone", "--quiet", self.git.url, str(self.clone))
        for key, value in (("http.extraHeader", header.split("=", 1)[1]),
                           ("user.name", "raw"), ("user.email", "raw@example.test")):  # fmt: skip
            run_git("config", key, value, cwd=self.clone)
        sha = self._prepare("1.1.0-raw")
        run_git("push", "--quiet", "origin", f"{sha}:refs/heads/{BASELINE}", cwd=self.clone)
        with self.fake.lock:
            pr = self.fake.open_pull(head=BASELINE, base="main", title="baseline",
                                     body="baseline", author="a-human")  # fmt: skip
        self._update(pr.number, "1.1.0-raw")  # opens the kept-alive connection
        return pr.number

    def _prepare(self, tag: str) -> str:
        """A commit on main's head with the marked line at ``tag`` (not pushed yet)."""
        run_git("reset", "--quiet", "--hard", "origin/main", cwd=self.clone)
        path = self.clone / APP_FILE
        image = self.fleet.image()
        path.write_text(path.read_text().replace(f"{image}:1.0.0 ", f"{image}:{tag} "))
        run_git("commit", "--quiet", "-am", f"raw {tag}", cwd=self.clone)
        return run_git("rev-parse", "HEAD", cwd=self.clone).strip()

    def _update(self, number: int, tag: str) -> None:
        method, url, headers, body = raw_update(self.fake, number, tag)
        response = self.http.request(method, url, headers=headers, json=body)
        assert response.is_success, f"{response.status_code} {response.text}"

    def timed_raw(self, watch: Watch, operation: str, number: int, tag: str) -> float:
        """Seconds for ``git push --force`` of a prepared commit + one update request."""
        sha = self._prepare(tag)
        watch.arm(operation=operation, number=number, needle=tag)
        started = time.perf_counter()
        run_git("push", "--quiet", "--force", "origin", f"{sha}:refs/heads/{BASELINE}",
                cwd=self.clone)  # fmt: skip
        self._update(number, tag)
        return watch.wait(f"the baseline's update to {tag}") - started


__all__ = ["BenchFleet", "Noop", "Watch", "raw_update", "update_operation"]
