"""``validate``: list every problem in a tree of policy files."""

from __future__ import annotations

import sys
from dataclasses import replace
from pathlib import Path

import click

from image_automation.cli._paths import AbsolutePath
from image_automation.config.loading import LoadResult, load_paths
from image_automation.config.resolving import resolve
from image_automation.engine.automations import (
    PlanContext,
    RepoTarget,
    check_automations,
    plan_automations,
)
from image_automation.engine.coverage import coverage_warnings
from image_automation.engine.promotion import check_promotions


@click.command("validate")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@click.option("--repo", metavar="URL", help="The repository automations write to (as reconcile).")
@click.option("--branch", default="main", show_default=True, help="Branch of --repo.")
@click.option(
    "--secrets-dir",
    type=AbsolutePath(file_okay=False),
    help="Mounted secrets; when given, signing key files must exist in it.",
)
def validate_command(
    paths: tuple[Path, ...], repo: str | None, branch: str, secrets_dir: Path | None
) -> None:
    """Check policy and automation files; list every problem as FILE:LINE: FIELD: MESSAGE.

    Reads every *.yaml/*.yml under each PATH (default: the current directory). Automations
    are planned as `reconcile` plans them and their commit message template is rendered with
    an example change; promotions as `promote` plans them (stages, policies, branches). A
    PATH that is a git checkout (holds .git) is also checked for markers no automation there
    will set and automations whose update.path holds no marker (warnings), and for promotion
    stages whose path holds no marker of their policies (errors). Exit 1 if any problem was
    found, 0 if none; warnings alone do not fail.

    \b
    Example:
      image-automation validate policies/
    """
    loaded = load_paths(paths or (Path("."),))
    resolved = resolve(loaded)
    dirs = [p for p in paths or (Path("."),) if p.is_dir()]
    context = PlanContext(
        repo=RepoTarget(repo, branch) if repo else None,
        secrets_dir=secrets_dir,
        check_secret_files=secrets_dir is not None,
        root=dirs[0] if len(dirs) == 1 else None,  # Argo CD apps resolve in the one tree given
    )
    automation_errors, automation_warnings = check_automations(loaded, context)
    checkouts = [root for root in paths or (Path("."),) if (root / ".git").exists()]
    for root in checkouts:
        automation_warnings += _coverage(root, loaded, context)
    promotion_errors = check_promotions(loaded, context, checkouts=checkouts)
    errors = [*resolved.errors, *automation_errors, *promotion_errors]
    for warning in [*resolved.warnings, *automation_warnings]:
        click.echo(f"warning: {warning}")
    for error in errors:
        click.echo(str(error))
    summary = (
        f"{len(loaded.documents)} documents, {len(resolved.policies)} policies, "
        f"{len(loaded.automations)} automations, {len(errors)} problems"
    )
    click.echo(summary, err=True)
    sys.exit(1 if errors else 0)


def _coverage(root: Path, loaded: LoadResult, context: PlanContext) -> list[str]:
    """:func:`coverage_warnings` for the automations read from the checkout at ``root``."""
    top = root.resolve()
    mine = LoadResult(
        documents=[d for d in loaded.automations if Path(d.file).resolve().is_relative_to(top)]
    )
    if not mine.documents:
        return []
    if context.repo is None:  # as check_automations: the checkout stands for --repo
        context = replace(context, repo=RepoTarget(url="file:///--repo", branch="main"))
    plans = [p for p in plan_automations(mine, context).plans if p.argocd is None]
    return coverage_warnings(root, plans, mine)
