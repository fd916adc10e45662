"""Real remotes for the git adapter tests (see tests/integration/git_fixtures.py)."""

from tests.integration.git_fixtures import (
    git_remote,
    git_server_root,
    http_git_server,
    served_remote,
    ssh_git_server,
)

__all__ = ["git_remote", "git_server_root", "http_git_server", "served_remote", "ssh_git_server"]
