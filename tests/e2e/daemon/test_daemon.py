"""``image-automation run`` end to end: real registry, real git remote over smart HTTP.

The daemon runs as a subprocess; every wait is bounded polling on a condition.
"""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path
from subprocess import Popen

import httpx
import pytest

from image_automation.daemon.hooks import hmac_hex
from tests.e2e.daemon.harness import NAMESPACE, Fleet, wait_for
from tests.integration.git_fixtures import Commit, GitRemote, HttpGitServer
from tests.integration.registry_fixtures import RegistryServer

REPO = "flux-system/app"


@pytest.fixture
def fleet(
    tmp_path: Path,
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    registry_anonymous: RegistryServer,
) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, served_remote, http_git_server, registry_anonymous)
    try:
        yield fleet
    finally:
        fleet.close()


def repository(fleet: Fleet) -> str:
    return f"{fleet.host}/{fleet.image}"


def test_webhooks_bring_new_tags_to_the_remote_and_bad_signatures_change_nothing(
    fleet: Fleet,
) -> None:
    fleet.setup(scan="1h", reconcile="1h")
    proc = fleet.start()
    fleet.wait_reconciled()
    scans = fleet.metric("image_automation_scans_total", repository=repository(fleet))
    assert fleet.deployed() == "1.0.0"

    # Docker Hub style: the body names another image and tag; only the configured one moves.
    fleet.push_tags("1.1.0")
    body = json.dumps({"push_data": {"tag": "9.9.9"}, "repository": {"repo_name": "evil/x"}})
    assert httpx.post(fleet.hook_url("hub"), content=body).status_code == 202
    wait_for(lambda: fleet.deployed() == "1.1.0", "the dockerhub hook's commit")

    # A bad signature: 401, counted, no scan, no commit.
    fleet.push_tags("1.2.0")
    head = fleet.remote.head()
    scans = fleet.metric("image_automation_scans_total", repository=repository(fleet))
    bad = {"X-Signature": f"sha256={hmac_hex('not-the-token', body.encode())}"}
    assert httpx.post(fleet.hook_url("signed"), content=body, headers=bad).status_code == 401
    assert httpx.post(fleet.hook_url("nobody"), content=body).status_code == 404
    assert fleet.metric("image_automation_webhook_requests_total",
                        receiver=f"{NAMESPACE}/signed", result="unauthorized") == 1  # fmt: skip
    assert fleet.metric("image_automation_scans_total", repository=repository(fleet)) == scans
    assert fleet.remote.head() == head

    # generic-hmac, correctly signed.
    good = {"X-Signature": f"sha256={hmac_hex('hook-Secr3t-token-e2e', body.encode())}"}
    assert httpx.post(fleet.hook_url("signed"), content=body, headers=good).status_code == 202
    wait_for(lambda: fleet.deployed() == "1.2.0", "the generic-hmac hook's commit")
    assert fleet.remote.commits()[0].author.startswith("bot")

    # /metrics shows the scans and the commits.
    wait_for(lambda: fleet.metric("image_automation_commits_total",
             automation=f"{NAMESPACE}/fleet") == 2, "the commit counter")  # fmt: skip
    assert fleet.metric("image_automation_scans_total", repository=repository(fleet)) == scans + 1
    assert fleet.metric("image_automation_repository_tags", repository=repository(fleet)) == 3
    assert fleet.stop(proc) == 0
    assert "hook-Secr3t-token-e2e" not in fleet.logs()
    assert fleet.git.password not in fleet.logs()


def test_without_a_webhook_the_commit_arrives_after_the_poll_interval(fleet: Fleet) -> None:
    fleet.setup(scan="1s", reconcile="1s")
    proc = fleet.start()
    fleet.wait_reconciled()
    fleet.push_tags("1.3.0")
    wait_for(lambda: fleet.deployed() == "1.3.0", "the polled commit")
    assert fleet.stop(proc) == 0


