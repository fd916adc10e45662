"""Real components for the daemon's end-to-end tests: git remotes over smart HTTP, a registry."""

from tests.integration.conftest import registry_anonymous
from tests.integration.git_fixtures import git_server_root, http_git_server, served_remote

__all__ = ["git_server_root", "http_git_server", "registry_anonymous", "served_remote"]
