"""A fleet repository on a fake forge, a real registry, and ``reconcile --once`` against them.

:class:`ForgeGit` serves the fake forge's own bare repository over smart HTTP at the path the
forge's clone URLs have (``/fleet-org/fleet.git``; Azure ``/org/project/_git/repo``), so the
repository is read from the URL the way it is for the real forges (the fake's own ``/git/``
prefix is not part of any real forge's clone URL). The forge's token authenticates there
too; a push runs the fake's after-push hook (auto-merge), as one through the fake does.

:class:`PrFleet` seeds the fleet (a marked Deployment, an ImageRepository/ImagePolicy pair per
image, an automation delivering by pull request) onto the fake's ``main``, writes the secrets
dir (the forge token as the git secret's ``bearerToken``), pushes tags to the registry, and
runs the CLI as a subprocess in its own session (so a test can SIGKILL the whole group).
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from aiohttp import web
from click.testing import CliRunner

from image_automation.cli import root
from tests.forges.server import FakeForge
from tests.forges.state import PullRequest
from tests.integration.git_fixtures import HttpGitServer
from tests.integration.image_push import push_image
from tests.integration.registry_fixtures import RegistryServer

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_FILE = "clusters/app/app.yaml"
NAMESPACE = "apps"
AUTHOR_EMAIL = "bot@example.test"
SECRET = "forge-auth"
CREATE_HANDLERS = ("create_pull", "create_mr", "create_pr")


@dataclass
class ForgeGit(HttpGitServer):
    """Smart HTTP for a fake forge's bare repository at its forge-shaped path."""

    fake: FakeForge | None = None
    on_push: Callable[[], None] | None = None
    """Called after every push (CI starting on the new head, say)."""

    def _user(self, header: str | None) -> str | None:
        assert self.fake is not None
        return self.fake.authenticate({"Authorization": header} if header else {})

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        response = await super()._handle(request)
        if request.method == "POST" and request.path.endswith("/git-receive-pack"):
            assert self.fake is not None
            with self.fake.lock:
                if self.on_push is not None:
                    self.on_push()
                self.fake.after_push()
        return response

    @property
    def url(self) -> str:
        assert self.fake is not None
        return f"http://127.0.0.1:{self.port}/{self.fake.git_path}"


def start_forge_git(fake: FakeForge) -> ForgeGit:
    server = ForgeGit(root=fake.root / "git", fake=fake)
    server.start()
    return server


def manifest(image: str, policy: str = "app") -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: prod\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
        f'          image: {image} # {{"$imagepolicy": "{NAMESPACE}:{policy}"}}\n'
    )


