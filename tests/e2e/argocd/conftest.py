"""Real components for the Argo CD end-to-end tests: a registry and git remotes."""

from tests.e2e.pullrequests.conftest import github_fleet
from tests.e2e.reconcile.conftest import registry
from tests.forges.fixtures import fake_forge_factory
from tests.integration.conftest import registry_anonymous
from tests.integration.git_fixtures import git_server_root, http_git_server, served_remote

__all__ = [
    "fake_forge_factory",
    "git_server_root",
    "github_fleet",
    "http_git_server",
    "registry",
    "registry_anonymous",
    "served_remote",
]
