"""``reconcile --once`` on a repository holding a hostile policy file: refused, the rest runs."""

from __future__ import annotations

import os
import signal
import subprocess
import threading
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

    out, err = tmp_path / "stdout", tmp_path / "stderr"
    with out.open("w") as stdout_file, err.open("w") as stderr_file:
        proc = subprocess.Popen(
            [str(CLI), "reconcile", "--once", "--repo", remote.url,
             "--work-dir", str(work), "--state", f"{work}.state.db"],
            cwd=REPO_ROOT, stdout=stdout_file, stderr=stderr_file, text=True,
            start_new_session=True, preexec_fn=capped_memory(THREADED_CEILING),
        )  # fmt: skip
    # Reaped with wait4 for the child's own peak resident memory: the address-space cap is
    # what kills an expanding loader, this is the "under 100 MB RSS".
    watchdog = threading.Timer(120, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        _, _, usage = os.wait4(proc.pid, 0)
    finally:
        watchdog.cancel()
    proc.returncode = 0  # reaped above; keep Popen from waiting on it again
    stdout, stderr = out.read_text(), err.read_text()

    assert "Traceback" not in stderr, stderr
    assert f"error: automation/bomb.yaml:{BOMB_LINE}: too many aliases" in stderr
    assert usage.ru_maxrss < 100 * 1024, f"peak RSS {usage.ru_maxrss} KiB"
    image = f"{registry.host}/{repo}"
    assert f"{APP_FILE}:11: apps:app: {image}:1.0.0 -> {image}:1.1.0" in stdout
    assert f"{image}:1.1.0" in remote.read(APP_FILE)
