"""Real components for the reconcile end-to-end tests: registry, git remotes (file, http)."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.git_fixtures import git_server_root, http_git_server, served_remote
from tests.integration.local_registry import LocalRegistry


@pytest.fixture(scope="session")
def registry() -> Iterator[LocalRegistry]:
    """A real docker-registry on loopback; failing to start fails the tests (no skip)."""
    with LocalRegistry() as running:
        yield running


__all__ = ["git_server_root", "http_git_server", "registry", "served_remote"]
