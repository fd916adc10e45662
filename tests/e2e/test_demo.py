"""`make demo` (demo/run.py) runs reconcile against its own registry and remote and shows it:
first a pushed commit, then a pull request opened on a local fake GitHub."""

from __future__ import annotations

import io
import re
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from rich.console import Console

from demo.pull_request import CREATE, verdict
from tests.forges.fixtures import start_fake
from tests.forges.server import FakeForge
from tests.forges.state import Seen

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]
HOST = r"127\.0\.0\.1:\d+"


@pytest.fixture(scope="module")
def demo() -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "run.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    return done


def test_demo_commits_the_new_tag_and_shows_the_commit(
    demo: subprocess.CompletedProcess[str],
) -> None:
    out = demo.stdout.split("pull-request mode, on a local fake GitHub")[0]
    assert "ImageAutomation/apps/apps: committed" in out
    assert "apps:demo-app" in out
    assert re.search(r"^commit [0-9a-f]{40}$", out, re.M)  # git show of the remote's head
    assert re.search(rf"^-\s+image: {HOST}/demo/app:1\.0\.0 ", out, re.M)
    assert re.search(rf"^\+\s+image: {HOST}/demo/app:1\.1\.0 ", out, re.M)


def test_demo_ends_with_a_pull_request_on_the_fake_github_and_prints_it(
    demo: subprocess.CompletedProcess[str],
) -> None:
    _, _, out = demo.stdout.partition("pull-request mode, on a local fake GitHub")
    assert out, demo.stdout[-3000:]
    assert "ImageAutomation/apps/apps-pr: pull requests" in out
    assert re.search(rf"branch image-automation/apps: opened #1 http://{HOST}/", out)
    title = re.search(rf"^title:  chore\(images\): update {HOST}/demo/app to 1\.2\.0$", out, re.M)
    assert title, out
    assert re.search(r"^branch: image-automation/apps -> main \(head [0-9a-f]{12}\)$", out, re.M)
    assert re.search(r"^labels: dependencies$", out, re.M)
    assert re.search(r"^  \| `[^`]+/demo/app` \| `1\.1\.0` → `1\.2\.0` \|", out, re.M)  # body
    assert "head=image-automation/apps -->" in out  # the body's footer, printed whole
    head = out.split("git show image-automation/apps", 1)[1]
    assert re.search(r"^commit [0-9a-f]{40}$", head, re.M)
    assert re.search(rf"^-\s+image: {HOST}/demo/app:1\.1\.0 ", head, re.M)
    assert re.search(rf"^\+\s+image: {HOST}/demo/app:1\.2\.0 ", head, re.M)
    log = out.split("the API requests the fake GitHub saw", 1)[1]
    assert len(re.findall(r"^  201 POST /repos/fleet-org/fleet/pulls$", log, re.M)) == 1
    assert re.search(
        r"^fake GitHub: \d+ API requests, 1 pull request\(s\) created, 0 spec violation\(s\)$",
        log,
        re.M,
    )


@pytest.fixture
def github(tmp_path: Path) -> Iterator[FakeForge]:
    fake = start_fake("github", tmp_path / "forge")
    yield fake
    fake.stop()


def _seen(operation: str, status: int) -> Seen:
    method, _, path = operation.partition(" ")
    return Seen(method, path, operation, "", status, {}, b"")


def test_the_demo_fails_on_a_spec_violation_or_a_second_create(
    github: FakeForge, capsys: pytest.CaptureFixture[str]
) -> None:
    console = Console(file=io.StringIO())
    github.record(_seen(CREATE, 201))
    assert verdict(console, github) == 0
    assert "1 pull request(s) created, 0 spec violation(s)" in capsys.readouterr().out

    github.violation("request", CREATE, "'head' is a required property")
    assert verdict(console, github) == 1
    printed = capsys.readouterr()
    assert "'head' is a required property" in printed.out
    assert "demo failed: requests or replies broke GitHub's API description" in printed.err

    github.record(_seen(CREATE, 201))  # two creates now; the violation was taken
    assert verdict(console, github) == 1
    assert "expected exactly one create-pull-request request, saw 2" in capsys.readouterr().err
