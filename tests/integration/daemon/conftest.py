"""Real git remotes for the daemon tests (registries come from tests/integration/conftest.py)."""

from tests.integration.git_fixtures import (
    git_remote,
    git_server_root,
    http_git_server,
    served_remote,
)

__all__ = ["git_remote", "git_server_root", "http_git_server", "served_remote"]
