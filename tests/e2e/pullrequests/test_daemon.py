"""The daemon delivers by pull request too, on each fake forge: it opens one, updates it in
place for a newer tag, counts both in its metrics, and (where the forge answers conditional
requests) its steady-state reads of the pull request cost a 304."""

from __future__ import annotations

import signal
import subprocess

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.daemon.harness import wait_for
from tests.e2e.pullrequests.fleet import PrFleet, flux_automation
from tests.integration.fixture_base import free_port

pytestmark = pytest.mark.integration

HEAD = "image-automation/fleet"
AUTOMATION = "apps/fleet"


def _pull_request_counts(port: int) -> dict[str, float]:
    text = httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=5).text
    counts: dict[str, float] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            ours = sample.labels.get("automation") == AUTOMATION
            if sample.name == "image_automation_pull_requests_total" and ours:
                counts[sample.labels["action"]] = sample.value
    return counts


def _stop(proc: subprocess.Popen[bytes]) -> None:
    proc.send_signal(signal.SIGTERM)
    try:
        proc.wait(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


def test_the_daemon_opens_then_updates_in_place_and_counts_it(fleet: PrFleet) -> None:
    fleet.seed(flux_automation(fleet.fake, interval="1s"), scan="1s")
    fleet.push("1.1.0")
    port = free_port()
    proc = fleet.daemon(port)
    try:
        wait_for(lambda: len(fleet.pulls()) == 1, "the daemon's pull request", limit=90)
        (pr,) = fleet.pulls()
        assert "1.1.0" in pr.title and fleet.marked(HEAD) == "1.1.0"

        fleet.push("1.2.0")
        wait_for(lambda: "1.2.0" in fleet.fake.pull(pr.number).title, "the update", limit=90)
        assert [p.number for p in fleet.pulls()] == [pr.number]
        assert fleet.marked(HEAD) == "1.2.0"
        wait_for(lambda: _pull_request_counts(port).get("unchanged", 0) >= 1, "a steady run")
        counts = _pull_request_counts(port)
        assert counts["opened"] == 1 and counts["updated"] >= 1, counts
        if fleet.fake.provider == "github":  # the one forge with conditional requests
            wait_for(lambda: fleet.fake.count(status=304) >= 1, "a 304 for a steady read")
    finally:
        _stop(proc)
    log = (fleet.root / "daemon.log").read_text()
    assert f'"head": "{HEAD}", "action": "opened", "pull_request": "{pr.number}"' in log
    assert fleet.fake.token not in log
