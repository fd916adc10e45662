"""`make demo`, last step: the next version proposed as a pull request on a local fake GitHub.

Many teams protect `main`, so the demo ends in pull-request mode. Nothing here talks to
github.com: the forge is the test suite's fake GitHub (tests/forges), started in this
process, which checks every request it receives and every reply it sends against GitHub's
official OpenAPI description, with a real bare repository behind it served over smart HTTP
at the path a GitHub clone URL has. The fleet on it is the one the push step left (the
Deployment at ``demo/app:1.1.0``) with a native ``ImageAutomation`` that has a
``spec.pullRequest`` block; ``demo/app:1.2.0`` is pushed to the demo's registry, then
``image-automation reconcile --once`` runs as a subprocess, as a user would run it.

Printed: the pull request the fake holds (number, title, head → base, labels, body), the
head branch's commit, and every API request the fake saw. Any failure — the command's exit
status, not exactly one pull request created, a request or reply that broke GitHub's
description — ends the demo with exit status 1 and says why.
"""

from __future__ import annotations

import shlex
import subprocess
import sys
from pathlib import Path

from rich.console import Console

from tests.e2e.pullrequests.fleet import ForgeGit, start_forge_git
from tests.forges.fixtures import start_fake
from tests.forges.server import FakeForge
from tests.integration.local_registry import LocalRegistry

EXE = Path(sys.executable).with_name("image-automation")
SECRET = "fleet-git"
HEAD = "image-automation/apps"
CREATE = "POST /repos/{owner}/{repo}/pulls"


def pr_automation(api_url: str) -> str:
    """The automation of this step: ``policies/native/automation.yaml`` delivering by PR."""
    return f"""\
# Pull-request mode (docs/pull-requests.md): main is never written to; the update goes to
# the head branch and a pull request from it to main is opened, later updated in place.
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata:
  name: apps-pr
  namespace: apps
spec:
  git:
    branch: main                  # the base; the repository is the one it is found in
  commit:
    author: {{name: image-automation, email: image-automation@example.com}}
  update:
    path: ./clusters
  policySelector:
    matchLabels: {{automation: apps}}
  pullRequest:
    provider: github              # a local fake: its host does not say which forge it is
    apiURL: "{api_url}"
    # API token: the git secret's bearerToken (--git-secret), as for the clone and push
    branch: {HEAD}
    labels: [dependencies]
"""


def pull_request_demo(
    console: Console, *, registry: LocalRegistry, files: dict[str, str], tmp: Path
) -> int:
    """Run the step on a fresh fake GitHub; ``files``: the fleet (automation file replaced)."""
    fake = start_fake("github", tmp / "forge")
    git: ForgeGit | None = None
    try:
        git = start_forge_git(fake)
        return _run(console, fake=fake, git=git, registry=registry, files=files, tmp=tmp)
    finally:
        if git is not None:
            git.stop()
        fake.stop()


def _run(
    console: Console,
    *,
    fake: FakeForge,
    git: ForgeGit,
    registry: LocalRegistry,
    files: dict[str, str],
    tmp: Path,
) -> int:
    automation = pr_automation(fake.api_url)
    fake.move_base({**files, "automation/automation.yaml": automation}, "the fleet")
    secrets = tmp / "secrets" / SECRET
    secrets.mkdir(parents=True)
    (secrets / "bearerToken").write_text(fake.token + "\n")
    console.rule("pull-request mode, on a local fake GitHub")
    print(f"GitHub API {fake.api_url} (every request and reply checked against GitHub's")
    print(f"OpenAPI description); the fleet at {git.url}, main at demo/app:1.1.0")
    print("automation/automation.yaml on main:\n")
    print(automation)
    console.rule(f"push demo/app:1.2.0 to {registry.host}")
    registry.push("demo/app", "1.2.0")
    argv = ["reconcile", "--once", "--repo", git.url, "--branch", "main",
            "--secrets-dir", str(tmp / "secrets"), "--git-secret", SECRET,
            "--work-dir", str(tmp / "work-pr"), "--state", str(tmp / "state-pr.db")]  # fmt: skip
    console.rule("image-automation reconcile --once (pull-request mode)")
    print("$ image-automation " + shlex.join(argv))
    sys.stdout.flush()
    run = subprocess.run([str(EXE), *argv], check=False)
    if run.returncode != 0:
        return _fail(f"reconcile --once exited with {run.returncode}")
    with fake.lock:
        pulls = sorted(fake.pulls.values(), key=lambda p: p.number)
    if len(pulls) != 1 or pulls[0].head != HEAD or pulls[0].state != "open":
        return _fail(f"expected one open pull request from {HEAD}, the fake holds {pulls}")
    pr = fake.pull(pulls[0].number)
    console.rule(f"the pull request on the fake GitHub: #{pr.number}")
    print(f"title:  {pr.title}")
    print(f"branch: {pr.head} -> {pr.base} (head {pr.head_sha[:12]})")
    print(f"labels: {', '.join(pr.labels) or '-'}")
    print("body:")
    print("".join(f"  {line}\n" for line in pr.body.splitlines()), end="")
    console.rule(f"git show {pr.head} (the head branch on the fake's repository)")
    sys.stdout.flush()
    shown = subprocess.run(
        ["git", "--git-dir", str(fake.repo.path), "show", "--stat", "--patch", pr.head],
        check=False,
    )
    if shown.returncode != 0:
        return _fail(f"git show {pr.head} exited with {shown.returncode}")
    return verdict(console, fake)


def verdict(console: Console, fake: FakeForge) -> int:
    """Print the fake's request log and its verdict; 1 when the run broke a rule."""
    console.rule("the API requests the fake GitHub saw")
    with fake.lock:
        seen = list(fake.requests)
    for request in seen:
        print(f"  {request.status} {request.method} {request.path}")
    created = fake.count(CREATE)
    violations = fake.take_violations()
    print(f"fake GitHub: {len(seen)} API requests, {created} pull request(s) created, "
          f"{len(violations)} spec violation(s)")  # fmt: skip
    for violation in violations:
        print(f"  violation: {violation}")
    if violations:
        return _fail("requests or replies broke GitHub's API description")
    if created != 1:
        return _fail(f"expected exactly one create-pull-request request, saw {created}")
    return 0


def _fail(message: str) -> int:
    print(f"demo failed: {message}", file=sys.stderr)
    return 1


__all__ = ["CREATE", "pr_automation", "pull_request_demo", "verdict"]
