"""``image-automation run`` with a Flux Provider + Alert in the repository: a reconcile on the
real registry and git remote pushes a commit, and the commit_pushed event reaches a local
generic-hmac webhook, signed, in Flux's event format, as a CloudEvent; it is also in the
state store's event log and counted in /metrics."""

from __future__ import annotations

import hashlib
import hmac
import json
import sqlite3
import threading
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.daemon.harness import NAMESPACE, Fleet, wait_for
from tests.integration.git_fixtures import GitRemote, HttpGitServer
from tests.integration.registry_fixtures import RegistryServer
from tests.notify_schemas import cloudevent_from_headers, problems

KEY = "ci-Hmac-Secr3t"
ALERTS = f"""\
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {{name: ci, namespace: {NAMESPACE}}}
spec:
  type: generic-hmac
  secretRef: {{name: ci-webhook}}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {{name: ci, namespace: {NAMESPACE}}}
spec:
  providerRef: {{name: ci}}
  eventSeverity: info
  eventSources:
    - kind: ImageUpdateAutomation
      name: '*'
  eventMetadata: {{cluster: e2e}}
"""


class Hook:
    """A webhook receiver in a thread: records what validates, and what does not."""

    def __init__(self) -> None:
        self.received: list[dict[str, Any]] = []
        self.rejected: list[list[str]] = []
        hook = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length", "0")))
                data = json.loads(body)
                found = problems("flux-event", data)
                found += problems("cloudevents-1.0", cloudevent_from_headers(self.headers, body))
                expected = "sha256=" + hmac.new(KEY.encode(), body, hashlib.sha256).hexdigest()
                if self.headers.get("X-Signature") != expected:
                    found.append("bad X-Signature")
                (hook.rejected.append(found) if found else hook.received.append(data))
                self.send_response(400 if found else 200)
                self.end_headers()

            def log_message(self, *args: object) -> None:
                return

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/ci/SecretPathPart"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def hook() -> Iterator[Hook]:
    server = Hook()
    try:
        yield server
    finally:
        server.close()


@pytest.fixture
def fleet(
    tmp_path: Path, served_remote: GitRemote, http_git_server: HttpGitServer,
    registry_anonymous: RegistryServer,
) -> Iterator[Fleet]:  # fmt: skip
    fleet = Fleet(tmp_path, served_remote, http_git_server, registry_anonymous)
    try:
        yield fleet
    finally:
        fleet.close()


def test_a_pushed_commit_is_notified_stored_and_counted(fleet: Fleet, hook: Hook) -> None:
    fleet.setup(scan="1h", reconcile="1h")
    secret = fleet.root / "secrets" / "ci-webhook"
    secret.mkdir()
    (secret / "address").write_text(hook.url + "\n")
    (secret / "token").write_text(KEY + "\n")
    fleet.remote.commit_files({"clusters/alerts.yaml": ALERTS}, "alerts")
    fleet.push_tags("1.1.0")
    fleet.start()
    wait_for(lambda: fleet.deployed() == "1.1.0", "the reconcile's commit")
    wait_for(lambda: bool(hook.received), "the commit_pushed notification")
    assert hook.rejected == []
    [event] = hook.received
    assert event["reason"] == "CommitPushed"
    assert event["involvedObject"] == {
        "kind": "ImageUpdateAutomation", "namespace": NAMESPACE, "name": "fleet"}  # fmt: skip
    assert event["metadata"]["commit"] == fleet.remote.head()
    assert event["metadata"]["cluster"] == "e2e"
    wait_for(lambda: fleet.metric("image_automation_notifications_total",
                                  provider=f"{NAMESPACE}/ci", result="sent") == 1,
             "the sent counter")  # fmt: skip
    assert fleet.metric("image_automation_events_total", kind="commit_pushed") == 1
    db = sqlite3.connect(fleet.root / "data" / "state.db")
    try:
        rows = db.execute("SELECT kind, involved FROM events").fetchall()
    finally:
        db.close()
    assert rows == [("commit_pushed", f"ImageUpdateAutomation/{NAMESPACE}/fleet")]
    logs = fleet.logs()
    assert "SecretPathPart" not in logs and KEY not in logs
