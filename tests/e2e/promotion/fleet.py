"""A promotion fleet: stages on a spec-validating fake forge, and evaluations on a test clock.

:class:`PromoFleet` seeds a repository on a fake forge (its real bare repository served over
smart HTTP, as :mod:`tests.e2e.pullrequests.fleet` does) with one manifest per stage, each
holding the same marked image, and a Promotion document. :meth:`PromoFleet.promote` runs
one evaluation in this process with the fleet's clock — real time plus :attr:`offset`, which
a test moves forward instead of sleeping through a soak — and returns the report and the
lines ``promote --once`` prints for it. :meth:`PromoFleet.cli` runs the command itself.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

from click.testing import CliRunner

from image_automation.cli import root as cli_root
from image_automation.cli._promote import report_lines
from image_automation.engine.automations import RepoTarget
from image_automation.engine.promotion import PromoteRequest, PromotionReport, promote_once
from image_automation.engine.pullrequests import ForgePool
from image_automation.state import open_store
from tests.e2e.pullrequests.fleet import ForgeGit, start_forge_git
from tests.forges.server import FakeForge
from tests.forges.state import PullRequest

REPO_ROOT = Path(__file__).resolve().parents[3]
NAMESPACE = "apps"
SECRET = "forge-auth"
BOT = "promotions@example.test"
IMAGE = "registry.example.test/team/web"


def digest(tag: str, salt: str = "") -> str:
    """A made-up but well-formed digest per tag (and rebuild ``salt``)."""
    import hashlib

    return "sha256:" + hashlib.sha256(f"{tag}{salt}".encode()).hexdigest()


def manifest(value: str, *, name: str = "web", policy: str = "web") -> str:
    return (
        f"apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {name}\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
        f'          image: {value} # {{"$imagepolicy": "{NAMESPACE}:{policy}"}}\n'
    )


def policy_doc(image: str = IMAGE, name: str = "web", extra: str = "") -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec: {{image: "{image}", interval: 1m, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  imageRepositoryRef: {{name: {name}}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
  digestReflectionPolicy: IfNotPresent
{extra}---
"""


def promotion_doc(fake: FakeForge, stages: str, *, name: str = "web", extra: str = "",
                  git: str = "") -> str:  # fmt: skip
    """A Promotion on ``fake`` (``stages``: the YAML list under ``stages:``, indented)."""
    return f"""\
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
{git}  commit:
    author: {{name: Promotion Bot, email: {BOT}}}
  policies: [web]
  pullRequest:
    provider: {fake.provider}
    apiURL: "{fake.api_url}"
{extra}  stages:
{stages}---
"""


DIRECTORY_STAGES = """\
    - {name: dev, path: clusters/dev}
    - {name: staging, path: clusters/staging, soak: 1h}
    - name: prod
      path: clusters/prod
      soak: 24h
      gates: {checks: [e2e]}
"""


@dataclass
class PromoFleet:
    fake: FakeForge
    git: ForgeGit
    root: Path
    offset: timedelta = timedelta(0)
    reports: list[PromotionReport] = field(default_factory=list)

    def now(self) -> datetime:
        return datetime.now(UTC) + self.offset

    def seed(self, files: Mapping[str, str], *, message: str = "the fleet") -> str:
        secrets = self.root / "secrets" / SECRET
        secrets.mkdir(parents=True, exist_ok=True)
        (secrets / "bearerToken").write_text(self.fake.token + "\n")
        return self.fake.move_base(dict(files), message)

    def stage_files(self, stages: Sequence[str], value: str) -> dict[str, str]:
        return {f"clusters/{s}/app.yaml": manifest(value) for s in stages}

    def set_stage(self, stage: str, value: str, *, branch: str = "main", message: str = "") -> str:
        """A commit (by a human) setting ``stage``'s marked image to ``value``."""
        files = {f"clusters/{stage}/app.yaml": manifest(value)}
        return self.fake.human_push(branch, files, message or f"{stage}: {value}")

    def marked(self, stage: str, ref: str = "main", *, path: str | None = None) -> str:
        text = self.fake.repo.read(path or f"clusters/{stage}/app.yaml", ref)
        return text.split("image: ", 1)[1].split(" ", 1)[0]

    @property
    def secrets_dir(self) -> Path:
        return self.root / "secrets"

    def promote(self, *, dry_run: bool = False, extra: Sequence[FakeForge] = ()) -> list[str]:
        """One evaluation at :meth:`now`; the printed lines (the report is in ``reports``)."""
        request = PromoteRequest(
            work_dir=self.root / "work",
            repo=RepoTarget(self.git.url, "main", SECRET),
            secrets_dir=self.secrets_dir,
            dry_run=dry_run,
        )

        async def run() -> PromotionReport:
            async with await open_store(str(self.root / "state.db")) as store, ForgePool() as pool:
                return await promote_once(request, store=store, clock=self.now, forges=pool)

        report = asyncio.run(run())
        self.reports.append(report)
        lines = [*report_lines(report), *(f"error: {e}" for e in report.errors)]
        assert report.ok, "\n".join(lines)
        return lines

    def argv(self, *args: str) -> list[str]:
        return [
            "promote", "--once", "--repo", self.git.url, "--secrets-dir", str(self.secrets_dir),
            "--git-secret", SECRET, "--work-dir", str(self.root / "work"),
            "--state", str(self.root / "state.db"), *args,
        ]  # fmt: skip

    def cli(self, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
        result = CliRunner().invoke(cli_root, self.argv(*args), catch_exceptions=False)
        done = subprocess.CompletedProcess(args, result.exit_code, result.stdout, result.stderr)
        if ok:
            assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return done

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """``promote --once`` in its own session (so a test can SIGKILL its group)."""
        return subprocess.Popen(
            [sys.executable, "-c", "from image_automation.cli import main; main()",
             *self.argv(*args)],
            cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
            start_new_session=True,
        )  # fmt: skip

    def pulls(self, state: str | None = None) -> list[PullRequest]:
        with self.fake.lock:
            found = sorted(self.fake.pulls.values(), key=lambda p: p.number)
        return [p for p in found if state in (None, p.state)]

    def writes(self) -> list[str]:
        with self.fake.lock:
            seen = list(self.fake.requests)
        return [f"{s.method} {s.path}" for s in seen if s.method not in ("GET", "HEAD")]


def start_fleet(fake: FakeForge, root: Path) -> PromoFleet:
    return PromoFleet(fake=fake, git=start_forge_git(fake), root=root)


__all__ = [
    "BOT",
    "DIRECTORY_STAGES",
    "IMAGE",
    "NAMESPACE",
    "SECRET",
    "PromoFleet",
    "digest",
    "manifest",
    "policy_doc",
    "promotion_doc",
    "start_fleet",
]
