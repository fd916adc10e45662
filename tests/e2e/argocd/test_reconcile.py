"""An AIU v1 fleet (ImageUpdater + Applications in Git) through ``reconcile --once``: real
registry, real git remote, the CLI as a subprocess."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from tests.e2e.argocd.fleet import WRITTEN, changed_lines, fleet_files, value_lines
from tests.e2e.reconcile.helpers import run_reconcile
from tests.integration.git_fixtures import make_remote
from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration


def test_fleet_gets_one_commit_per_application_touching_only_the_image_values(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    suffix = os.urandom(3).hex()
    images = {k: f"fleet-{suffix}/{k}" for k in ("web", "api", "mon")}
    for repo in images.values():
        registry.push(repo, "1.0.0", "1.0.1", "1.1.0", "2.0.0", "1.1.1-rc.1")
    remote = make_remote(tmp_path / "fleet.git", fleet_files(registry.host, images))
    seed = remote.head()

    first = run_reconcile(remote.url, tmp_path / "work", "--dry-run")
    assert first.returncode == 0, first.stdout + first.stderr
    assert remote.head() == seed
    assert "+    value: 1.0.1" in first.stdout  # the override file, created

    done = run_reconcile(remote.url, tmp_path / "work")
    assert done.returncode == 0, done.stdout + done.stderr
    host = registry.host
    web, api, mon = (f"{host}/{images[k]}" for k in ("web", "api", "mon"))
    commits = remote.commits()
    assert len(commits) == 5, done.stdout  # four Applications, one commit each
    assert {c.author for c in commits[:4]} == {"Image Updater <updater@example.test>"}
    assert {c.subject for c in commits[:4]} == {
        f"build: automatic update of {app}" for app in ("web", "api", "monitoring", "ops")
    }
    # the whole tree: nothing but the image values changed (the acceptance of issue 16)
    new = {"web": "1.0.1", "api": "1.1.0", "mon": "2.0.0", "ops": "1.1.0"}
    assert changed_lines(remote.git("diff", seed, "main")) == value_lines(host, images, new)
    # web (Helm): the override file is created with only the image parameters, sorted
    assert remote.read("apps/web/.argocd-source-web.yaml") == (
        "helm:\n  parameters:\n"
        f"  - name: image.name\n    value: {web}\n    forcestring: true\n"
        "  - name: image.tag\n    value: 1.0.1\n    forcestring: true\n"
    )
    # api (Kustomize, 1.x): only newTag moves; 1.1.1-rc.1 needs a -0 constraint (AIU)
    assert changed_lines(remote.git("diff", seed, "main", "--", "apps/api")) == [
        '-    newTag: "1.0.0"',
        '+    newTag: "1.1.0"',
    ]
    # monitoring (multi-source, no constraint: the highest version, prereleases too)
    assert changed_lines(remote.git("diff", seed, "main", "--", "apps/monitoring")) == [
        '-    tag: "1.0.0"',
        '+    tag: "2.0.0"',
    ]
    assert "sidecar:\n  image: *grafana" in remote.read("apps/monitoring/values.yaml")
    # ops (multi-source, both in Git): the overlay is written, never the chart before it
    assert changed_lines(remote.git("diff", seed, "main", "--", "apps/ops/chart")) == []
    files = remote.git("diff", "--name-only", seed, "main").split()
    assert tuple(files) == WRITTEN
    assert f"{mon}:1.0.0 -> {mon}:2.0.0" in done.stdout and f"{api}:1.1.0" in done.stdout

    again = run_reconcile(remote.url, tmp_path / "work")
    assert again.returncode == 0, again.stdout + again.stderr
    assert remote.head() == commits[0].sha  # nothing new: no commit


def test_a_templated_write_branch_gets_each_applications_write_back_and_main_stays(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    """AIU's ``base:<template>`` form: checked out from ``main``, pushed to the rendered
    branch (one per Application here), ``main`` never written; a second run adds nothing."""
    suffix = os.urandom(3).hex()
    images = {k: f"branch-{suffix}/{k}" for k in ("web", "api", "mon")}
    for repo in images.values():
        registry.push(repo, "1.0.0", "1.0.1")
    git_config = "    gitConfig: {branch: 'main:image-updater-{{.AppName}}'}\n"
    remote = make_remote(tmp_path / "fleet.git",
                         fleet_files(registry.host, images, git_config=git_config))  # fmt: skip
    seed = remote.head()
    done = run_reconcile(remote.url, tmp_path / "work")
    assert done.returncode == 0, done.stdout + done.stderr
    assert remote.head() == seed
    new = dict.fromkeys(("web", "api", "mon", "ops"), "1.0.1")
    expected = value_lines(registry.host, images, new)
    lines = []
    for app in ("api", "monitoring", "ops", "web"):
        branch = f"image-updater-{app}"
        assert remote.has_branch(branch), done.stdout
        lines += changed_lines(remote.git("diff", seed, branch))
        assert remote.commits(branch)[1].sha == seed  # one commit on top of main
    assert lines == expected
    heads = {app: remote.head(f"image-updater-{app}") for app in ("web", "api")}
    again = run_reconcile(remote.url, tmp_path / "work")
    assert again.returncode == 0, again.stdout + again.stderr
    assert {app: remote.head(f"image-updater-{app}") for app in heads} == heads
