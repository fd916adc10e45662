"""docs/daemon.md "Forge webhooks": the shell recipes sign and shape deliveries the daemon
accepts (tests/e2e/daemon/test_forge_webhook.py sends the GitHub one to ``run``)."""

from __future__ import annotations

import json
import re
import subprocess
from pathlib import Path

from multidict import CIMultiDict

from image_automation.daemon.forge_hooks import PullRequestAction, verify_forge_event
from image_automation.daemon.hooks import Verdict

DOC = Path(__file__).resolve().parents[3] / "docs" / "daemon.md"


def recipe(after: str) -> str:
    """The first ``sh`` block after the line starting with ``after``."""
    text = DOC.read_text()
    return text.split("\n" + after, 1)[1].split("```sh\n", 1)[1].split("```", 1)[0]


def github_recipe() -> str:
    return recipe("A GitHub delivery by hand")


def run_until_curl(script: str, cwd: Path) -> list[str]:
    """Run the recipe's lines before ``curl``; print what it computed."""
    head = script.split("\ncurl ", 1)[0]
    tail = '\nprintf "%s\\n%s\\n" "$SIG" "$BODY"\n'
    return subprocess.run(
        ["bash", "-euo", "pipefail", "-c", head + tail],
        cwd=cwd, capture_output=True, text=True, check=True,
    ).stdout.splitlines()  # fmt: skip


def test_the_github_recipe_signs_a_merge_the_daemon_accepts(tmp_path: Path) -> None:
    secret = "doc-forge-Secr3t"
    (tmp_path / "secrets" / "forge-hook").mkdir(parents=True)
    (tmp_path / "secrets" / "forge-hook" / "token").write_text(secret + "\n")
    script = github_recipe()
    assert "/hooks/forge/github/forge-hook" in script
    sig, body = run_until_curl(script, tmp_path)
    headers = CIMultiDict(
        {"X-GitHub-Event": "pull_request", "X-Hub-Signature-256": f"sha256={sig}"}
    )
    check = verify_forge_event("github", secret=secret, headers=headers, body=body.encode())
    assert check.event is not None, check.reason
    assert (check.event.repository, check.event.head_branch, check.event.action) == (
        "org/fleet", "image-updates", PullRequestAction.MERGED,
    )  # fmt: skip


def test_the_gitlab_recipe_is_a_merge_the_daemon_accepts() -> None:
    script = recipe("GitLab sends the secret itself")
    body = re.search(r"-d '(.*)'", script)
    assert body is not None
    json.loads(body.group(1))
    headers = CIMultiDict({"X-Gitlab-Event": "Merge Request Hook", "X-Gitlab-Token": "s3cret"})
    check = verify_forge_event(
        "gitlab", secret="s3cret", headers=headers, body=body.group(1).encode()
    )
    assert check.verdict is Verdict.ACCEPTED, check.reason
    assert check.event is not None and check.event.action is PullRequestAction.MERGED
