"""`make demo`, last step: a dev commit, then a staging promotion pull request (issue 11).

A fleet with a directory per environment (`clusters/dev`, `clusters/staging`, both at
``demo/app:1.1.0`` pinned to its digest) on a fresh local fake GitHub — the one of
demo/pull_request.py: every request and reply checked against GitHub's OpenAPI description,
a real bare repository behind it over smart HTTP. Its automation writes only `clusters/dev`;
its Promotion carries the image from dev to staging after a 1h soak (docs/promotion.md).

1. ``image-automation reconcile --once``: dev takes ``demo/app:1.2.0`` (pushed by the step
   before) by a commit on main, digest-pinned; ``git show`` prints it.
2. ``image-automation promote --once`` right after: staging waits, the soak not passed.
3. An hour later: the same evaluation in this process with its clock an hour ahead (a demo
   does not wait an hour): it opens the staging promotion pull request, which is printed
   with its head commit and the fake's request log.

Exit status 1, saying why, when a command fails, staging's pull request does not carry the
very image (tag and digest) dev's commit holds, or the fake saw more than one create or a
request or reply that broke GitHub's description.
"""

from __future__ import annotations

import asyncio
import shlex
import subprocess
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

from rich.console import Console

from demo.pull_request import verdict
from image_automation.cli._promote import report_lines
from image_automation.engine.automations import RepoTarget
from image_automation.engine.promotion import PromoteRequest, PromotionReport, promote_once
from image_automation.engine.pullrequests import ForgePool
from image_automation.state import open_store
from tests.e2e.pullrequests.fleet import ForgeGit, start_forge_git
from tests.forges.fixtures import start_fake
from tests.forges.server import FakeForge
from tests.integration.local_registry import LocalRegistry

EXE = Path(sys.executable).with_name("image-automation")
SECRET = "fleet-git"
HEAD = "image-automation/promote-demo-app-staging"
SOAK = timedelta(hours=1)


def promotion_doc(api_url: str) -> str:
    """The demo's Promotion: dev → staging, staging soaking an hour behind dev."""
    return f"""\
# docs/promotion.md: staging follows dev *in Git* (tag and digest), by pull request.
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {{name: demo-app, namespace: apps}}
spec:
  policies: [demo-app]
  pullRequest:
    provider: github              # a local fake: its host does not say which forge it is
    apiURL: "{api_url}"
    labels: [promotion]
  stages:
    - {{name: dev, path: clusters/dev}}
    - {{name: staging, path: clusters/staging, soak: 1h}}
"""


def dev_automation() -> str:
    """The first stage's feed: the usual automation, writing dev's directory only."""
    return """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: dev, namespace: apps}
spec:
  commit:
    author: {name: image-automation, email: image-automation@example.com}
  update: {path: ./clusters/dev}
  policySelector: {matchLabels: {automation: apps}}
"""


def fleet_files(files: dict[str, str], *, image: str, pinned: str, api_url: str) -> dict[str, str]:
    """``files`` (the demo's fleet) as two stages at ``pinned``, with digests written."""
    deployment = files["clusters/demo/app.yaml"].replace(f"{image}:1.1.0 ", f"{pinned} ")
    policy = files["automation/demo-app.yaml"] + "  digestReflectionPolicy: IfNotPresent\n"
    return {
        "clusters/dev/app.yaml": deployment,
        "clusters/staging/app.yaml": deployment,
        "automation/demo-app.yaml": policy,
        "automation/automation.yaml": dev_automation(),
        "automation/promotion.yaml": promotion_doc(api_url),
    }


def promotion_demo(
    console: Console, *, registry: LocalRegistry, files: dict[str, str], tmp: Path
) -> int:
    """Run the step on a fresh fake GitHub; ``files``: the fleet the push step left."""
    fake = start_fake("github", tmp / "promo-forge")
    git: ForgeGit | None = None
    try:
        git = start_forge_git(fake)
        image = f"{registry.host}/demo/app"
        (known,) = registry.push("demo/app", "1.1.0")  # the same bits again: its digest
        pinned = f"{image}:1.1.0@{known}"
        fake.move_base(fleet_files(files, image=image, pinned=pinned, api_url=fake.api_url),
                       "the fleet: dev and staging")  # fmt: skip
        secrets = tmp / "promo-secrets" / SECRET
        secrets.mkdir(parents=True)
        (secrets / "bearerToken").write_text(fake.token + "\n")
        return _run(console, fake=fake, git=git, tmp=tmp)
    finally:
        if git is not None:
            git.stop()
        fake.stop()


