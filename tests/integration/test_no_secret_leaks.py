"""The leak check itself: it must catch a secret, or its silence in every other test means nothing.

Every test in this directory runs under the autouse ``leak_check`` fixture (conftest.py): it
captures all log records (root logger at DEBUG, so httpx/httpcore/aiohttp records too) and the
exception texts and CLI output the tests hand it, and fails the test if any holds a test
password or an issued token. The CLI tests below feed a password in a git URL to
``reconcile``, ``validate`` and ``run`` and scan stdout, stderr, logs, pages and files.
"""

from __future__ import annotations

import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import httpx
import pytest

from image_automation.engine.automations import RepoTarget
from image_automation.engine.pullrequests import ForgePool, PullRequestContext
from image_automation.engine.reconcile import ReconcileReport, ReconcileRequest, reconcile_once
from image_automation.engine.registry_tags import StoreTagSource
from image_automation.errors import RegistryError
from image_automation.registry import RegistryClient, StaticCredentials
from image_automation.registry.credentials import Credential
from image_automation.state import open_store
from tests.e2e.pullrequests.fleet import PrFleet, flux_automation, start_forge_git
from tests.forges.fixtures import fake_forge_factory  # noqa: F401 (the fixture)
from tests.forges.server import FakeForge
from tests.integration.conftest import LeakCheck, _Capture, settings_for
from tests.integration.fixture_base import URL_PASSWORD, free_port
from tests.integration.registry_fixtures import PASSWORD, SECRETS, USERNAME, RegistryServer

pytestmark = pytest.mark.integration


def test_the_detector_finds_a_secret_in_a_log_line_and_an_exception() -> None:
    check = LeakCheck(_Capture())
    logger = logging.getLogger("leak-demo")
    logger.propagate = False  # keep the planted secret away from this test's own leak check
    logger.addHandler(check._capture)
    try:
        logger.warning("oops %s", PASSWORD)
    finally:
        logger.removeHandler(check._capture)
        logger.propagate = True
    try:
        raise RegistryError("boom") from ValueError(f"token={PASSWORD}")
    except RegistryError as exc:
        check.record(exc)
    leaks = check.leaks()
    assert len(leaks) == 2
    assert all(PASSWORD not in leak for leak in leaks)  # the report itself stays clean


async def test_issued_tokens_are_known_secrets(
    registry_token: RegistryServer, leak_check: LeakCheck
) -> None:
    assert registry_token.token_server is not None
    token = registry_token.token_server.issue(USERNAME, ["repository:x:pull"])
    assert token in SECRETS.all()


async def test_a_full_auth_run_logs_no_secret(
    registry_token: RegistryServer, leak_check: LeakCheck
) -> None:
    # Debug logging is on (fixture); run a token flow, a refusal and an error end to end.
    creds = StaticCredentials({registry_token.host: Credential(USERNAME, PASSWORD)})
    async with RegistryClient(settings=settings_for(registry_token), credentials=creds) as c:
        with leak_check.raises(RegistryError, match="not found"):
            await c.list_tags(f"{registry_token.host}/leak/missing")
        assert c._http.token_cache.secrets  # a token was issued and cached
    assert leak_check.all_texts()  # records were captured: the grep had input
    assert leak_check.leaks() == []


# -- a password in a git URL, through the CLI as a user types it ------------------------------

SECRET_URL = f"http://alice:{URL_PASSWORD}@127.0.0.1:1/fleet.git"
SHOWN_URL = "http://alice:***@127.0.0.1:1/fleet.git"
GIT_REPOSITORY = f"""\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {{name: fleet, namespace: apps}}
spec: {{url: "{SECRET_URL}", interval: 1m, ref: {{branch: main}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: apps, namespace: apps}}
spec:
  interval: 30m
  sourceRef: {{kind: GitRepository, name: fleet}}
  git:
    commit: {{author: {{name: bot, email: bot@example.test}}}}
  update: {{path: ./deploy}}
"""


