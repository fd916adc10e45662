"""``reconcile --once`` with every path given relative to the current directory."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.reconcile.helpers import APP_FILE, CLI, fleet_files
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def reconcile_in(cwd: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "reconcile", "--once", *args],
        cwd=cwd, env=dict(os.environ), capture_output=True, text=True, timeout=120,
        start_new_session=True, check=False,
    )  # fmt: skip


def test_relative_work_dir_state_secrets_and_remote_path_commit(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/rel-{os.urandom(3).hex()}"
    registry.push(repo, "1.0.0", "1.1.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    remote = make_remote(tmp_path / "fleet.git", files)
    cwd = tmp_path / "here"
    (cwd / "secrets").mkdir(parents=True)
    args = ["--work-dir", "./wd", "--state", "state.db", "--secrets-dir", "./secrets"]

    first = reconcile_in(cwd, "--repo", remote.url, *args)
    assert first.returncode == 0, first.stdout + first.stderr
    assert "Traceback" not in first.stderr
    assert f"{registry.host}/{repo}:1.1.0" in remote.read(APP_FILE)
    assert (cwd / "state.db").is_file()
    assert [p.name for p in (cwd / "wd").iterdir() if p.is_dir()] != []
    assert not (cwd / "wd" / "wd").exists()

    # A local remote named by a relative path, from another directory: the same repository.
    registry.push(repo, "1.2.0")
    second = reconcile_in(cwd, "--repo", "../fleet.git", *args)
    assert second.returncode == 0, second.stdout + second.stderr
    assert f"{registry.host}/{repo}:1.2.0" in remote.read(APP_FILE)


def test_a_work_dir_that_cannot_be_made_is_one_line_and_exit_1(tmp_path: Path) -> None:
    remote = make_remote(tmp_path / "fleet.git")
    (tmp_path / "a-file").write_text("not a directory\n")
    done = reconcile_in(tmp_path, "--repo", remote.url, "--work-dir", "a-file/wd",
                        "--state", "state.db")  # fmt: skip
    assert done.returncode == 1
    assert "Traceback" not in done.stderr
    errors = [line for line in done.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "a-file/wd" in errors[0], done.stderr
