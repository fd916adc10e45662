"""The daemon evaluates promotions: at start (then on their interval), and at once when the
forge says a stage moved — a signed push event after a merge into the base wakes the next
stage's promotion, long before its hour-long interval."""

from __future__ import annotations

import hashlib
import hmac
import json
import os
import signal
import subprocess
import sys

import httpx
import pytest

from tests.e2e.daemon.harness import wait_for
from tests.e2e.promotion.fleet import IMAGE, SECRET, PromoFleet, digest, policy_doc, promotion_doc
from tests.integration.fixture_base import free_port

pytestmark = pytest.mark.integration

HOOK_SECRET = "forge-Secr3t-promotions"
STAGES = """\
    - {name: dev, path: clusters/dev}
    - {name: staging, path: clusters/staging}
    - {name: prod, path: clusters/prod}
"""


def _daemon(fleet: PromoFleet, port: int) -> subprocess.Popen[bytes]:
    env = {**os.environ, "IMAGE_AUTOMATION_LISTEN": f"127.0.0.1:{port}"}
    with (fleet.root / "daemon.log").open("ab") as sink:
        return subprocess.Popen(
            [sys.executable, "-c", "from image_automation.cli import main; main()", "run",
             "--repo", fleet.git.url, "--git-secret", SECRET,
             "--secrets-dir", str(fleet.secrets_dir), "--data-dir", str(fleet.root / "data"),
             "--log-format", "json"],
            stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=fleet.root,
        )  # fmt: skip


def _push_event(fleet: PromoFleet, port: int, sha: str) -> httpx.Response:
    body = json.dumps({"ref": "refs/heads/main", "after": sha,
                       "repository": {"full_name": fleet.fake.repository}}).encode()  # fmt: skip
    signature = hmac.new(HOOK_SECRET.encode(), body, hashlib.sha256).hexdigest()
    headers = {"X-GitHub-Event": "push", "X-Hub-Signature-256": f"sha256={signature}",
               "Content-Type": "application/json"}  # fmt: skip
    url = f"http://127.0.0.1:{port}/hooks/forge/github/forge-hook"
    return httpx.post(url, content=body, headers=headers, timeout=10)


def test_the_daemon_promotes_at_start_and_when_a_merge_is_pushed(github_fleet: PromoFleet) -> None:
    fleet = github_fleet
    one, two = f"{IMAGE}:1.0.0@{digest('1.0.0')}", f"{IMAGE}:1.1.0@{digest('1.1.0')}"
    files = fleet.stage_files(["staging", "prod"], one)
    files["clusters/dev/app.yaml"] = fleet.stage_files(["dev"], two)["clusters/dev/app.yaml"]
    files["automation/policies.yaml"] = policy_doc("127.0.0.1:9/team/web")  # never scanned ok
    files["automation/promotion.yaml"] = promotion_doc(
        fleet.fake, STAGES, extra="", git=""
    ).replace("  policies: [web]", "  interval: 1h\n  policies: [web]")
    fleet.seed(files)
    (fleet.secrets_dir / "forge-hook").mkdir()
    (fleet.secrets_dir / "forge-hook" / "token").write_text(HOOK_SECRET + "\n")
    port = free_port()
    proc = _daemon(fleet, port)
    try:
        wait_for(lambda: len(fleet.pulls("open")) == 1, "the staging pull request", limit=90)
        (staging,) = fleet.pulls("open")
        assert staging.base == "main" and staging.head.endswith("-staging")
        merged = fleet.fake.human_merge(staging.number)
        answer = _push_event(fleet, port, merged)
        assert answer.status_code == 202, answer.text
        wait_for(lambda: any(p.head.endswith("-prod") for p in fleet.pulls("open")),
                 "the prod pull request, woken by the push", limit=90)  # fmt: skip
        (prod,) = fleet.pulls("open")
        assert fleet.marked("prod", prod.head) == two
        base = f"http://127.0.0.1:{port}/api/v1"
        wait_for(lambda: any(r["stage"] == "prod" and r["pull_request"] == prod.number
                             for r in httpx.get(f"{base}/status").json()["promotions"]),
                 "the prod stage's pull request on the status page", limit=30)  # fmt: skip
        wait_for(lambda: {e["message"].split(":", 1)[0] for e in
                          httpx.get(f"{base}/events?kind=promotion").json()["events"]}
                 >= {"promotion dev → staging", "promotion staging → prod"},
                 "promotion events for both stages", limit=30)  # fmt: skip
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=30)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
    log = (fleet.root / "daemon.log").read_text()
    assert '"message": "promotion apps/web: current:' in log or "promotion apps/web" in log
    assert fleet.fake.token not in log and HOOK_SECRET not in log
