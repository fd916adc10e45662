"""pytest fixtures for the fake forges; import them into any suite's ``conftest.py``::

    from tests.forges.fixtures import fake_forge, fake_forge_factory  # noqa: F401

- ``fake_forge``: parametrised over :data:`PROVIDERS` (github, gitlab, gitea, forgejo,
  bitbucket, azuredevops); a started fake with ``provider``, ``api_url``, ``git_url``,
  ``token``, ``repository`` (the path ``ForgeSettings.repository`` takes: ``org/fleet``,
  GitLab ``group/sub/project``, Bitbucket ``workspace/slug``, Azure ``org/project/_git/repo``)
  and the hooks of :mod:`tests.forges.hooks`.
- ``fake_forge_factory(provider, repository=None)``: more fakes in one test, same teardown.

At teardown every fake is stopped and the test **fails** if any request or reply broke the
forge's description (``fake.take_violations()`` hands them to a test that provokes them on
purpose). A fake that cannot start raises: the test errors, it is never skipped.
"""

from __future__ import annotations

import shutil
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.forges.azuredevops import AzureDevOpsFake
from tests.forges.bitbucket import BitbucketFake
from tests.forges.gitea import ForgejoFake, GiteaFake
from tests.forges.github import GitHubFake
from tests.forges.gitlab import GitLabFake
from tests.forges.server import FakeForge
from tests.integration.fixture_base import FixtureError

FAKES: dict[str, type[FakeForge]] = {
    "github": GitHubFake,
    "gitlab": GitLabFake,
    "gitea": GiteaFake,
    "forgejo": ForgejoFake,
    "bitbucket": BitbucketFake,
    "azuredevops": AzureDevOpsFake,
}
PROVIDERS = tuple(FAKES)
REPOSITORIES = {
    "github": "fleet-org/fleet",
    "gitlab": "fleet-org/platform/fleet",
    "gitea": "fleet-org/fleet",
    "forgejo": "fleet-org/fleet",
    "bitbucket": "fleet-ws/fleet",
    "azuredevops": "fleet-org/platform/_git/fleet",
}


def start_fake(provider: str, root: Path, repository: str | None = None) -> FakeForge:
    """A started fake forge (its bare repo under ``root``); FixtureError when it cannot run."""
    if shutil.which("git") is None:
        raise FixtureError("git is not installed (run .ci/system-deps)")
    try:
        fake = FAKES[provider](root, repository=repository or REPOSITORIES[provider])
        return fake.start()
    except (OSError, RuntimeError, AssertionError) as exc:
        raise FixtureError(f"fake {provider} forge could not start: {exc}") from exc


def _verdict(fakes: list[FakeForge]) -> None:
    for fake in fakes:
        fake.stop()
    problems = []
    for fake in fakes:
        try:
            fake.assert_clean()
        except AssertionError as exc:
            problems.append(f"fake {fake.provider}: {exc}")
    if problems:
        pytest.fail("\n".join(problems), pytrace=False)


@pytest.fixture(params=PROVIDERS)
def fake_forge(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FakeForge]:
    fake = start_fake(request.param, tmp_path / "forge")
    yield fake
    _verdict([fake])


@pytest.fixture
def fake_forge_factory(tmp_path: Path) -> Iterator[Callable[..., FakeForge]]:
    started: list[FakeForge] = []

    def make(provider: str, repository: str | None = None) -> FakeForge:
        fake = start_fake(provider, tmp_path / f"forge-{len(started)}", repository)
        started.append(fake)
        return fake

    yield make
    _verdict(started)
