"""``reconcile --once`` on a repository holding a hostile policy file: refused, the rest runs."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.hostile_yaml import BOMB_LINE, THREADED_CEILING, billion_laughs, run_measured
from tests.e2e.reconcile.helpers import APP_FILE, CLI, REPO_ROOT, fleet_files
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def test_alias_bomb_in_the_repository_is_refused_and_the_other_files_still_update(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/hostile-{os.urandom(3).hex()}"
    registry.push(repo, "1.0.0", "1.1.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files["automation/bomb.yaml"] = billion_laughs()
    remote = make_remote(tmp_path / "fleet.git", files)
    work = tmp_path / "work"

    result, peak_kib = run_measured(
        [str(CLI), "reconcile", "--once", "--repo", remote.url,
         "--work-dir", str(work), "--state", f"{work}.state.db"],
        report=tmp_path / "peak", limit=THREADED_CEILING,
        cwd=REPO_ROOT, timeout=120, start_new_session=True,
    )  # fmt: skip
    stdout, stderr = result.stdout, result.stderr

    assert "Traceback" not in stderr, stderr
    assert f"error: automation/bomb.yaml:{BOMB_LINE}: too many aliases" in stderr
    assert peak_kib < 100 * 1024, f"peak RSS {peak_kib} KiB"  # the issue: under 100 MB
    image = f"{registry.host}/{repo}"
    assert f"{APP_FILE}:11: apps:app: {image}:1.0.0 -> {image}:1.1.0" in stdout
    assert f"{image}:1.1.0" in remote.read(APP_FILE)
