"""``validate``: list every problem in a tree of policy files."""

from __future__ import annotations

import sys
from pathlib import Path

import click

from image_automation.config.loading import load_paths
from image_automation.config.resolving import resolve


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
def validate_command(paths: tuple[Path, ...]) -> None:
    """Check policy files and list every problem as FILE:LINE: FIELD: MESSAGE.

    Reads every *.yaml/*.yml under each PATH (default: the current directory). Exit 1 if
    any problem was found, 0 if none; deprecation warnings alone do not fail.

    \b
    Example:
      image-automation validate policies/
    """
    loaded = load_paths(paths or (Path("."),))
    resolved = resolve(loaded)
    for warning in resolved.warnings:
        click.echo(f"warning: {warning}")
    for error in resolved.errors:
        click.echo(str(error))
    summary = (
        f"{len(loaded.documents)} documents, {len(resolved.policies)} policies, "
        f"{len(resolved.errors)} problems"
    )
    click.echo(summary, err=True)
    sys.exit(1 if resolved.errors else 0)
