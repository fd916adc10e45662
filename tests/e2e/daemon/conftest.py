"""Real components for the daemon's end-to-end tests: git remotes over smart HTTP, a registry,
PostgreSQL (replicas)."""

from tests.integration.conftest import postgres_database, postgres_server, registry_anonymous
from tests.integration.git_fixtures import git_server_root, http_git_server, served_remote

__all__ = [
    "git_server_root",
    "http_git_server",
    "postgres_database",
    "postgres_server",
    "registry_anonymous",
    "served_remote",
]
