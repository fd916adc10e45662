"""``image-automation promote --once``: take every Promotion one step further, once.

For CI: the same evaluation the daemon runs on its interval. Exit 0 when every promotion
was evaluated without error (waiting and held images are not errors: their reasons are
printed), 1 otherwise, 2 for wrong arguments. ``--dry-run`` reads the forge and git but
pushes nothing and writes nothing to a forge: it prints the pull request it would open or
update (title, body, branch) and the diff.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import click

from image_automation.cli._paths import (
    AbsolutePath,
    absolute,
    absolute_repo,
    default_work_dir,
    work_dir_and_state_options,
)
from image_automation.engine.automations import RepoTarget
from image_automation.engine.promotion import (
    PromoteRequest,
    PromotionOutcome,
    PromotionReport,
    StageOutcome,
    promote_once,
)
from image_automation.engine.pullrequests import ForgePool
from image_automation.errors import ImageAutomationError
from image_automation.state import open_store

_EPILOG = """\b
Example (a repository holding a Promotion and the manifests of its stages):
  image-automation promote --once --repo https://github.com/example/fleet.git \\
      --secrets-dir /var/run/secrets --git-secret fleet-git --dry-run
"""


@click.command("promote", epilog=_EPILOG)
@click.option("--once", is_flag=True, required=True, help="Run once and exit (required).")
@click.option("--repo", metavar="URL", help="Git repository holding the Promotion documents.")
@click.option("--branch", default="main", show_default=True, help="Branch of --repo.")
@click.option(
    "--config",
    "configs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="PATH",
    help="Extra policy/promotion file or directory. Repeatable.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the pull request each stage would open or update (title, body, branch, "
    "diff); push nothing, write nothing to a forge.",
)
@click.option(
    "--secrets-dir",
    type=AbsolutePath(exists=True, file_okay=False),
    help="Mounted Secrets: DIR/NAME/KEY (git credentials, forge tokens, HTTP gate tokens).",
)
@click.option("--git-secret", metavar="NAME", help="Secret in --secrets-dir for --repo.")
@work_dir_and_state_options
@click.option("-v", "--verbose", is_flag=True, help="Log git steps to stderr.")
def promote(
    once: bool,
    repo: str | None,
    branch: str,
    configs: tuple[Path, ...],
    dry_run: bool,
    secrets_dir: Path | None,
    git_secret: str | None,
    work_dir: Path | None,
    state: str | None,
    verbose: bool,
) -> None:
    """Open or update the promotion pull requests that are due, once.

    For every Promotion found in --repo (and --config): each stage after the first reads
    the image the stage before it holds in Git (tag and digest) and when it landed there;
    soaked long enough, its gates green and its window open, the image goes into a pull
    request for the stage, digest-pinned. Prints per stage what moves and why the rest
    waits or is held.
    """
    if not repo and not configs:
        raise click.UsageError("give --repo URL, --config PATH, or both")
    if git_secret and not secrets_dir:
        raise click.UsageError("--git-secret needs --secrets-dir")
    logging.basicConfig(
        level=logging.INFO if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    logging.getLogger("httpx").setLevel(logging.WARNING)  # its lines quote URLs whole
    request = PromoteRequest(
        work_dir=work_dir or absolute(default_work_dir()),
        repo=RepoTarget(absolute_repo(repo), branch, git_secret) if repo else None,
        config_paths=configs,
        secrets_dir=secrets_dir,
        dry_run=dry_run,
    )
    try:
        report = asyncio.run(_run(request, state))
    except (ImageAutomationError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    for line in report_lines(report):
        click.echo(line)
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    failed = [p.key for p in report.promotions if not p.ok]
    summary = f"{len(report.promotions)} promotion(s), {len(failed)} failed"
    click.echo(summary + (": " + ", ".join(failed) if failed else ""), err=True)
    if not report.ok:
        sys.exit(1)


async def _run(request: PromoteRequest, state: str | None) -> PromotionReport:
    def clock() -> datetime:
        return datetime.now(UTC)

    async with await open_store(state) as store, ForgePool() as forges:
        return await promote_once(request, store=store, clock=clock, forges=forges)


def report_lines(report: PromotionReport) -> Iterator[str]:
    """The report as ``promote --once`` prints it (the daemon logs the same facts)."""
    for promotion in report.promotions:
        yield from _promotion_lines(promotion)


def _promotion_lines(promotion: PromotionOutcome) -> Iterator[str]:
    if promotion.skipped:
        yield f"{promotion.key}: skipped ({promotion.skipped})"
        return
    chain = " → ".join(promotion.chain)
    yield f"{promotion.key}: " + ("FAILED" if not promotion.ok else chain or "promotion")
    for error in promotion.errors:
        yield f"  error: {error}"
    for stage in promotion.stages:
        yield from _stage_lines(stage)


def _stage_lines(stage: StageOutcome) -> Iterator[str]:
    yield f"  {stage.stage} (from {stage.source}):"
    for j in stage.judgements:
        image = f" {j.image.short()}" if j.image else ""
        yield f"    {j.policy}{image}: {j.verdict}: {j.reason}"
    for policy, carried in sorted(stage.kept.items()):
        yield f"    {policy}: the open pull request keeps {carried} meanwhile"
    for pr in stage.pull_requests:
        if pr.action == "unchanged" and not pr.number and not pr.changes and not pr.detail:
            continue  # nothing to move, nothing open: the lines above say why
        yield f"    branch {pr.head}: {pr.summary()}"
        for c in pr.changes:
            yield f"      {c.file}:{c.line}: {c.setter}: {c.old} -> {c.new}"
        if pr.action.startswith("would-") and pr.title:
            yield f"      title: {pr.title}"
            yield "      body:"
            yield from (f"        {line}".rstrip() for line in pr.body.splitlines())
            if pr.diff:
                yield from pr.diff.rstrip("\n").splitlines()
    for warning in stage.warnings:
        yield f"    warning: {warning}"
    for error in stage.errors:
        yield f"    error: {error}"


__all__ = ["promote", "report_lines"]