def test_a_policy_edited_in_the_remote_takes_effect_on_the_next_reconcile(fleet: Fleet) -> None:
    fleet.setup(scan="1h", reconcile="1s", range_="~1.0")
    fleet.push_tags("1.0.1", "1.1.0")
    proc = fleet.start()
    wait_for(lambda: fleet.deployed() == "1.0.1", "the ~1.0 selection")
    files = fleet.files(scan="1h", reconcile="1s", range_=">=1.0.0")
    fleet.remote.commit_files({"clusters/images.yaml": files["clusters/images.yaml"]}, "widen")
    wait_for(lambda: fleet.deployed() == "1.1.0", "the widened policy's commit")
    # A broken edit keeps the last good version of the file (and the daemon keeps running).
    fleet.remote.commit_files({"clusters/images.yaml": "kind: [\n"}, "break the policy file")
    fleet.push_tags("1.2.0")
    assert httpx.post(fleet.hook_url("hub"), content=b"{}").status_code == 202
    wait_for(lambda: fleet.deployed() == "1.2.0", "a commit made with the last good policy")
    assert fleet.metric("image_automation_config_errors") >= 1
    assert fleet.stop(proc) == 0


def test_sigterm_during_a_reconcile_exits_cleanly_and_the_next_start_is_consistent(
    fleet: Fleet,
) -> None:
    fleet.setup(scan="1h", reconcile="1h")
    proc = fleet.start(debug=True)
    fleet.wait_reconciled()
    fleet.push_tags("1.4.0")
    log = fleet.root / "daemon.log"
    seen = len(log.read_text().splitlines())
    assert httpx.post(fleet.hook_url("hub"), content=b"{}").status_code == 202

    def reconcile_running() -> bool:
        # The hook's reconcile has started git work (its fetch) in the daemon.
        lines = log.read_text().splitlines()[seen:]
        return any('"git fetch' in line for line in lines)

    wait_for(reconcile_running, "the hook's reconcile to start git work")
    assert fleet.stop(proc, sig=signal.SIGTERM) == 0
    assert '"stopped"' in log.read_text()
    # Whether the push landed within the grace period or not, the next start converges on
    # exactly one commit, from a work dir it repairs to the remote head.
    proc = fleet.start(log="second.log")
    wait_for(lambda: fleet.deployed() == "1.4.0", "the commit after restart")
    fleet.wait_reconciled()
    bot = [c.subject for c in fleet.remote.commits() if c.author.startswith("bot")]
    assert len(bot) == 1, bot
    assert fleet.stop(proc) == 0


def start_with_automation(fleet: Fleet, automation: str) -> tuple[Popen[bytes], Commit]:
    """Replace the fleet's automation file, push 1.1.0, start: the daemon and its commit."""
    fleet.setup(scan="1h", reconcile="1h")
    fleet.remote.commit_files({"clusters/automation.yaml": automation}, "automation")
    fleet.push_tags("1.1.0")
    proc = fleet.start()
    wait_for(lambda: fleet.deployed() == "1.1.0", "the automation's commit")
    return proc, fleet.remote.commits()[0]


def test_a_native_image_automation_gets_its_commit_from_the_daemon(fleet: Fleet) -> None:
    native = f"""\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: native, namespace: {NAMESPACE}}}
spec:
  interval: 1h
  commit:
    author: {{name: native-bot, email: native@example.test}}
    messageTemplate: "native: {{{{ changes | length }}}} change(s)"
  update: {{path: ./deploy}}
"""
    proc, commit = start_with_automation(fleet, native)
    assert commit.author.startswith("native-bot")
    assert commit.subject == "native: 1 change(s)"
    # The counter moves just after the push lands, so the commit can show first.
    key = f"ImageAutomation/{NAMESPACE}/native"
    wait_for(
        lambda: fleet.metric("image_automation_commits_total", automation=key) == 1,
        "the commit to be counted",
    )
    assert fleet.stop(proc) == 0


def test_a_flux_message_template_writes_the_daemons_commit_message(fleet: Fleet) -> None:
    automation = fleet.files(scan="1h", reconcile="1h")["clusters/automation.yaml"]
    template = (
        "      messageTemplate: |\n"
        "        Update from {{ .AutomationObject }}\n"
        "\n"
        "        {{ range $resource, $changes := .Changed.Objects -}}\n"
        "        {{ range $_, $change := $changes }}{{ $change.OldValue }} -> "
        "{{ $change.NewValue }}{{ end }}\n"
        "        {{ end -}}\n"
    )
    author = "      author: {name: bot, email: bot@example.test}\n"
    proc, commit = start_with_automation(fleet, automation.replace(author, author + template))
    assert commit.subject == f"Update from {NAMESPACE}/fleet"
    image = f"{fleet.host}/{fleet.image}"
    assert f"{image}:1.0.0 -> {image}:1.1.0" in commit.body
    assert fleet.stop(proc) == 0
