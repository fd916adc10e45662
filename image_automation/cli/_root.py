"""The root ``image-automation`` group: loads a subcommand's module only when it runs.

``--version`` and ``--help`` import click and nothing else of weight; the command table in
``_commands`` carries the names and short help the root's help lists.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import click

from image_automation import __version__
from image_automation.cli._commands import COMMANDS, LazyCommand


class LazyGroup(click.Group):
    """A group whose commands are imported on first use, by name, from a table."""

    def __init__(self, *args: Any, lazy: Mapping[str, LazyCommand], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.lazy = dict(lazy)

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted({*self.commands, *self.lazy})

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        command = self.commands.get(cmd_name)
        if command is None and cmd_name in self.lazy:
            command = self.lazy[cmd_name].load()
            self.commands[cmd_name] = command
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """As click lists commands, but from the table for commands not imported yet."""
        rows: list[tuple[str, click.Command]] = []
        for name in self.list_commands(ctx):
            command = self.commands.get(name)
            if command is None:
                # Same truncation as the real command's: click shortens the stored sentence
                # exactly as it would shorten the first sentence of the full help.
                command = click.Command(name, help=self.lazy[name].short_help)
            if not command.hidden:
                rows.append((name, command))
        if rows:
            limit = formatter.width - 6 - max(len(name) for name, _ in rows)
            with formatter.section("Commands"):
                formatter.write_dl([(n, c.get_short_help_str(limit)) for n, c in rows])


@click.group(
    cls=LazyGroup,
    lazy=COMMANDS,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@click.version_option(__version__, prog_name="image-automation")
def root() -> None:
    """Keep container image references in Git up to date.

    \b
    Example:
      image-automation validate policies/
      image-automation policy select --policy policies/flux/podinfo.yaml \\
          --tags-from examples/tags/ghcr.io_stefanprodan_podinfo.txt
    """


def main() -> None:
    """Console-script entry point (also ``python -m image_automation``)."""
    root(prog_name="image-automation")
