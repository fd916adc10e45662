"""The root ``image-automation`` group; subcommands register themselves in ``_commands``."""

from __future__ import annotations

import click

from image_automation import __version__


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, prog_name="image-automation")
def root() -> None:
    """Keep container image references in Git up to date.

    \b
    Example:
      image-automation validate policies/
      image-automation policy select --policy policies/flux/app.yaml --tags-from tags.txt
    """


def main() -> None:
    """Console-script entry point."""
    from image_automation.cli import _commands

    _commands.register(root)
    root(prog_name="image-automation")
