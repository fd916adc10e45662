"""Every YAML file the package reads gets the same bounds: settings files as policy files."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli._run import run_command
from image_automation.errors import ConfigError
from image_automation.registry import RegistrySettings
from tests.unit.config.test_safe_yaml import laughs


def test_registry_settings_refuse_an_alias_bomb_at_its_line(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(laughs(9, head="defaults: {concurrency: 2}\n"))
    with pytest.raises(ConfigError) as info:
        RegistrySettings.load(path)
    assert str(info.value).startswith(f"{path}:7: too many aliases")


def test_registry_settings_accept_an_anchor_defined_twice(tmp_path: Path) -> None:
    path = tmp_path / "registries.yaml"
    path.write_text(
        "defaults: {concurrency: &n 2}\n"
        "hosts:\n  a.example: {concurrency: &n 3}\n  b.example: {concurrency: *n}\n"
    )
    settings = RegistrySettings.load(path)
    assert settings.for_host("b.example").concurrency == 3


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (laughs(9, head="repo: x\n"), ":7: too many aliases"),
        ("repo: &r x\nbranch: &r main\ninterval: *r\n", "invalid duration 'main'"),
        ('repo: "never closed\nbranch: main\n', ":1: not valid YAML: a quoted scalar starts"),
    ],
)
def test_run_config_file_is_read_with_the_same_bounds(
    tmp_path: Path, text: str, expected: str
) -> None:
    config = tmp_path / "daemon.yaml"
    config.write_text(text)
    result = CliRunner().invoke(run_command, ["--config", str(config)], env={})
    assert result.exit_code == 2
    assert expected in result.output.replace("\n", " ").replace("  ", " ")
