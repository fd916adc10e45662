"""The per-registry settings file."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import ConfigError
from image_automation.registry import RegistrySettings


def test_host_entries_override_only_what_they_name(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(
        "defaults:\n"
        "  concurrency: 4\n"
        "  requestsPerSecond: 10\n"
        "retry:\n"
        "  attempts: 2\n"
        "hosts:\n"
        "  Registry.Example:5000:\n"
        "    caFile: /etc/ca.pem\n"
        "    requestsPerSecond: 2\n"
        "  docker.io:\n"
        "    mirror: mirror.local/hub\n"
    )
    settings = RegistrySettings.load(path)
    host = settings.for_host("registry.example:5000")
    assert (host.concurrency, host.requests_per_second, str(host.ca_file)) == (
        4,
        2.0,
        "/etc/ca.pem",
    )
    assert settings.for_host("other").requests_per_second == 10
    assert settings.for_host("docker.io").mirror == "mirror.local/hub"
    assert settings.retry.attempts == 2


def test_with_host_layers_flags_over_the_file() -> None:
    settings = RegistrySettings.model_validate({"hosts": {"h": {"concurrency": 3}}})
    changed = settings.with_host("h", insecure=True)
    assert changed.for_host("h").insecure and changed.for_host("h").concurrency == 3
    assert not settings.for_host("h").insecure


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("hosts:\n  h:\n    concurrency: 0\n", "hosts.h.concurrency"),
        ("defaults:\n  nonsense: 1\n", "defaults.nonsense"),
        ("hosts: [\n", "invalid YAML"),
    ],
)
def test_errors_name_the_file_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"r\.yaml") as info:
        RegistrySettings.load(path)
    assert where in str(info.value)
