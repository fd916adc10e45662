"""``image-automation reconcile --once``: scan → select → update → commit → push, once.

Parses arguments, builds a :class:`~image_automation.engine.reconcile.ReconcileRequest`,
calls the engine and renders the report. Exit 0 when every automation succeeded, 1 when any
failed or any file could not be edited (each named), 2 for wrong arguments.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from dataclasses import dataclass
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
from image_automation.engine.eventing import EventBus, FailureTracker, store_recorder
from image_automation.engine.outcome_events import OutcomeEvents
from image_automation.engine.pullrequests import ForgePool, PullRequestContext, RegistryAccess
from image_automation.engine.reconcile import (
    AutomationOutcome,
    ReconcileReport,
    ReconcileRequest,
    reconcile_once,
)
from image_automation.engine.registry_tags import StoreTagSource
from image_automation.errors import ImageAutomationError
from image_automation.registry import DockerConfig, RegistrySettings, SecretsDir
from image_automation.state import open_store

_EPILOG = """\b
Example (a repository holding ImageRepository/ImagePolicy/ImageUpdateAutomation files
and manifests with {"$imagepolicy": "NS:NAME"} markers):
  image-automation reconcile --once --repo https://git.example.com/org/fleet.git \\
      --branch main --secrets-dir /var/run/secrets --git-secret fleet-auth --dry-run
"""


@click.command("reconcile", epilog=_EPILOG)
@click.option("--once", is_flag=True, required=True, help="Run once and exit (required).")
@click.option("--repo", metavar="URL", help="Git repository to search and update.")
@click.option("--branch", default="main", show_default=True, help="Branch of --repo.")
@click.option(
    "--config",
    "configs",
    multiple=True,
    type=click.Path(exists=True, path_type=Path),
    metavar="PATH",
    help="Extra policy/automation file or directory. Repeatable.",
)
@click.option(
    "--dry-run",
    is_flag=True,
    help="Print the diff of each automation (and the pull request it would open or update: "
    "title, body, branch); push nothing, write nothing to a forge.",
)
@click.option(
    "--secrets-dir",
    type=AbsolutePath(exists=True, file_okay=False),
    help="Mounted Secrets: DIR/NAME/KEY (git and registry credentials, signing keys).",
)
@click.option("--git-secret", metavar="NAME", help="Secret in --secrets-dir for --repo.")
@work_dir_and_state_options
@click.option(
    "--docker-config",
    type=AbsolutePath(exists=True, dir_okay=False),
    help="Docker config.json with registry credentials.",
)
@click.option(
    "--registries",
    type=AbsolutePath(exists=True, dir_okay=False),
    help="Registry settings file (TLS, plain HTTP, mirrors, rates); see docs/registries.md.",
)
@click.option("-v", "--verbose", is_flag=True, help="Log git steps to stderr.")
def reconcile(
    once: bool,
    repo: str | None,
    branch: str,
    configs: tuple[Path, ...],
    dry_run: bool,
    secrets_dir: Path | None,
    git_secret: str | None,
    work_dir: Path | None,
    state: str | None,
    docker_config: Path | None,
    registries: Path | None,
    verbose: bool,
) -> None:
    """Update every automation found in --repo (and --config) once.

    Finds every ImageRepository, ImagePolicy, TrackedImage, ImageUpdateAutomation and
    ImageAutomation document, scans the image repositories the automations need, selects,
    edits the marked values under each automation's update.path, commits and pushes.
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
    request = ReconcileRequest(
        work_dir=work_dir or absolute(default_work_dir()),
        repo=RepoTarget(url=absolute_repo(repo), branch=branch, secret=git_secret)
        if repo
        else None,
        config_paths=configs,
        secrets_dir=secrets_dir,
        dry_run=dry_run,
    )
    try:
        settings = RegistrySettings.load(registries) if registries else RegistrySettings()
        credentials = DockerConfig.load(docker_config) if docker_config else None
    except ImageAutomationError as exc:
        raise click.UsageError(str(exc)) from exc
    registry = _RegistryOptions(
        settings, SecretsDir(secrets_dir) if secrets_dir else None, credentials
    )
    try:
        report = asyncio.run(_run(request, state, registry))
    except (ImageAutomationError, OSError) as exc:  # e.g. the state store cannot be opened
        click.echo(f"error: {exc}", err=True)
        sys.exit(1)
    _render(report, dry_run=dry_run)
    if not report.ok:
        sys.exit(1)


@dataclass(frozen=True, slots=True)
class _RegistryOptions:
    settings: RegistrySettings
    secrets: SecretsDir | None
    docker_config: DockerConfig | None


