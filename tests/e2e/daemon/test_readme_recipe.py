"""The README's daemon recipe, taken from README.md as written, becomes ready and commits.

The commands of the first ``sh`` block under "Running the daemon locally" run from a fresh
directory that looks like a checkout after ``make setup`` (``.venv/bin`` and ``demo/``), with
their relative paths. Only the listen port is swapped for a free one. A README that drifts
from what works breaks this test.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from tests.e2e.daemon.harness import wait_for
from tests.integration.git_fixtures import GitRemote, free_port

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
RUN = ".venv/bin/image-automation run"
PORT = "127.0.0.1:9090"


def recipe() -> tuple[str, str]:
    """(the setup commands, the daemon command) of the README's file:// recipe."""
    text = (ROOT / "README.md").read_text()
    section = text.split("## Running the daemon locally\n", 1)[1]
    block = section.split("```sh\n", 1)[1].split("```", 1)[0]
    setup, sep, daemon = block.partition(RUN)
    assert sep, "the recipe no longer runs the daemon"
    assert "file://" in daemon and PORT in daemon
    return setup, RUN + daemon


def checkout(where: Path) -> None:
    """What the recipe expects of a fresh clone after ``make setup``."""
    (where / ".venv").symlink_to(sys.prefix)  # the environment running the tests
    (where / "demo").symlink_to(ROOT / "demo")


@pytest.fixture
def clone(tmp_path: Path) -> Iterator[Path]:
    where = tmp_path / "clone"
    where.mkdir()
    checkout(where)
    try:
        yield where
    finally:
        pid_file = where / "fleet" / "registry.pid"
        if pid_file.exists():
            os.kill(int(pid_file.read_text()), signal.SIGTERM)


def test_the_readme_daemon_recipe_becomes_ready_and_commits(clone: Path) -> None:
    setup, daemon = recipe()
    subprocess.run(["bash", "-euo", "pipefail", "-c", setup], cwd=clone, check=True, timeout=120)
    port = free_port()
    command = daemon.replace(PORT, f"127.0.0.1:{port}")
    with (clone / "daemon.log").open("wb") as log:
        proc = subprocess.Popen(["bash", "-c", f"exec {command}"], cwd=clone,
                                stdout=log, stderr=subprocess.STDOUT)  # fmt: skip
    try:

        def ready() -> bool:
            if proc.poll() is not None:
                raise AssertionError((clone / "daemon.log").read_text()[-4000:])
            try:
                return httpx.get(f"http://127.0.0.1:{port}/readyz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, "the daemon to be ready")
        remote = GitRemote(clone / "fleet" / "fleet.git")
        wait_for(lambda: "demo/app:1.1.0" in remote.read("clusters/demo/app.yaml"), "a commit")
        assert remote.commits()[0].author.startswith("image-automation")
        readme = (ROOT / "README.md").read_text()
        assert f"http://{PORT}/status" in readme and f"status --server http://{PORT}" in readme
        page = httpx.get(f"http://127.0.0.1:{port}/status", timeout=10)
        assert page.status_code == 200 and "apps/demo-app" in page.text
        shown = subprocess.run(
            [".venv/bin/image-automation", "status", "--server", f"http://127.0.0.1:{port}"],
            cwd=clone, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert shown.returncode == 0 and "apps/demo-app" in shown.stdout, shown.stderr
        proc.send_signal(signal.SIGTERM)
        assert proc.wait(60) == 0
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
    assert (clone / "data" / "state.db").is_file()
    ignored = subprocess.run(
        ["git", "-C", str(ROOT), "check-ignore", "--no-index", "fleet/", "secrets/", "data/"],
        capture_output=True, text=True, check=False,
    ).stdout.split()  # fmt: skip
    assert ignored == ["fleet/", "secrets/", "data/"]
