"""``run`` as a new user starts it: relative paths, a remote not there yet, a hung registry."""

from __future__ import annotations

import json
import signal
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.daemon.harness import Fleet, SilentServer, policy_files, wait_for
from tests.integration.git_fixtures import GitRemote, HttpGitServer, make_remote
from tests.integration.registry_fixtures import RegistryServer

pytestmark = pytest.mark.integration


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


def test_relative_data_and_secrets_dirs_become_ready_and_commit(fleet: Fleet) -> None:
    fleet.setup(scan="1h", reconcile="1h")
    fleet.push_tags("1.1.0")
    proc = fleet.start(relative=True)
    wait_for(lambda: fleet.deployed() == "1.1.0", "the commit")
    assert (fleet.root / "data" / "state.db").is_file()
    assert not (fleet.root / "data" / "git" / "data").exists()
    assert "Traceback" not in fleet.logs()
    assert fleet.stop(proc) == 0


def test_readyz_says_why_until_the_start_up_retry_succeeds(fleet: Fleet) -> None:
    fleet.setup(scan="1h", reconcile="1h")
    later = fleet.root / "later.git"  # the remote does not exist yet
    proc = fleet.start(repo=f"file://{later}", wait_ready=False)

    def says_why() -> bool:
        status, text = fleet.readyz()
        return status == 503 and "policies not loaded yet: " in text and "clone failed" in text

    wait_for(says_why, "/readyz to name the clone error")
    make_remote(later, fleet.files(scan="1h", reconcile="1h"))
    fleet.push_tags("1.1.0")
    wait_for(lambda: fleet.readyz()[0] == 200, "a start-up retry to succeed")
    wait_for(lambda: "1.1.0" in GitRemote(later).read("deploy/app.yaml"), "the commit")
    assert fleet.stop(proc) == 0


def test_sigterm_during_a_hung_scan_stops_without_waiting_for_the_grace_period(
    fleet: Fleet,
) -> None:
    hung = SilentServer()
    try:
        fleet.setup(scan="1h", reconcile="1h")
        files = policy_files(hung.host, scan="1h", reconcile="1h", name=fleet.image)
        fleet.remote.commit_files(files, "point at a registry that never answers")
        proc = fleet.start(grace="1h")
        wait_for(lambda: hung.accepted >= 1, "the scan to reach the hung registry")
        proc.send_signal(signal.SIGTERM)
        # A stop that waited the grace period would sit here for an hour: bounded, not timed.
        assert proc.wait(60) == 0
        assert '"stopped"' in fleet.logs()
    finally:
        hung.close()


def test_update_warnings_are_logged_once_and_commits_carry_their_fields(fleet: Fleet) -> None:
    fleet.setup(scan="1h", reconcile="1s")
    other = 'image: x:1 # {"$imagepolicy": "flux-system:nope"}\n'
    fleet.remote.commit_files({"deploy/other.yaml": other}, "a marker naming no policy")
    fleet.push_tags("1.1.0")
    proc = fleet.start()
    wait_for(lambda: fleet.deployed() == "1.1.0", "the commit")
    fleet.wait_reconciled(times=4)
    assert fleet.stop(proc) == 0
    records = [json.loads(line) for line in fleet.logs().splitlines() if line.startswith("{")]
    unknown = [r for r in records if "unknown policy flux-system:nope" in r["message"]]
    assert len(unknown) == 1, unknown
    assert unknown[0]["level"] == "warning" and "deploy/other.yaml" in unknown[0]["message"]
    [change] = [r for r in records if r.get("file") == "deploy/app.yaml"]
    image = f"{fleet.host}/{fleet.image}"
    assert (change["old"], change["new"]) == (f"{image}:1.0.0", f"{image}:1.1.0")
    assert change["commit"] == fleet.remote.head()
    assert change["automation"] == "flux-system/fleet"
