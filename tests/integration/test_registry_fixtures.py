"""The fixtures themselves: a registry that cannot start fails loudly with its own output."""

from __future__ import annotations

import socket

import pytest

from tests.integration import registry_fixtures
from tests.integration.registry_fixtures import FixtureError, start_registry

pytestmark = pytest.mark.integration


def test_a_registry_that_cannot_bind_raises_with_its_output(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        monkeypatch.setattr(registry_fixtures, "free_port", lambda: port)
        with pytest.raises(FixtureError, match="docker-registry \\(anonymous\\) exited") as info:
            start_registry("anonymous", timeout=10)
    assert "address already in use" in str(info.value)


def test_a_missing_binary_is_an_error_not_a_skip(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(registry_fixtures.shutil, "which", lambda name: None)
    with pytest.raises(FixtureError, match="not installed"):
        start_registry("anonymous")
