"""docs/daemon.md's forge webhook recipe, curl included, against ``image-automation run``.

The fleet's automation pushes ``main`` of a repository served over smart HTTP; the recipe is
run as documented with the fleet's URL, repository path and branch put in, and the daemon
must answer 202 and run one more reconcile. Every wait is bounded polling on a condition.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from tests.e2e.daemon.harness import NAMESPACE, Fleet
from tests.integration.git_fixtures import GitRemote, HttpGitServer
from tests.integration.registry_fixtures import RegistryServer
from tests.unit.daemon.test_forge_docs import github_recipe

SECRET = "forge-Secr3t-e2e"


@pytest.fixture
def fleet(
    tmp_path: Path,
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    registry_anonymous: RegistryServer,
) -> Iterator[Fleet]:
    fleet = Fleet(tmp_path, served_remote, http_git_server, registry_anonymous)
    try:
        yield fleet
    finally:
        fleet.close()


def test_the_documented_github_delivery_wakes_the_automation(fleet: Fleet) -> None:
    fleet.setup(scan="1h", reconcile="1h")
    (fleet.root / "secrets" / "forge-hook").mkdir()
    (fleet.root / "secrets" / "forge-hook" / "token").write_text(SECRET + "\n")
    fleet.start()
    fleet.wait_reconciled()
    before = fleet.reconciles()

    repository = urlsplit(fleet.git.url_for(fleet.remote)).path.strip("/").removesuffix(".git")
    script = (
        github_recipe()
        .replace("http://127.0.0.1:9090", fleet.url)
        .replace('"org/fleet"', f'"{repository}"')
        .replace('"image-updates"', '"main"')  # the fleet's automation pushes main
    )
    answer = subprocess.run(
        ["bash", "-euo", "pipefail", "-c", script],
        cwd=fleet.root, capture_output=True, text=True, check=True,
    ).stdout  # fmt: skip
    assert answer.startswith("HTTP/1.1 202"), answer
    assert answer.rstrip().endswith("queued 1"), answer
    fleet.wait_reconciled(int(before) + 1)
    assert fleet.metric("image_automation_forge_webhook_requests_total",
                        provider="github", result="accepted") == 1  # fmt: skip
    assert SECRET not in fleet.logs()
    assert f"{NAMESPACE}/fleet" in fleet.logs()
