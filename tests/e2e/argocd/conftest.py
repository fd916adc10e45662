"""Real components for the Argo CD end-to-end tests: a registry and git remotes."""

from tests.e2e.reconcile.conftest import registry
from tests.integration.conftest import registry_anonymous
from tests.integration.git_fixtures import git_server_root, http_git_server, served_remote

__all__ = ["git_server_root", "http_git_server", "registry", "registry_anonymous", "served_remote"]
