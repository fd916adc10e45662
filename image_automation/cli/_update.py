"""``image-automation update``: apply policy images to the marked values under a path, once.

The command parses arguments, calls :func:`image_automation.manifests.update_tree` and
renders the result; it decides nothing itself. Exit status 0: every file was handled
(warnings alone do not fail); 1: some file had an error (listed; the other files are still
updated); 2: the arguments were wrong (click's usage error).

``--dry-run`` prints a diff whose names start at the root of the git repository holding PATH
(PATH itself when it is in none), so ``patch -p1`` applies it there.
"""

from __future__ import annotations

import json
import sys
from dataclasses import asdict
from pathlib import Path

import click

from image_automation.domain import ImageRef, InvalidReference, UpdateResult, digest_problem
from image_automation.manifests import DEFAULT_INCLUDE, DEFAULT_MAX_FILE_SIZE, update_tree

_EPILOG = """\b
Example:
  image-automation update examples/update/repo --namespace flux-system \\
      --set flux-system:podinfo=ghcr.io/stefanprodan/podinfo:6.5.4 \\
      --set flux-system:redis=redis:7.2.4 --line-include Dockerfile --dry-run

  (run from the repository root; see docs/manifests.md)
"""


EXIT_FILE_ERRORS = 1


def _parse_sets(namespace: str, values: tuple[str, ...]) -> dict[str, ImageRef]:
    policies: dict[str, ImageRef] = {}
    for value in values:
        name, ref = _parse_set(namespace, value)
        policies[name] = ref
    return policies


def _parse_set(namespace: str, value: str) -> tuple[str, ImageRef]:
    shown = _shown(value)
    key, sep, image = value.partition("=")
    policy_ns, colon, name = key.partition(":")
    if not sep or not colon or not policy_ns or not name or ":" in name:
        raise click.BadParameter(
            f"{shown}: expected NAMESPACE:POLICY=IMAGE:TAG[@DIGEST]", param_hint="--set"
        )
    if policy_ns != namespace:
        raise click.BadParameter(
            f"{shown}: policy namespace {_shown(policy_ns)} is not --namespace {namespace!r} "
            "(only the automation's namespace is visible)",
            param_hint="--set",
        )
    try:
        ref = ImageRef.parse(image)
    except InvalidReference as exc:
        raise click.BadParameter(str(exc), param_hint="--set") from exc
    if ref.tag is None:
        raise click.BadParameter(f"{shown}: the image needs a tag", param_hint="--set")
    problem = digest_problem(ref.digest) if ref.digest is not None else None
    if problem is not None:
        raise click.BadParameter(f"{shown}: {problem}", param_hint="--set")
    return name, ref


def _shown(text: str, limit: int = 200) -> str:
    return repr(text) if len(text) <= limit else f"{text[:limit]!r}... ({len(text)} characters)"


def _repository_prefix(path: Path) -> str:
    """``path`` relative to the root of the git repository holding it ("" when in none)."""
    target = path.resolve()
    for top in (target, *target.parents):
        if (top / ".git").exists():
            return target.relative_to(top).as_posix()
    return ""


def _as_json(result: UpdateResult) -> str:
    payload = {
        "changes": [asdict(change) for change in result.changes],
        "warnings": list(result.warnings),
        "errors": list(result.errors),
    }
    return json.dumps(payload, indent=2)


def _as_text(result: UpdateResult, *, dry_run: bool) -> None:
    if dry_run:
        click.echo(result.diff, nl=False)
    else:
        for change in result.changes:
            click.echo(
                f"{change.file}:{change.line}: {change.setter}: {change.old} -> {change.new}"
            )
    for warning in result.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in result.errors:
        click.echo(f"error: {error}", err=True)
    verb = "would change" if dry_run else "changed"
    click.echo(
        f"{verb} {len(result.changes)} value(s); "
        f"{len(result.warnings)} warning(s), {len(result.errors)} error(s)",
        err=True,
    )


@click.command("update", epilog=_EPILOG)
@click.argument("path", type=click.Path(exists=True, file_okay=False, path_type=Path))
@click.option("--namespace", required=True, help="The automation's namespace.")
@click.option(
    "--set",
    "sets",
    multiple=True,
    metavar="NS:NAME=IMAGE:TAG[@DIGEST]",
    help="What policy NS:NAME selected. Repeatable.",
)
@click.option(
    "--include",
    multiple=True,
    metavar="GLOB",
    help=f"YAML files to consider (default: {', '.join(DEFAULT_INCLUDE)}). Repeatable.",
)
@click.option(
    "--line-include",
    multiple=True,
    metavar="GLOB",
    help="Opt in non-YAML files (Dockerfile, .env, *.tf) for line markers. Repeatable.",
)
@click.option(
    "--max-file-size",
    type=click.IntRange(min=1),
    default=DEFAULT_MAX_FILE_SIZE,
    show_default=True,
    help="Skip (with a warning) files larger than this many bytes.",
)
@click.option("--dry-run", is_flag=True, help="Print a unified diff; write nothing.")
@click.option(
    "--output",
    type=click.Choice(["text", "json"]),
    default="text",
    show_default=True,
    help="json prints {changes, warnings, errors} (no diff).",
)
def update(
    path: Path,
    namespace: str,
    sets: tuple[str, ...],
    include: tuple[str, ...],
    line_include: tuple[str, ...],
    max_file_size: int,
    dry_run: bool,
    output: str,
) -> None:
    """Set every value marked {"$imagepolicy": "NS:NAME[:tag|:name|:digest]"} under PATH.

    Markers work as in Flux; only policies of --namespace are visible. Exit 0 when every file
    was handled (warnings alone do not fail), 1 when a file had an error (the others are still
    updated), 2 for wrong arguments. --dry-run names files from the root of the git repository
    holding PATH, so `patch -p1` applies its diff there.
    """
    policies = _parse_sets(namespace, sets)
    result = update_tree(
        path,
        namespace=namespace,
        policies=policies,
        include=include or None,
        line_include=line_include,
        dry_run=dry_run,
        max_file_size=max_file_size,
        diff_prefix=_repository_prefix(path) if dry_run else "",
    )
    if output == "json":
        click.echo(_as_json(result))
    else:
        _as_text(result, dry_run=dry_run)
    if result.errors:
        sys.exit(EXIT_FILE_ERRORS)
