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
        ("hosts: [\n", "not valid YAML"),
    ],
)
def test_errors_name_the_file_and_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError, match=r"r\.yaml") as info:
        RegistrySettings.load(path)
    assert where in str(info.value)


@pytest.mark.parametrize(
    ("hosts", "registry", "api"),
    [
        ({}, "docker.io", "dockerhub"),
        ({}, "quay.io", "quay"),
        ({}, "ghcr.io", "ghcr"),
        ({}, "registry.gitlab.com", "gitlab"),
        ({}, "123456789012.dkr.ecr.eu-west-1.amazonaws.com", "ecr"),
        ({}, "123456789012.dkr.ecr-fips.us-east-1.amazonaws.com", "ecr"),
        ({}, "123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn", "ecr"),
        ({}, "public.ecr.aws", "none"),  # ECR Public has another API
        ({}, "dkr.ecr.eu-west-1.amazonaws.com", "none"),  # no account
        ({}, "europe-west1-docker.pkg.dev", "artifactregistry"),
        ({}, "gcr.io", "artifactregistry"),
        ({}, "eu.gcr.io", "artifactregistry"),
        ({}, "evil-gcr.io", "none"),
        ({}, "myregistry.azurecr.io", "acr"),
        ({}, "azurecr.io", "none"),
        ({}, "gitlab.example.com", "none"),  # self-managed: named where the API is on
        ({}, "harbor.example.com", "none"),  # Harbor runs anywhere: it must be named
        ({"gitlab.example.com": {"pushTimeApi": "gitlab"}}, "gitlab.example.com", "gitlab"),
        (
            {"123456789012.dkr.ecr.eu-west-1.amazonaws.com": {"mirror": "m.local/ecr"}},
            "123456789012.dkr.ecr.eu-west-1.amazonaws.com",
            "none",
        ),
        ({"harbor.example.com": {"pushTimeApi": "harbor"}}, "harbor.example.com", "harbor"),
        ({"docker.io": {"pushTimeApi": "none"}}, "docker.io", "none"),
        ({"docker.io": {"mirror": "mirror.local/hub"}}, "docker.io", "none"),
        (
            {"docker.io": {"mirror": "mirror.local/hub", "pushTimeApi": "dockerhub"}},
            "docker.io",
            "dockerhub",
        ),
        ({"r.example": {"pushTimeApi": "quay"}}, "r.example", "quay"),
    ],
)
def test_push_time_api_auto_maps_by_host(
    hosts: dict[str, dict[str, str]], registry: str, api: str
) -> None:
    settings = RegistrySettings.model_validate({"hosts": hosts})
    assert settings.for_host(registry).push_time_api_for(registry) == api


def test_push_time_url_is_read_from_the_file_without_trailing_slash(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(
        "hosts:\n"
        "  harbor.example.com:\n"
        "    pushTimeApi: harbor\n"
        "    pushTimeUrl: https://harbor-api.example.com:8443/\n"
    )
    host = RegistrySettings.load(path).for_host("harbor.example.com")
    assert (host.push_time_api, host.push_time_url) == (
        "harbor",
        "https://harbor-api.example.com:8443",
    )


@pytest.mark.parametrize(
    ("text", "where"),
    [
        ("hosts:\n  h:\n    pushTimeApi: gitea\n", "hosts.h.pushTimeApi"),
        ("hosts:\n  h:\n    pushTimeUrl: hub.docker.com\n", "hosts.h.pushTimeUrl"),
        ("hosts:\n  h:\n    pushTimeUrl: ftp://x\n", "hosts.h.pushTimeUrl"),
    ],
)
def test_bad_push_time_settings_name_the_field(tmp_path: Path, text: str, where: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(text)
    with pytest.raises(ConfigError) as info:
        RegistrySettings.load(path)
    assert where in str(info.value)


def test_scan_timeout_defaults_to_a_minute_and_is_set_per_host(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text("hosts:\n  slow.example:\n    scanTimeout: 300\n")
    settings = RegistrySettings.load(path)
    assert settings.for_host("other.example").scan_timeout == 60.0
    assert settings.for_host("slow.example").scan_timeout == 300.0


@pytest.mark.parametrize("value", ["0", "-1", "'soon'", ".inf", ".nan", "1e400"])
def test_scan_timeout_must_be_a_finite_positive_number(tmp_path: Path, value: str) -> None:
    path = tmp_path / "r.yaml"
    path.write_text(f"defaults:\n  scanTimeout: {value}\n")
    with pytest.raises(ConfigError, match=r"defaults\.scanTimeout"):
        RegistrySettings.load(path)
