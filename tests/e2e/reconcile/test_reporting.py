"""What ``reconcile --once`` prints: file errors apart from failures, repository-relative paths."""

from __future__ import annotations

import os
import re
from pathlib import Path

import pytest

from tests.e2e.reconcile.helpers import APP_FILE, fleet_files, run_reconcile
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

BROKEN = 'image: x:1 # {"$imagepolicy": "apps:app"}\nkey: [not closed\n'
UNKNOWN = 'image: x:1 # {"$imagepolicy": "apps:nope"}\n'


def test_a_file_error_after_a_push_is_reported_as_committed_with_a_file_error(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/report-{os.urandom(3).hex()}"
    registry.push(repo, "1.0.0", "1.1.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files["clusters/prod/broken.yaml"] = BROKEN
    files["clusters/staging/unknown.yaml"] = UNKNOWN
    remote = make_remote(tmp_path / "fleet.git", files)

    done = run_reconcile(remote.url, tmp_path / "work")
    out = done.stdout
    assert done.returncode == 1, out + done.stderr
    assert "FAILED" not in out
    [head] = [line for line in out.splitlines() if line.startswith("ImageUpdateAutomation/")]
    assert head.startswith("ImageUpdateAutomation/apps/fleet: committed ")
    assert head.endswith(", pushed refs/heads/main, 1 file error")
    assert f"{registry.host}/{repo}:1.1.0" in remote.read(APP_FILE)
    # Every path is relative to the repository root (update.path is ./clusters).
    assert f"  {APP_FILE}:11: apps:app: " in out
    assert re.search(r"^  file error: clusters/prod/broken\.yaml:\d+: invalid YAML", out, re.M)
    assert "  warning: clusters/staging/unknown.yaml:1: unknown policy apps:nope" in out
    assert "1 automation(s), 0 failed; 1 with file errors: ImageUpdateAutomation/apps/fleet" in (
        done.stderr
    )