def policy_docs(image: str, name: str, interval: str = "1m") -> str:
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec: {{image: "{image}", interval: {interval}, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  imageRepositoryRef: {{name: {name}}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
---
"""


def flux_automation(
    fake: FakeForge,
    *,
    name: str = "fleet",
    head: str = "image-automation/fleet",
    path: str = "./clusters",
    extra: str = "",
    interval: str = "5m",
) -> str:
    """A Flux ImageUpdateAutomation opted in to pull requests by annotations."""
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: {name}
  namespace: {NAMESPACE}
  annotations:
    image-automation.io/pull-request: "true"
    image-automation.io/forge: {fake.provider}
    image-automation.io/forge-api-url: "{fake.api_url}"
{extra}spec:
  interval: {interval}
  sourceRef: {{kind: GitRepository, name: fleet}}
  git:
    checkout: {{ref: {{branch: main}}}}
    commit:
      author: {{name: Image Bot, email: {AUTHOR_EMAIL}}}
    push: {{branch: {head}}}
  update: {{path: {path}, strategy: Setters}}
---
"""


def native_automation(fake: FakeForge, *, name: str = "fleet", path: str = "./clusters",
                      pull_request: str = "") -> str:  # fmt: skip
    """A native ImageAutomation with ``spec.pullRequest`` (``pull_request``: more fields)."""
    return f"""\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {{name: {name}, namespace: {NAMESPACE}}}
spec:
  commit:
    author: {{name: Image Bot, email: {AUTHOR_EMAIL}}}
  update: {{path: {path}}}
  pullRequest:
    provider: {fake.provider}
    apiURL: "{fake.api_url}"
{pull_request}---
"""


@dataclass
class PrFleet:
    """A fleet on ``fake``, its images in ``registry``; ``images`` are policy → repository."""

    fake: FakeForge
    git: ForgeGit
    registry: RegistryServer
    root: Path
    images: dict[str, str] = field(default_factory=dict)
    runs: list[subprocess.CompletedProcess[str]] = field(default_factory=list)

    @property
    def head(self) -> str:
        return "image-automation/fleet"

    def image(self, policy: str = "app") -> str:
        return f"{self.registry.host}/{self.images[policy]}"

    def seed(self, automation: str, *, policies: Sequence[str] = ("app",), tag: str = "1.0.0",
             labels: Mapping[str, str] | None = None, scan: str = "1m") -> None:  # fmt: skip
        """Push ``tag`` of each policy's image; commit the fleet files onto ``main``."""
        secrets = self.root / "secrets" / SECRET
        secrets.mkdir(parents=True, exist_ok=True)
        (secrets / "bearerToken").write_text(self.fake.token + "\n")
        files: dict[str, str] = {"README.md": "fleet\n"}
        docs = ""
        for policy in policies:
            self.images[policy] = f"team/{policy}-{os.urandom(4).hex()}"
            self.push(tag, policy=policy, labels=labels)
            files[f"clusters/{policy}/app.yaml"] = manifest(f"{self.image(policy)}:{tag}", policy)
            docs += policy_docs(self.image(policy), policy, scan)
        files["automation/policies.yaml"] = docs
        files["automation/automation.yaml"] = automation
        self.fake.move_base(files, "the fleet")

    def push(
        self, *tags: str, policy: str = "app", labels: Mapping[str, str] | None = None
    ) -> None:
        with self.registry.push_client() as client:
            for tag in tags:
                wanted = {k: v.replace("{tag}", tag) for k, v in (labels or {}).items()}
                push_image(client, self.registry.url, self.images[policy], [tag], salt=tag,
                           labels=wanted)  # fmt: skip

    def marked(self, ref: str, policy: str = "app") -> str:
        """The tag the marked line holds on ``ref`` of the bare repository."""
        text = self.fake.repo.read(f"clusters/{policy}/app.yaml", ref)
        return text.split(f"{self.images[policy]}:")[1].split(" ")[0]

    def argv(self, *args: str) -> list[str]:
        work = self.root / "work"
        return [
            sys.executable, "-c", "from image_automation.cli import main; main()",
            "reconcile", "--once", "--repo", self.git.url, "--branch", "main",
            "--secrets-dir", str(self.root / "secrets"), "--git-secret", SECRET,
            "--work-dir", str(work), "--state", str(self.root / "state.db"), *args,
        ]  # fmt: skip

    def reconcile(
        self, *args: str, ok: bool = True, process: bool = False
    ) -> subprocess.CompletedProcess[str]:
        """``reconcile --once``; asserts exit 0 unless ``ok`` is False.

        By default the CLI's own command runs in this process (click's test runner: the same
        code from argument parsing to the report, without an interpreter start per run);
        ``process`` runs it as a subprocess, for what only a process shows (its log lines).
        """
        if process:
            done = subprocess.run(
                self.argv(*args), cwd=REPO_ROOT, capture_output=True, text=True, timeout=180,
                start_new_session=True, check=False,
            )  # fmt: skip
        else:
            argv = self.argv(*args)[3:]
            result = CliRunner().invoke(root, argv, catch_exceptions=False)
            done = subprocess.CompletedProcess(argv, result.exit_code, result.stdout, result.stderr)
        self.runs.append(done)
        if ok:
            assert done.returncode == 0, f"stdout:\n{done.stdout}\nstderr:\n{done.stderr}"
        return done

    def spawn(self, *args: str) -> subprocess.Popen[str]:
        """``reconcile --once`` started in its own session (its pid is its process group)."""
        return subprocess.Popen(
            self.argv(*args), cwd=REPO_ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            text=True, start_new_session=True,
        )  # fmt: skip

    def daemon(self, port: int) -> subprocess.Popen[bytes]:
        """``image-automation run`` on this fleet, listening on ``port``, logging JSON."""
        env = {**os.environ, "IMAGE_AUTOMATION_LISTEN": f"127.0.0.1:{port}"}
        with (self.root / "daemon.log").open("ab") as sink:
            return subprocess.Popen(
                [
                    sys.executable, "-c", "from image_automation.cli import main; main()",
                    "run", "--repo", self.git.url, "--git-secret", SECRET,
                    "--secrets-dir", str(self.root / "secrets"),
                    "--data-dir", str(self.root / "data"), "--log-format", "json",
                ],
                stdout=sink, stderr=subprocess.STDOUT, env=env, cwd=self.root,
            )  # fmt: skip

    def pulls(self, state: str | None = None) -> list[PullRequest]:
        with self.fake.lock:
            found = sorted(self.fake.pulls.values(), key=lambda p: p.number)
        return [p for p in found if state in (None, p.state)]

    def writes(self) -> list[str]:
        """Every API request that is not a read, as ``METHOD path``."""
        with self.fake.lock:
            seen = list(self.fake.requests)
        return [f"{s.method} {s.path}" for s in seen if s.method not in ("GET", "HEAD")]

    def creates(self) -> int:
        """Create-pull-request requests the fake received (whatever it answered)."""
        ops = [op for op, handler in self.fake.routes.items() if handler in CREATE_HANDLERS]
        return sum(self.fake.count(op) for op in ops)

    def create_op(self) -> str:
        return next(op for op, h in self.fake.routes.items() if h in CREATE_HANDLERS)


__all__ = [
    "APP_FILE",
    "AUTHOR_EMAIL",
    "NAMESPACE",
    "ForgeGit",
    "PrFleet",
    "flux_automation",
    "manifest",
    "native_automation",
    "policy_docs",
    "start_forge_git",
]