async def _run(
    request: ReconcileRequest, state: str | None, registry: _RegistryOptions
) -> ReconcileReport:
    def clock() -> datetime:
        return datetime.now(UTC)

    async with await open_store(state) as store, ForgePool() as forges:
        tags = StoreTagSource(
            store=store,
            settings=registry.settings,
            secrets=registry.secrets,
            docker_config=registry.docker_config,
            clock=clock,
        )
        access = RegistryAccess(registry.settings, registry.secrets, registry.docker_config)
        context = PullRequestContext(forges=forges, secrets_dir=request.secrets_dir, access=access)
        # Events go to the state store (the status page reads them); the bus drains before
        # the store closes. One run is one observation, so a failure alerts at once here.
        async with EventBus() as bus:
            bus.subscribe("state", store_recorder(store))
            tracker = FailureTracker(threshold=1)
            await tracker.restore(store)
            return await reconcile_once(
                request, tags=tags, store=store, clock=clock, pull_requests=context,
                events=OutcomeEvents(bus, tracker=tracker),
            )  # fmt: skip


def _render(report: ReconcileReport, *, dry_run: bool) -> None:
    for warning in report.warnings:
        click.echo(f"warning: {warning}", err=True)
    for error in report.errors:
        click.echo(f"error: {error}", err=True)
    for outcome in report.automations:
        _render_one(outcome, dry_run=dry_run)
    failed = [a.key for a in report.automations if not a.ok]
    summary = f"{len(report.automations)} automation(s), {len(failed)} failed"
    if failed:
        summary += ": " + ", ".join(failed)
    partial = [a.key for a in report.automations if a.ok and a.file_errors]
    if partial:
        summary += f"; {len(partial)} with file errors: " + ", ".join(partial)
    if report.errors:
        summary += f"; {len(report.errors)} other error(s)"
    click.echo(summary, err=True)


def _render_one(outcome: AutomationOutcome, *, dry_run: bool) -> None:
    if outcome.skipped:
        click.echo(f"{outcome.key}: skipped ({outcome.skipped})")
        return
    if outcome.mode == "pull-request":
        _render_pull_requests(outcome)
        return
    if outcome.commit:
        head = f"committed {outcome.commit[:12]}, pushed {', '.join(outcome.refs)}"
    elif outcome.deferred:
        head = f"deferred ({outcome.deferred})" + (": would change" if outcome.changes else "")
    elif outcome.changes:
        head = "would change (dry run)" if dry_run else "changed but not committed"
    else:
        head = "no change"
    if outcome.errors:
        head = f"FAILED ({head})"
    elif outcome.file_errors:
        count = len(outcome.file_errors)
        head += f", {count} file error{'s' if count > 1 else ''}"
    click.echo(f"{outcome.key}: {head}")
    for change in outcome.changes:
        click.echo(f"  {change.file}:{change.line}: {change.setter}: {change.old} -> {change.new}")
    if not outcome.changes:
        for key, decision in sorted(outcome.decisions.items()):
            if decision.tag is not None:
                click.echo(f"  policy {key}: {decision.tag} selected; files already have it")
            else:
                why = "; ".join(decision.reasons) or "no tag qualifies"
                click.echo(f"  policy {key}: nothing selected: {why}")
        if not outcome.decisions and not outcome.errors and not outcome.file_errors:
            click.echo("  no policy of this automation's namespace matches its policySelector")
    for key, why in sorted(outcome.held.items()):
        click.echo(f"  policy {key}: {why}")
    for warning in outcome.warnings:
        click.echo(f"  warning: {warning}")
    for error in outcome.file_errors:
        click.echo(f"  file error: {error}")
    for error in outcome.errors:
        click.echo(f"  error: {error}")
    if dry_run and outcome.diff:
        click.echo(outcome.diff, nl=False)


def _render_pull_requests(outcome: AutomationOutcome) -> None:
    """One line per head branch (what happened to its pull request), its changes, and for a
    dry run the title, body and diff it would carry."""
    head = "FAILED (pull requests)" if outcome.errors else "pull requests"
    click.echo(f"{outcome.key}: {head}")
    for pr in outcome.pull_requests:
        click.echo(f"  branch {pr.head}: {pr.summary()}")
        for change in pr.changes:
            click.echo(
                f"    {change.file}:{change.line}: {change.setter}: {change.old} -> {change.new}"
            )
        if pr.action.startswith("would-") and pr.title:
            click.echo(f"    title: {pr.title}")
            click.echo("    body:")
            for line in pr.body.splitlines():
                click.echo(f"      {line}".rstrip())
            if pr.diff:
                click.echo(pr.diff, nl=False)
    if not outcome.pull_requests and not outcome.errors:
        click.echo("  nothing selected to propose")
    for key, why in sorted(outcome.held.items()):
        click.echo(f"  policy {key}: {why}")
    for warning in outcome.warnings:
        click.echo(f"  warning: {warning}")
    for error in outcome.file_errors:
        click.echo(f"  file error: {error}")
    for error in outcome.errors:
        click.echo(f"  error: {error}")
