"""Every path option a command keeps is absolute from start-up on (one rule for all commands)."""

from __future__ import annotations

from pathlib import Path

import click
import pytest

from image_automation.cli._paths import AbsolutePath, absolute, absolute_state
from image_automation.cli._policy import policy_group
from image_automation.cli._reconcile import reconcile
from image_automation.cli._run import run_command
from image_automation.cli._scan import scan
from image_automation.cli._update import update
from image_automation.cli._validate import validate_command

DOCUMENT_INPUTS = {("select", "policy_files"), ("scan", "policies"), ("reconcile", "configs")}
"""Files read once, at once, in our own directory, and named in diagnostics as typed."""
STATE_OPTIONS = {("reconcile", "state"), ("scan", "state")}
"""``--state`` takes a path or a store URL: a callback makes its path absolute."""


def commands() -> list[click.Command]:
    out: list[click.Command] = [reconcile, run_command, scan, update, validate_command]
    out += list(policy_group.commands.values())
    return out


@pytest.mark.parametrize("command", commands(), ids=lambda c: c.name)
def test_every_path_option_is_made_absolute(command: click.Command) -> None:
    for param in command.params:
        if not isinstance(param, click.Option):
            continue
        where = (command.name, param.name)
        if where in STATE_OPTIONS:
            assert param.callback is not None, where
        elif isinstance(param.type, click.Path) and where not in DOCUMENT_INPUTS:
            assert isinstance(param.type, AbsolutePath), where


@pytest.mark.parametrize(
    ("given", "expected"),
    [
        (None, None),
        ("state.db", "{cwd}/state.db"),
        ("./a/../state.db", "{cwd}/state.db"),
        ("/abs/state.db", "/abs/state.db"),
        ("sqlite:///state.db", "sqlite:///{cwd}/state.db"),
        ("sqlite:////abs/state.db", "sqlite:////abs/state.db"),
        ("postgresql://db.example.test/ia", "postgresql://db.example.test/ia"),
    ],
)
def test_state_values_get_an_absolute_path(
    given: str | None, expected: str | None, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    want = None if expected is None else expected.format(cwd=tmp_path)
    assert absolute_state(given) == want


def test_relative_paths_resolve_against_a_base_and_absolute_ones_stay(tmp_path: Path) -> None:
    assert absolute("x/../data", base=tmp_path) == tmp_path / "data"
    assert absolute("/etc/ia", base=tmp_path) == Path("/etc/ia")


def test_the_click_type_returns_absolute_paths_and_keeps_a_dash(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    assert AbsolutePath().convert("d/e", None, None) == tmp_path / "d" / "e"
    assert str(AbsolutePath(allow_dash=True).convert("-", None, None)) == "-"
