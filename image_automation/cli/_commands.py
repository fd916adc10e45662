"""The table of subcommands. Each command module exposes one click command or group."""

from __future__ import annotations

import click


def register(group: click.Group) -> None:
    """Attach every subcommand to ``group`` (idempotent)."""
    from image_automation.cli._update import update

    commands: list[click.Command] = [update]
    for command in commands:
        if command.name not in group.commands:
            group.add_command(command)
