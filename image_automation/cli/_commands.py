"""The table of subcommands. Each command module exposes one click command or group."""

from __future__ import annotations

import click

from image_automation.cli._policy import policy_group
from image_automation.cli._reconcile import reconcile
from image_automation.cli._run import run_command
from image_automation.cli._scan import scan
from image_automation.cli._update import update
from image_automation.cli._validate import validate_command


def register(group: click.Group) -> None:
    """Attach every subcommand to ``group`` (idempotent)."""
    commands: list[click.Command] = [
        policy_group,
        reconcile,
        run_command,
        scan,
        update,
        validate_command,
    ]
    for command in commands:
        if command.name not in group.commands:
            group.add_command(command)
