"""The status API and ``status`` CLI against a daemon on a real registry and git remote."""

from __future__ import annotations

import base64
import json
import subprocess
import sys

import httpx
import pytest

from tests.e2e.daemon.harness import Fleet
from tests.e2e.status.scenario import (
    AUTOMATION,
    HOSTILE_SUBJECT,
    POLICY,
    api,
    settled,
    with_history,
)

TOKEN = "status-T0ken-e2e"


def cli(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", "from image_automation.cli import main; main()", "status", *args],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip


def test_the_api_shows_the_scans_the_decision_the_history_and_the_push(fleet: Fleet) -> None:
    with_history(fleet)
    fleet.start()
    overview = settled(fleet)
    image = f"{fleet.host}/{fleet.image}"
    [repository] = overview["repositories"]
    assert (repository["name"], repository["state"], repository["tag_count"]) == (image, "ok", 3)
    [policy] = overview["policies"]
    assert (policy["key"], policy["selected"], policy["state"]) == (POLICY, "1.1.0", "current")
    assert policy["in_git"] == [f"{image}:1.1.0"]
    [automation] = overview["automations"]
    assert automation["last_error"] is None and automation["last_success"] is not None

    detail = api(fleet, f"/api/v1/policies/{POLICY}")
    commits = {c.sha: c for c in fleet.remote.commits()}
    versions = detail["versions"]
    # The remote's first commit marks another image for the same policy: history as it is.
    assert [v["value"] for v in versions[1:]] == [
        f"{image}:{t}" for t in ("1.0.0", "1.0.1", "1.1.0")
    ]
    assert versions[0]["subject"] == commits[versions[0]["commit"]].subject
    assert all(v["commit"] in commits for v in versions)
    assert versions[2]["subject"] == HOSTILE_SUBJECT
    assert versions[3]["commit"] == fleet.remote.head()
    fates = {t["tag"]: t["fate"] for t in detail["explain"]["tags"]}
    assert fates == {"1.1.0": "selected", "1.0.1": "outranked", "1.0.0": "outranked"}
    assert [g["value"] for g in detail["explain"]["git"]] == [f"{image}:1.1.0"]

    pushed = api(fleet, "/api/v1/events?kind=commit_pushed")["events"]
    assert [e["subject"] for e in pushed] == [AUTOMATION]
    assert pushed[0]["message"].startswith(f"pushed {fleet.remote.head()[:12]} to refs/heads/main")

    from_server = json.loads(cli("--server", fleet.url, "--output", "json").stdout)
    again = api(fleet, "/api/v1/status")
    assert {k: v for k, v in from_server.items() if k != "generated_at"} == {
        k: v for k, v in again.items() if k != "generated_at"}  # fmt: skip
    from_dir = cli("--data-dir", str(fleet.root / "data"), "--output", "json")
    assert from_dir.returncode == 0, from_dir.stderr
    assert json.loads(from_dir.stdout)["policies"][0]["in_git"] == [f"{image}:1.1.0"]
    table = cli("--server", fleet.url)
    assert table.returncode == 0 and POLICY in table.stdout and "current" in table.stdout


def test_a_status_secret_guards_the_page_and_api_but_not_probes_or_metrics(
    fleet: Fleet, monkeypatch: pytest.MonkeyPatch
) -> None:
    with_history(fleet)
    secret = fleet.root / "secrets" / "status"
    secret.mkdir()
    (secret / "token").write_text(TOKEN + "\n")
    (secret / "username").write_text("ops")
    (secret / "password").write_text("pass-W0rd-e2e")
    monkeypatch.setenv("IMAGE_AUTOMATION_STATUS_SECRET", "status")
    fleet.start()
    bearer = {"Authorization": f"Bearer {TOKEN}"}
    settled(fleet, **bearer)
    for path in ("/status", "/status/events", f"/status/policies/{POLICY}", "/api/v1/status"):
        refused = httpx.get(fleet.url + path, timeout=10)
        assert refused.status_code == 401, path
        assert refused.headers["WWW-Authenticate"].startswith("Basic realm=")
        assert httpx.get(fleet.url + path, headers=bearer, timeout=10).status_code == 200
    login = base64.b64encode(b"ops:pass-W0rd-e2e").decode()
    assert httpx.get(f"{fleet.url}/status", headers={"Authorization": f"Basic {login}"},
                     timeout=10).status_code == 200  # fmt: skip
    assert httpx.get(f"{fleet.url}/healthz", timeout=10).status_code == 200
    assert httpx.get(f"{fleet.url}/metrics", timeout=10).status_code == 200

    (fleet.root / "token").write_text(TOKEN)
    ok = cli("--server", fleet.url, "--token-file", str(fleet.root / "token"), "--output", "json")
    assert ok.returncode == 0 and json.loads(ok.stdout)["policies"][0]["key"] == POLICY
    refused_cli = cli("--server", fleet.url)
    assert refused_cli.returncode == 1 and "wants credentials" in refused_cli.stderr
    logs = fleet.logs()
    assert TOKEN not in logs and "pass-W0rd-e2e" not in logs
