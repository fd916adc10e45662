"""The table of subcommands. Each command module exposes one click command or group."""

from __future__ import annotations

import click

from image_automation.cli._scan import scan


def register(group: click.Group) -> None:
    """Attach every subcommand to ``group`` (idempotent)."""
    commands: list[click.Command] = [scan]
    for command in commands:
        if command.name not in group.commands:
            group.add_command(command)