def _cli(*args: str, cwd: Path) -> str:
    """Run the CLI as a user would; stdout and stderr together."""
    proc = subprocess.run(
        [sys.executable, "-c", "from image_automation.cli import main; main()", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    return f"exit {proc.returncode}\n{proc.stdout}\n{proc.stderr}"


def _files_hold(root: Path, secret: str) -> list[Path]:
    return [p for p in root.rglob("*") if p.is_file() and secret.encode() in p.read_bytes()]


def test_reconcile_shows_a_password_in_the_repo_url_masked(
    tmp_path: Path, leak_check: LeakCheck
) -> None:
    out = _cli(
        "reconcile", "--once", "--repo", SECRET_URL, "--work-dir", str(tmp_path / "wd"),
        "--state", str(tmp_path / "state.db"), "--verbose", cwd=tmp_path,
    )  # fmt: skip
    leak_check.record(out)
    assert out.startswith("exit 1")
    assert f"{SHOWN_URL} (main): git URL {SHOWN_URL} embeds credentials" in out
    assert not _files_hold(tmp_path, URL_PASSWORD)


def test_reconcile_and_validate_show_a_password_in_a_git_repository_url_masked(
    tmp_path: Path, leak_check: LeakCheck
) -> None:
    (tmp_path / "policies").mkdir()
    (tmp_path / "policies" / "automation.yaml").write_text(GIT_REPOSITORY)
    reconciled = _cli(
        "reconcile", "--once", "--config", "policies", "--work-dir", "wd",
        "--state", "state.db", "--verbose", cwd=tmp_path,
    )  # fmt: skip
    validated = _cli("validate", "--repo", SECRET_URL, "policies", cwd=tmp_path)
    leak_check.record(reconciled)
    leak_check.record(validated)
    assert reconciled.startswith("exit 1")
    assert f"git URL {SHOWN_URL} embeds credentials" in reconciled
    assert "documents" in validated  # validate ran over the file
    assert _files_hold(tmp_path, URL_PASSWORD) == [tmp_path / "policies" / "automation.yaml"]


def test_the_daemon_shows_a_password_in_the_repo_url_masked(
    tmp_path: Path, leak_check: LeakCheck
) -> None:
    port = free_port()
    log = tmp_path / "daemon.log"
    with log.open("wb") as sink:
        proc = subprocess.Popen(
            [
                sys.executable, "-c", "from image_automation.cli import main; main()", "run",
                "--repo", SECRET_URL, "--data-dir", str(tmp_path / "data"),
                "--listen", f"127.0.0.1:{port}", "--log-level", "debug",
            ],
            stdout=sink, stderr=subprocess.STDOUT, cwd=tmp_path,
        )  # fmt: skip
    try:
        _wait_for(lambda: "embeds credentials" in log.read_text(errors="replace"), proc)
        pages = [
            httpx.get(f"http://127.0.0.1:{port}{page}", timeout=10).text
            for page in ("/readyz", "/", "/metrics")
        ]
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(60)
    text = log.read_text(errors="replace")
    for recorded in (text, *pages):
        leak_check.record(recorded)
    assert f"git URL {SHOWN_URL} embeds credentials" in text
    assert not _files_hold(tmp_path, URL_PASSWORD)


def _wait_for(condition: Callable[[], bool], proc: subprocess.Popen[bytes]) -> None:
    """Bounded polling (no timing assertion): the daemon must get there or exit trying."""
    for _ in range(1200):
        if condition():
            return
        if proc.poll() is not None:
            raise AssertionError(f"daemon exited with {proc.returncode}")
        time.sleep(0.05)
    raise AssertionError("the daemon never reported the refused URL")


# -- a pull-request run: forge token in no log record, report, body, comment or file --------


async def test_a_pull_request_run_leaks_no_forge_token(
    fake_forge_factory: Callable[..., FakeForge],  # noqa: F811
    registry_anonymous: RegistryServer,
    tmp_path: Path,
    leak_check: LeakCheck,
) -> None:
    fake = fake_forge_factory("gitlab")  # every fake registers its token in SECRETS
    assert fake.token in SECRETS.all()
    git = start_forge_git(fake)
    try:
        fleet = PrFleet(fake=fake, git=git, registry=registry_anonymous, root=tmp_path)
        fleet.seed(flux_automation(fake))
        fleet.push("1.1.0")
        report = await _reconcile_pull_requests(fleet)
        fake.human_push("image-automation/fleet", {"NOTES.md": "mine\n"}, "a human")
        fleet.push("1.2.0")
        held = await _reconcile_pull_requests(fleet)
    finally:
        git.stop()
    assert [o.pull_requests[0].action for o in (*report.automations, *held.automations)] == [
        "opened",
        "held",
    ]
    leak_check.record(repr(report) + repr(held))
    for pr in fleet.pulls():
        leak_check.record(pr.title + pr.body + "".join(c.body for c in pr.comments))
    assert leak_check.all_texts()
    assert _files_hold(tmp_path / "work", fake.token) == []


async def _reconcile_pull_requests(fleet: PrFleet) -> ReconcileReport:
    def now() -> datetime:
        return datetime.now(UTC)

    secrets = fleet.root / "secrets"
    request = ReconcileRequest(
        work_dir=fleet.root / "work",
        repo=RepoTarget(fleet.git.url, "main", "forge-auth"),
        secrets_dir=secrets,
    )
    async with await open_store(fleet.root / "state.db") as store, ForgePool() as forges:
        tags = StoreTagSource(store=store, clock=now)
        context = PullRequestContext(forges=forges, secrets_dir=secrets)
        return await reconcile_once(
            request, tags=tags, store=store, clock=now, pull_requests=context
        )
