"""``reconcile --once`` on a repository holding a hostile policy file: refused, the rest runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading
from pathlib import Path

import pytest

from tests.e2e.hostile_yaml import BOMB_LINE, THREADED_CEILING, billion_laughs, capped_memory
from tests.e2e.reconcile.helpers import APP_FILE, REPO_ROOT, fleet_files
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

# The CLI, writing its own peak resident memory (VmHWM) to argv[1] as it exits. Not wait4's
# ru_maxrss: Linux carries the parent's resident size into a forked child's high-water mark,
# so that figure measures this pytest process (well over 100 MB with the cloud libraries
# loaded) rather than reconcile.
_REPORTING_PEAK = """\
import atexit, pathlib, sys
out = pathlib.Path(sys.argv.pop(1))
def peak():
    status = pathlib.Path("/proc/self/status").read_text()
    out.write_text(status.split("VmHWM:")[1].split()[0])
atexit.register(peak)
sys.argv[0] = "image-automation"
from image_automation.cli import main
main()
"""


def test_alias_bomb_in_the_repository_is_refused_and_the_other_files_still_update(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/hostile-{os.urandom(3).hex()}"
    registry.push(repo, "1.0.0", "1.1.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files["automation/bomb.yaml"] = billion_laughs()
    remote = make_remote(tmp_path / "fleet.git", files)
    work = tmp_path / "work"

    out, err, peak = tmp_path / "stdout", tmp_path / "stderr", tmp_path / "peak"
    with out.open("w") as stdout_file, err.open("w") as stderr_file:
        proc = subprocess.Popen(
            [sys.executable, "-c", _REPORTING_PEAK, str(peak), "reconcile", "--once",
             "--repo", remote.url, "--work-dir", str(work), "--state", f"{work}.state.db"],
            cwd=REPO_ROOT, stdout=stdout_file, stderr=stderr_file, text=True,
            start_new_session=True, preexec_fn=capped_memory(THREADED_CEILING),
        )  # fmt: skip
    # The address-space cap is what kills an expanding loader; the child's own peak resident
    # memory (VmHWM) is the "under 100 MB RSS".
    watchdog = threading.Timer(120, os.killpg, (proc.pid, signal.SIGKILL))
    watchdog.start()
    try:
        proc.wait()
    finally:
        watchdog.cancel()
    stdout, stderr = out.read_text(), err.read_text()

    assert "Traceback" not in stderr, stderr
    assert f"error: automation/bomb.yaml:{BOMB_LINE}: too many aliases" in stderr
    peak_kib = int(peak.read_text())
    assert peak_kib < 100 * 1024, f"peak RSS {peak_kib} KiB"
    image = f"{registry.host}/{repo}"
    assert f"{APP_FILE}:11: apps:app: {image}:1.0.0 -> {image}:1.1.0" in stdout
    assert f"{image}:1.1.0" in remote.read(APP_FILE)
