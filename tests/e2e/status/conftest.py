"""Real components for the status tests: the daemon's fleet and a headless Chromium."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.daemon.harness import Fleet
from tests.e2e.status.browser import Browser, open_browser
from tests.integration.conftest import registry_anonymous
from tests.integration.git_fixtures import (
    GitRemote,
    HttpGitServer,
    git_server_root,
    http_git_server,
    served_remote,
)
from tests.integration.registry_fixtures import RegistryServer

__all__ = ["git_server_root", "http_git_server", "registry_anonymous", "served_remote"]


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


@pytest.fixture(scope="session")
def browser() -> Iterator[Browser]:
    """One Chromium for the session; fails (never skips) when it cannot start."""
    with open_browser() as browser:
        yield browser
