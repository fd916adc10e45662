"""The same AIU fleet under ``image-automation run``: the daemon scans the ImageUpdater's
images and commits each Application's write-back, with no other change to the files."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.argocd.fleet import WRITTEN, changed_lines, fleet_files, value_lines
from tests.e2e.daemon.harness import Fleet, wait_for
from tests.integration.git_fixtures import GitRemote, HttpGitServer
from tests.integration.registry_fixtures import RegistryServer

pytestmark = pytest.mark.integration


class ArgoFleet(Fleet):
    """The harness's fleet with the Argo CD repository layout instead of Flux files."""

    def files(self, *, scan: str, reconcile: str, range_: str = ">=1.0.0") -> dict[str, str]:
        return fleet_files(self.host, dict.fromkeys(("web", "api", "mon"), self.image))


@pytest.fixture
def fleet(
    tmp_path: Path,
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    registry_anonymous: RegistryServer,
) -> Iterator[ArgoFleet]:
    fleet = ArgoFleet(tmp_path, served_remote, http_git_server, registry_anonymous)
    try:
        yield fleet
    finally:
        fleet.close()


def test_daemon_commits_each_applications_write_back_and_nothing_else(fleet: ArgoFleet) -> None:
    fleet.setup()
    seed = fleet.remote.head()
    fleet.push_tags("1.0.1")
    fleet.start()

    def written() -> bool:
        changed = fleet.remote.git("diff", "--name-only", seed, "main").split()
        return len(changed) == len(WRITTEN)

    wait_for(written, "four write-backs on the remote", limit=120)
    changed = fleet.remote.git("diff", "--name-only", seed, "main").split()
    assert tuple(changed) == WRITTEN
    # the whole tree: nothing but the image values changed (the acceptance of issue 16)
    images = dict.fromkeys(("web", "api", "mon"), fleet.image)
    new = dict.fromkeys(("web", "api", "mon", "ops"), "1.0.1")
    diff = fleet.remote.git("diff", seed, "main")
    assert changed_lines(diff) == value_lines(fleet.host, images, new)
    assert "value: 1.0.1" in fleet.remote.read("apps/web/.argocd-source-web.yaml")
    assert 'newTag: "1.0.1"' in fleet.remote.read("apps/api/overlays/prod/kustomization.yaml")
    values = fleet.remote.read("apps/monitoring/values.yaml")
    assert 'tag: "1.0.1"' in values and "# Monitoring values: comments" in values
    assert fleet.metric("image_automation_commits_total",
                        automation="ImageUpdater/argocd/fleet/web") == 1  # fmt: skip
