"""Pull-request delivery end to end: a spec-validating fake forge (each of the six), its real
bare repository, a real registry shared by the session, ``reconcile --once`` as a
subprocess."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.pullrequests.fleet import PrFleet, start_forge_git
from tests.forges.fixtures import fake_forge, fake_forge_factory
from tests.forges.server import FakeForge
from tests.integration.conftest import registry_anonymous
from tests.integration.registry_fixtures import RegistryServer


@pytest.fixture
def fleet(
    fake_forge: FakeForge, registry_anonymous: RegistryServer, tmp_path: Path
) -> Iterator[PrFleet]:
    git = start_forge_git(fake_forge)
    try:
        yield PrFleet(fake=fake_forge, git=git, registry=registry_anonymous, root=tmp_path)
    finally:
        git.stop()


@pytest.fixture
def github_fleet(
    fake_forge_factory: Callable[..., FakeForge], registry_anonymous: RegistryServer, tmp_path: Path
) -> Iterator[PrFleet]:
    """A fleet on the GitHub fake alone, for what is the same on every forge."""
    fake = fake_forge_factory("github")
    git = start_forge_git(fake)
    try:
        yield PrFleet(fake=fake, git=git, registry=registry_anonymous, root=tmp_path)
    finally:
        git.stop()


__all__ = ["fake_forge", "fake_forge_factory", "fleet", "github_fleet", "registry_anonymous"]