def _run(console: Console, *, fake: FakeForge, git: ForgeGit, tmp: Path) -> int:
    console.rule("promotion: dev → staging, on a local fake GitHub")
    print(f"the fleet at {git.url}: clusters/dev and clusters/staging at demo/app:1.1.0")
    print("automation/promotion.yaml on main:\n")
    print(promotion_doc(fake.api_url))
    common = ["--repo", git.url, "--branch", "main", "--secrets-dir", str(tmp / "promo-secrets"),
              "--git-secret", SECRET, "--state", str(tmp / "promo-state.db")]  # fmt: skip
    reconcile = ["reconcile", "--once", *common, "--work-dir", str(tmp / "promo-work-dev")]
    if _command(console, "image-automation reconcile --once (dev's automation)", reconcile):
        return _fail("reconcile --once failed")
    console.rule("git show main (dev's commit)")
    if _git(fake, "show", "--stat", "--patch", "main") != 0:
        return _fail("git show main failed")
    promote = ["promote", "--once", *common, "--work-dir", str(tmp / "promo-work")]
    if _command(console, "image-automation promote --once (right after dev's commit)", promote):
        return _fail("promote --once failed")
    console.rule("an hour later: the same evaluation, its clock an hour ahead (no waiting)")
    later = datetime.now(UTC) + SOAK + timedelta(minutes=1)
    report = asyncio.run(_evaluate(git=git, tmp=tmp, at=later))
    for line in [*report_lines(report), *(f"error: {e}" for e in report.errors)]:
        print(line)
    if not report.ok:
        return _fail("the evaluation an hour later failed")
    return _show(console, fake)


def _command(console: Console, title: str, argv: list[str]) -> int:
    console.rule(title)
    print("$ image-automation " + shlex.join(argv))
    sys.stdout.flush()
    return subprocess.run([str(EXE), *argv], check=False).returncode


async def _evaluate(*, git: ForgeGit, tmp: Path, at: datetime) -> PromotionReport:
    request = PromoteRequest(
        work_dir=tmp / "promo-work", repo=RepoTarget(git.url, "main", SECRET),
        secrets_dir=tmp / "promo-secrets",
    )  # fmt: skip
    async with await open_store(str(tmp / "promo-state.db")) as store, ForgePool() as forges:
        return await promote_once(request, store=store, clock=lambda: at, forges=forges)


def _show(console: Console, fake: FakeForge) -> int:
    with fake.lock:
        pulls = sorted(fake.pulls.values(), key=lambda p: p.number)
    if len(pulls) != 1 or pulls[0].head != HEAD or pulls[0].state != "open":
        return _fail(f"expected one open pull request from {HEAD}, the fake holds {pulls}")
    pr = fake.pull(pulls[0].number)
    dev, staging = _marked(fake, "dev", "main"), _marked(fake, "staging", pr.head)
    console.rule(f"the promotion pull request on the fake GitHub: #{pr.number}")
    print(f"title:  {pr.title}")
    print(f"branch: {pr.head} -> {pr.base} (head {pr.head_sha[:12]})")
    print(f"labels: {', '.join(pr.labels) or '-'}")
    print(f"dev on main:        {dev}\nstaging on {pr.head}: {staging}")
    print("body:")
    print("".join(f"  {line}\n" for line in pr.body.splitlines()), end="")
    if "@sha256:" not in dev or staging != dev:
        return _fail("staging's pull request does not carry the image dev's commit holds")
    console.rule(f"git show {pr.head} (the head branch on the fake's repository)")
    if _git(fake, "show", "--stat", "--patch", pr.head) != 0:
        return _fail(f"git show {pr.head} failed")
    return verdict(console, fake)


def _marked(fake: FakeForge, stage: str, ref: str) -> str:
    text = fake.repo.read(f"clusters/{stage}/app.yaml", ref)
    return text.split("image: ", 1)[1].split(" ", 1)[0]


def _git(fake: FakeForge, *args: str) -> int:
    sys.stdout.flush()
    return subprocess.run(["git", "--git-dir", str(fake.repo.path), *args], check=False).returncode


def _fail(message: str) -> int:
    print(f"demo failed: {message}", file=sys.stderr)
    return 1


__all__ = ["HEAD", "promotion_demo", "promotion_doc"]
