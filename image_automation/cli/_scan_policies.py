"""``scan --policies DIR``: scan every repository the policy files name and show the result.

Loads and resolves the files, turns them into scan targets, scans them into the state store
with a progress bar on stderr, lets every policy select from the stored tags (storing the
decisions), then prints one table row per repository on stdout: tag count, the latest tag each
policy over it selects, requests made, and the last error (the last good tags are kept and
counted when a scan fails).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from contextlib import AbstractAsyncContextManager
from dataclasses import dataclass
from datetime import UTC, datetime
from functools import partial
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table
from rich.text import Text

from image_automation.config.loading import load_paths
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import Decision
from image_automation.engine.deciding import decide_from_state
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import (
    ScanReport,
    ScanTarget,
    TagLister,
    scan_repositories,
)
from image_automation.engine.targets import targets_from_config
from image_automation.errors import ImageAutomationError
from image_automation.registry import DockerConfig, Platform, RegistrySettings, SecretsDir
from image_automation.state import StateStore, open_store

EXIT_OK = 0
EXIT_SCAN_FAILED = 1
EXIT_INVALID = 2
_PIPE_WIDTH = 1 << 16
"""Line width when stdout is not a terminal: no width to fit, so no cell is wrapped or cut."""


@dataclass(frozen=True, slots=True)
class PolicyScan:
    """What ``scan --policies`` was asked to do."""

    paths: tuple[Path, ...]
    state: str | Path | None = None
    """``sqlite:///PATH``, a file path, or ``None`` for the default location."""
    concurrency: int = 8
    """Repositories scanned at once (each registry host limits itself further)."""


ListerFactory = Callable[[Sequence[ScanTarget]], AbstractAsyncContextManager[TagLister]]
"""Builds the lister for the targets about to be scanned (the registry client, or a fake)."""


async def run_policy_scan(
    job: PolicyScan,
    *,
    make_lister: ListerFactory,
    clock: Callable[[], datetime],
    out: Console,
    err: Console,
) -> int:
    """Scan, store, select, render; return the exit code (1 a scan failed, 2 a file is bad).

    After the scan every policy selects from its repository's stored tags; the decisions are
    stored too and shown as "latest per policy".
    """
    loaded = load_paths(job.paths)
    resolved = resolve(loaded)
    found = targets_from_config(loaded, resolved.policies)
    # The resolver reports bad images too; the targets' own problems matter only without it.
    problems = [str(e) for e in resolved.errors] or found.problems
    for problem in problems:
        err.print(problem, markup=False, highlight=False)
    for warning in resolved.warnings:
        err.print(f"warning: {warning}", markup=False, highlight=False)
    if not found.targets:
        err.print(f"no image repositories in {', '.join(map(str, job.paths))}", markup=False)
        return EXIT_INVALID
    store = await open_store(job.state)
    async with store, make_lister(found.targets) as lister:
        reports = await _scan_with_progress(job, found.targets, lister, store, clock, err)
        decisions = await decide_from_state(store, resolved.policies, now=clock())
        table = _table(reports, resolved.policies, decisions)
    out.print(table)
    if problems:
        return EXIT_INVALID
    return EXIT_OK if all(r.ok for r in reports) else EXIT_SCAN_FAILED


async def _scan_with_progress(
    job: PolicyScan,
    targets: Sequence[ScanTarget],
    lister: TagLister,
    store: StateStore,
    clock: Callable[[], datetime],
    err: Console,
) -> list[ScanReport]:
    columns = (
        TextColumn("scanning"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        TextColumn("{task.description}"),
    )
    with Progress(*columns, console=err, transient=True) as progress:
        task = progress.add_task("", total=len(targets))

        def advance(report: ScanReport) -> None:
            progress.update(task, advance=1, description=report.repository)

        return await scan_repositories(
            targets,
            lister=lister,
            store=store,
            clock=clock,
            concurrency=job.concurrency,
            on_report=advance,
        )


def _table(
    reports: list[ScanReport], policies: Sequence[ResolvedPolicy], decisions: dict[str, Decision]
) -> Table:
    table = Table()
    for header in ("Repository", "Tags", "Latest per policy", "Requests", "Last error"):
        # On a terminal a long name folds onto the next line; it is never cut with "…".
        table.add_column(header, overflow="fold")
    for report in reports:
        lines = [
            f"{policy.key}: {_latest(decisions.get(policy.key))}"
            for policy in policies
            if policy.image.name == report.repository
        ]
        # Text cells: a "[" in an error or tag must not be read as rich markup.
        table.add_row(
            Text(report.repository),
            Text(str(report.tag_count)),
            Text("\n".join(lines) or "-"),
            Text(str(report.requests)),
            Text(report.error or "", style="red"),
        )
    return table


def _latest(decision: Decision | None) -> str:
    if decision is None:
        return "(not scanned)"
    if decision.tag is None:
        return "(none: " + "; ".join(decision.reasons or ("nothing qualifies",)) + ")"
    return decision.tag


def output_console(*, stderr: bool = False) -> Console:
    """A console for stdout (or stderr) that never cuts or wraps what it prints when piped.

    Rich assumes 80 columns when the stream is not a terminal and then cuts table cells with
    "…"; a file or a pipe has no width to fit, so there every line is printed whole.
    """
    console = Console(stderr=stderr, soft_wrap=True)
    if console.is_terminal:
        return console
    return Console(stderr=stderr, soft_wrap=True, width=_PIPE_WIDTH)


def scan_policies_command(
    *,
    policies: tuple[Path, ...],
    state: str | None,
    concurrency: int,
    platform: str,
    docker_config: Path | None,
    registries: Path | None,
    secrets_dir: Path | None,
) -> int:
    """``scan --policies``: build the registry access, run the scan, return the exit code.

    Per-repository access (``secretRef``, ``certSecretRef``, ``insecure``) comes from the
    files; ``docker_config`` is consulted after each repository's own secret.
    """
    err = output_console(stderr=True)
    try:
        make_lister = partial(
            open_registry_lister,
            settings=RegistrySettings.load(registries) if registries else None,
            secrets=SecretsDir(secrets_dir) if secrets_dir else None,
            docker_config=DockerConfig.load(docker_config) if docker_config else None,
            platform=Platform.parse(platform),
        )
        job = PolicyScan(paths=policies, state=state, concurrency=concurrency)
        return asyncio.run(
            run_policy_scan(
                job,
                make_lister=make_lister,
                clock=lambda: datetime.now(UTC),
                out=output_console(),
                err=err,
            )
        )
    except (ImageAutomationError, ValueError) as exc:
        err.print(f"error: {exc}", markup=False, highlight=False)
        return EXIT_INVALID
