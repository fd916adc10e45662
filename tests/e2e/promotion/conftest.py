"""Promotions end to end: spec-validating fake forges (real bare repositories behind them),
evaluations in process on a test clock, and ``promote --once`` itself."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.promotion.fleet import PromoFleet, start_fleet
from tests.forges.fixtures import fake_forge_factory
from tests.forges.server import FakeForge
from tests.integration.conftest import registry_anonymous

PROVIDERS = ("github", "gitlab", "gitea")
"""The forges every scenario runs on; the rest of the six run the directory walk-through."""


@pytest.fixture(params=PROVIDERS)
def fleet(
    request: pytest.FixtureRequest, fake_forge_factory: Callable[..., FakeForge], tmp_path: Path
) -> Iterator[PromoFleet]:
    made = start_fleet(fake_forge_factory(request.param), tmp_path)
    try:
        yield made
    finally:
        made.git.stop()


@pytest.fixture
def github_fleet(
    fake_forge_factory: Callable[..., FakeForge], tmp_path: Path
) -> Iterator[PromoFleet]:
    made = start_fleet(fake_forge_factory("github"), tmp_path)
    try:
        yield made
    finally:
        made.git.stop()


__all__ = ["fake_forge_factory", "fleet", "github_fleet", "registry_anonymous"]
