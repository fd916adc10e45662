"""``explain NS:POLICY``: why a policy selects what it does, and what that means for Git.

Thin: parse the options, open the state store, call :func:`engine.explaining.explain_policy`
and print the trace in its text or JSON form (docs/gates.md). Read-only but for ``--scan``,
which stores its scan like any scan. Exit 0 with the trace, 2 for wrong arguments or when
the policy, Git or the store cannot be read.
"""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import click

from image_automation.cli._hold import policy_key
from image_automation.cli._paths import AbsolutePath, absolute, absolute_repo, state_option
from image_automation.cli._tags import TagListError, parse_time
from image_automation.errors import ImageAutomationError

if TYPE_CHECKING:
    from image_automation.policy import Trace

EXIT_FAILED = 2


@click.command("explain")
@click.argument("policy", metavar="NS:POLICY")
@click.option("--repo", metavar="URL", help="Git repository holding the documents and markers.")
@click.option("--branch", default="main", show_default=True, help="Branch of --repo.")
@click.option(
    "--config", "configs", multiple=True, metavar="PATH",
    type=AbsolutePath(exists=True), help="Extra policy/automation file or directory. Repeatable.",
)  # fmt: skip
@click.option(
    "--state", metavar="PATH|URL", callback=state_option,
    help="State store (a path, sqlite:///PATH or postgresql://...).",
)  # fmt: skip
@click.option(
    "--data-dir", type=AbsolutePath(file_okay=False), help="The daemon's data dir (its state.db)."
)
@click.option("--scan", is_flag=True, help="Scan the policy's repository now (stores the scan).")
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--limit", type=click.IntRange(min=0), default=50, show_default=True,
              help="Tags listed in the text form (0: all).")  # fmt: skip
@click.option("--now", "now_text", help="Evaluate ages and windows as of this RFC 3339 time.")
@click.option(
    "--secrets-dir", type=AbsolutePath(exists=True, file_okay=False),
    help="Mounted Secrets: DIR/NAME/KEY (git and registry credentials, verify keys).",
)  # fmt: skip
@click.option("--git-secret", metavar="NAME", help="Secret in --secrets-dir for --repo.")
@click.option("--work-dir", type=AbsolutePath(file_okay=False), help="Clone cache.")
@click.option("--docker-config", type=AbsolutePath(exists=True, dir_okay=False),
              help="Docker config.json with registry credentials.")  # fmt: skip
@click.option("--registries", type=AbsolutePath(exists=True, dir_okay=False),
              help="Registry settings file (TLS, plain HTTP, mirrors, rates).")  # fmt: skip
def explain_command(policy: str, **options: object) -> None:
    """Show the decision trace of NS:POLICY: every tag's fate, gates, Git, the next change.

    From the state store (--state, or the daemon's --data-dir), or live with --scan.

    \b
    Example:
      image-automation explain apps:web --repo file:///srv/fleet.git --state ./state.db
    """
    key = policy_key(policy)
    opts = _Options(**options)  # type: ignore[arg-type]
    if opts.git_secret and not opts.secrets_dir:
        raise click.UsageError("--git-secret needs --secrets-dir")
    if not opts.repo and not opts.configs:
        raise click.UsageError("give --repo URL, --config PATH, or both")
    try:
        now = parse_time(opts.now_text, where="--now") if opts.now_text else datetime.now(UTC)
    except TagListError as exc:
        raise click.BadParameter(str(exc), param_hint="--now") from exc
    try:
        trace = asyncio.run(_explain(key, opts, now=now))
    except (ImageAutomationError, OSError) as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_FAILED)
    from image_automation.policy import render_trace, trace_to_dict

    if opts.output == "json":
        click.echo(json.dumps(trace_to_dict(trace), indent=2))
    else:
        click.echo(render_trace(trace, limit=opts.limit), nl=False)


class _Options:
    """The command's options by name (click passes them as keywords)."""

    def __init__(
        self, *, repo: str | None, branch: str, configs: tuple[Path, ...], state: str | None,
        data_dir: Path | None, scan: bool, output: str, limit: int, now_text: str | None,
        secrets_dir: Path | None, git_secret: str | None, work_dir: Path | None,
        docker_config: Path | None, registries: Path | None,
    ) -> None:  # fmt: skip
        if state is not None and data_dir is not None:
            raise click.UsageError("give at most one of --state and --data-dir")
        self.repo, self.branch, self.configs = repo, branch, configs
        self.state = str(data_dir / "state.db") if data_dir is not None else state
        self.scan, self.output, self.limit, self.now_text = scan, output, limit, now_text
        self.secrets_dir, self.git_secret, self.work_dir = secrets_dir, git_secret, work_dir
        self.docker_config, self.registries = docker_config, registries


async def _explain(key: str, opts: _Options, *, now: datetime) -> Trace:
    from image_automation.cli._paths import default_work_dir
    from image_automation.engine.automations import RepoTarget
    from image_automation.engine.explaining import ExplainRequest, explain_policy
    from image_automation.engine.pullrequests import RegistryAccess
    from image_automation.engine.registry_tags import StoreTagSource
    from image_automation.registry import DockerConfig, RegistrySettings, SecretsDir
    from image_automation.state import open_store

    settings = RegistrySettings.load(opts.registries) if opts.registries else RegistrySettings()
    credentials = DockerConfig.load(opts.docker_config) if opts.docker_config else None
    secrets = SecretsDir(opts.secrets_dir) if opts.secrets_dir else None
    repo = opts.repo and RepoTarget(absolute_repo(opts.repo), opts.branch, opts.git_secret)
    request = ExplainRequest(
        policy=key, work_dir=opts.work_dir or absolute(default_work_dir()), repo=repo or None,
        config_paths=opts.configs, secrets_dir=opts.secrets_dir, scan=opts.scan,
    )  # fmt: skip
    async with await open_store(opts.state) as store:
        tags = StoreTagSource(store=store, settings=settings, secrets=secrets,
                              docker_config=credentials, clock=lambda: now)  # fmt: skip
        access = RegistryAccess(settings, secrets, credentials)
        return await explain_policy(request, store=store, tags=tags, access=access, now=now)
