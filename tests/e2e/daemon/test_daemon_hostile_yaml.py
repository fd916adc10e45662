"""The daemon with a hostile policy file in its repository: it stays up and reports it."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.daemon.harness import Fleet, wait_for
from tests.e2e.hostile_yaml import BOMB_LINE, THREADED_CEILING, billion_laughs, capped_memory
from tests.integration.git_fixtures import GitRemote, HttpGitServer
from tests.integration.registry_fixtures import RegistryServer

pytestmark = pytest.mark.integration


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


def test_alias_bomb_in_the_repository_is_reported_and_the_daemon_serves_the_rest(
    fleet: Fleet,
) -> None:
    fleet.setup(scan="1h", reconcile="1s")
    fleet.remote.commit_files({"clusters/bomb.yaml": billion_laughs()}, "a hostile file")
    fleet.push_tags("1.1.0")
    proc = fleet.start(preexec_fn=capped_memory(THREADED_CEILING))  # waits for /readyz
    wait_for(lambda: fleet.deployed() == "1.1.0", "a commit made from the other files")
    assert f"clusters/bomb.yaml:{BOMB_LINE}: too many aliases" in fleet.logs()
    assert fleet.metric("image_automation_config_errors") >= 1
    assert proc.poll() is None
    assert fleet.stop(proc) == 0
