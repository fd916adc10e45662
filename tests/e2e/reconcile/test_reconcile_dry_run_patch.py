"""`reconcile --dry-run` prints a diff that `patch -p1` applies at the repository root.

The automation's update.path and its files have spaces in their names, one file has no final
newline: the patched clone must equal what the real reconcile then pushes.
"""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from tests.e2e.reconcile.helpers import FLUX_AUTOMATION, app_manifest, policy_docs, run_reconcile
from tests.integration.git_fixtures import make_remote, run_git
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


def test_the_dry_run_diff_applies_with_patch_at_the_repository_root(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/dry-{os.urandom(3).hex()}"
    registry.push(repo, "1.0.0", "2.0.0")
    image = f"{registry.host}/{repo}"
    automation = FLUX_AUTOMATION.replace("path: ./clusters,", 'path: "./clusters/my app",')
    assert automation != FLUX_AUTOMATION
    remote = make_remote(
        tmp_path / "fleet.git",
        {
            "clusters/my app/web app.yaml": app_manifest(f"{image}:1.0.0"),
            "clusters/my app/no newline.yaml": app_manifest(f"{image}:1.0.0").rstrip("\n"),
            "automation/policies.yaml": policy_docs(image),
            "automation/automation.yaml": automation,
        },
    )
    dry = run_reconcile(remote.url, tmp_path / "work", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert "--- a/clusters/my app/web app.yaml\t\n" in dry.stdout

    patched = tmp_path / "patched"
    run_git("clone", "--quiet", remote.url, str(patched))
    applied = subprocess.run(
        ["patch", "-p1", "--batch", "--forward"],
        input=dry.stdout,
        cwd=patched,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr

    done = run_reconcile(remote.url, tmp_path / "work")
    assert done.returncode == 0, done.stderr
    pushed = tmp_path / "pushed"
    run_git("clone", "--quiet", remote.url, str(pushed))
    assert _tree(patched) == _tree(pushed)
    assert f"{image}:2.0.0".encode() in _tree(pushed)["clusters/my app/no newline.yaml"]
