"""``reconcile --once`` on a repository holding a hostile policy file: refused, the rest runs."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.hostile_yaml import BOMB_LINE, THREADED_CEILING, billion_laughs, capped_memory
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

    result = subprocess.run(
        [str(CLI), "reconcile", "--once", "--repo", remote.url,
         "--work-dir", str(work), "--state", f"{work}.state.db"],
        cwd=REPO_ROOT, capture_output=True, text=True, timeout=120, start_new_session=True,
        preexec_fn=capped_memory(THREADED_CEILING), check=False,
    )  # fmt: skip

    assert "Traceback" not in result.stderr, result.stderr
    assert f"error: automation/bomb.yaml:{BOMB_LINE}: too many aliases" in result.stderr
    image = f"{registry.host}/{repo}"
    assert f"{APP_FILE}:11: apps:app: {image}:1.0.0 -> {image}:1.1.0" in result.stdout
    assert f"{image}:1.1.0" in remote.read(APP_FILE)
