"""``reconcile --once`` warns of markers no automation sets and automations with none."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.reconcile.helpers import APP_FILE, FLUX_AUTOMATION, fleet_files, run_reconcile
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def test_uncovered_markers_and_markerless_paths_are_warnings_and_the_run_succeeds(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    repo = f"team/coverage-{os.urandom(3).hex()}"
    registry.push(repo, "1.0.0")
    files = {k: v.replace("team/app", repo) for k, v in fleet_files(registry.host).items()}
    files[APP_FILE] += '# {"$imagepolicy": "staging:app"}\n'
    files["automation/docs.yaml"] = (
        FLUX_AUTOMATION.split("---\n")[1]
        .replace("name: fleet, namespace: apps", "name: docs, namespace: apps")
        .replace("path: ./clusters", "path: ./docs")
    )
    files["docs/index.yaml"] = "kind: ConfigMap\n"
    remote = make_remote(tmp_path / "fleet.git", files)

    result = run_reconcile(remote.url, tmp_path / "work")

    assert result.returncode == 0, result.stderr
    warnings = [line for line in result.stderr.splitlines() if line.startswith("warning: ")]
    assert warnings == [
        "warning: automation/docs.yaml:17: spec.update.path: ./docs holds no marker; "
        "ImageUpdateAutomation/apps/docs has nothing to update",
        f"warning: {APP_FILE}:12: marker names staging:app, but no automation in namespace "
        "staging updates this file (apps do)",
    ]
