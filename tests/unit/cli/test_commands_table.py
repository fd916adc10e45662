"""The lazy command table cannot drift from the commands it stands for."""

from __future__ import annotations

import click
import pytest
from click.testing import CliRunner

from image_automation.cli._commands import COMMANDS, register
from image_automation.cli._root import LazyGroup, root


@pytest.mark.parametrize("name", sorted(COMMANDS))
def test_table_short_help_is_the_commands_own_short_help(name: str) -> None:
    command = COMMANDS[name].load()
    assert command.name == name
    assert COMMANDS[name].short_help == command.get_short_help_str(limit=10**6)


def _fresh_lazy() -> LazyGroup:
    return LazyGroup(root.name, lazy=COMMANDS, help=root.help, params=root.params)


def _eager() -> click.Group:
    group = click.Group(root.name, help=root.help, params=root.params)
    register(group)
    return group


@pytest.mark.parametrize("width", [40, 60, 80, 120, 200])
def test_root_help_lists_the_same_lines_as_with_every_command_imported(width: int) -> None:
    lazy = CliRunner().invoke(_fresh_lazy(), ["--help"], terminal_width=width)
    eager = CliRunner().invoke(_eager(), ["--help"], terminal_width=width)
    assert lazy.exit_code == eager.exit_code == 0
    assert "Commands:" in lazy.stdout
    assert lazy.stdout == eager.stdout


def test_root_help_does_not_import_the_commands() -> None:
    group = _fresh_lazy()
    result = CliRunner().invoke(group, ["--help"])
    assert result.exit_code == 0
    assert group.commands == {}
    assert all(f"  {name} " in result.stdout for name in COMMANDS)


def test_a_command_is_imported_when_it_runs() -> None:
    group = _fresh_lazy()
    result = CliRunner().invoke(group, ["policy", "--help"])
    assert result.exit_code == 0, result.output
    assert set(group.commands) == {"policy"}
    assert "select" in result.stdout


def test_unknown_command_is_a_usage_error() -> None:
    result = CliRunner().invoke(_fresh_lazy(), ["nope"])
    assert result.exit_code == 2
    assert "No such command 'nope'" in result.stderr
