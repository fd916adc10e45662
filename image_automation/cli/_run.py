"""``image-automation run``: the daemon. Parses settings, wires the engine, serves until stopped.

Each setting comes from, in order of precedence: the flag, its environment variable
(``IMAGE_AUTOMATION_<NAME>``), the ``--config`` file (YAML, the same names in camelCase), the
default. Exit 0 after a clean stop, 2 for wrong settings, 1 when the daemon cannot start.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import click
from pydantic import BaseModel, ConfigDict, ValidationError
from pydantic.alias_generators import to_camel

from image_automation.cli._paths import (
    AbsolutePath,
    absolute,
    absolute_repo,
    absolute_state,
    state_option,
)
from image_automation.config.models import parse_duration
from image_automation.config.safe_yaml import load_one
from image_automation.daemon.google_keys import GOOGLE_CERTS_URL
from image_automation.daemon.logs import REDACTOR, LogFormat, configure_logging
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.replicas import Replicas, ReplicaSettings
from image_automation.daemon.running import DaemonSettings, handle_signals, serve
from image_automation.daemon.service import read_token
from image_automation.daemon.status.auth import StatusAuth
from image_automation.daemon.wiring import RepoEngine, RepoSettings
from image_automation.errors import ConfigError, ImageAutomationError

log = logging.getLogger("image_automation.cli.run")
ENV_PREFIX = "IMAGE_AUTOMATION_"
_F = TypeVar("_F", bound=Callable[..., Any])
EXIT_START_FAILED = 1

_EPILOG = """\b
Example (a local bare repository; see the README for one to try):
  image-automation run --repo "file://$PWD/fleet/fleet.git" \\
      --secrets-dir /var/run/secrets --data-dir ./data --listen 127.0.0.1:9090 --log-format json
  curl -s 127.0.0.1:9090/readyz; curl -s 127.0.0.1:9090/metrics | grep image_automation_
"""


class RunFile(BaseModel):
    """The ``--config`` file: any subset of the flags, camelCase."""

    model_config = ConfigDict(extra="forbid", alias_generator=to_camel, populate_by_name=True)

    repo: str | None = None
    branch: str | None = None
    git_secret: str | None = None
    listen: str | None = None
    data_dir: Path | None = None
    secrets_dir: Path | None = None
    docker_config: Path | None = None
    registries: Path | None = None
    log_format: str | None = None
    log_level: str | None = None
    interval: str | None = None
    grace_period: str | None = None
    google_certs_url: str | None = None
    status_secret: str | None = None
    status_page: bool | None = None
    state: str | None = None
    lease_duration: str | None = None


def _option(name: str, *dest: str, **kwargs: Any) -> Callable[[_F], _F]:
    env = ENV_PREFIX + name.split("/")[0].lstrip("-").replace("-", "_").upper()
    return click.option(name, *dest, envvar=env, show_envvar=True, **kwargs)


def _read_config(path: Path | None) -> RunFile:
    if path is None:
        return RunFile()
    try:
        data = load_one(path.read_text(encoding="utf-8"), file=str(path)) or {}
        return RunFile.model_validate(data)
    except ConfigError as exc:  # names the file and line itself
        raise click.BadParameter(str(exc), param_hint="--config") from exc
    except (OSError, ValueError, ValidationError) as exc:
        raise click.BadParameter(f"{path}: {exc}", param_hint="--config") from exc


def _listen(text: str) -> tuple[str, int]:
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit() or not host:
        raise click.BadParameter(f"{text!r}: expected HOST:PORT", param_hint="--listen")
    return host.strip("[]"), int(port)


def _https_url(text: str) -> str:
    parts = urlsplit(text)
    if parts.scheme not in {"http", "https"} or not parts.netloc:
        raise click.BadParameter(
            f"{text!r}: expected an http(s) URL", param_hint="--google-certs-url"
        )
    return text


def _state(flag: str | None, from_file: str | None, config_file: Path | None) -> str | None:
    """``--state`` (already absolute) or the config file's ``state`` (a path relative to it)."""
    if flag or not from_file:
        return flag or None
    if "://" in from_file:
        return absolute_state(from_file)
    return str(absolute(from_file, base=config_file.parent if config_file else None))


def _seconds(text: str, hint: str) -> float:
    try:
        return parse_duration(text).total_seconds()
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint=hint) from exc


@click.command("run", epilog=_EPILOG)
@_option("--repo", metavar="URL", help="Git repository with policies, receivers and manifests.")
@_option("--branch", help="Branch of --repo.  [default: main]")
@_option("--git-secret", metavar="NAME", help="Git credentials in --secrets-dir (NAME/...).")
@_option("--listen", metavar="HOST:PORT", help="Probes, metrics, hooks.  [default: 127.0.0.1:8080]")
@_option(
    "--data-dir",
    type=AbsolutePath(file_okay=False),
    help="State (state.db) and clone cache.  [default: ./image-automation-data]",
)
@_option(
    "--state",
    metavar="URL|PATH",
    callback=state_option,
    help="State store: postgresql://... for replicas sharing the work, or an SQLite path.  "
    "[default: DATA_DIR/state.db]",
)
@_option(
    "--lease-duration",
    metavar="DURATION",
    help="How long a replica's lease on a git repository lasts unrenewed (a dead replica's "
    "work moves within it).  [default: 30s]",
)
@_option(
    "--config",
    "config_file",
    type=AbsolutePath(dir_okay=False, exists=True),
    help="YAML file with any of these settings (camelCase).",
)
@_option(
    "--secrets-dir",
    type=AbsolutePath(file_okay=False, exists=True),
    help="Mounted Secrets: DIR/NAME/token for receivers, DIR/NAME/... for git.",
)
@_option(
    "--docker-config",
    type=AbsolutePath(dir_okay=False, exists=True),
    help="Docker config.json with registry credentials.",
)
@_option(
    "--registries",
    type=AbsolutePath(dir_okay=False, exists=True),
    help="Registry settings file (TLS, plain HTTP, politeness per host).",
)
@_option("--log-format", type=click.Choice(["plain", "json"]), help="[default: plain]")
@_option(
    "--log-level", type=click.Choice(["debug", "info", "warning", "error"]), help="[default: info]"
)
@_option(
    "--interval",
    metavar="DURATION",
    help="Reconcile interval when the repository declares no automation.  [default: 5m]",
)
@_option(
    "--grace-period",
    metavar="DURATION",
    help="How long a stop waits for a running commit/push.  [default: 30s]",
)
@_option(
    "--google-certs-url",
    metavar="URL",
    help="Google's JWK set, for gcr (Pub/Sub push) receivers.  "
    "[default: https://www.googleapis.com/oauth2/v3/certs]",
)
@_option(
    "--status-secret",
    metavar="NAME",
    help="Credentials for /status and /api/v1 in --secrets-dir: NAME/token (bearer) "
    "and/or NAME/username + NAME/password (basic).  [default: open]",
)
@_option(
    "--status-page/--no-status-page",
    default=None,
    help="Serve the read-only status page and its API.  [default: on]",
)
def run_command(**flags: Any) -> None:
    """Keep --repo up to date: scan on a schedule, react to webhooks, serve health and metrics.

    Without automation documents in the repository it behaves like `reconcile --once --repo`
    run on a schedule. SIGTERM/SIGINT stop it cleanly (exit 0); a second signal forces exit.
    """
    repo, daemon, log_format, level = resolve_settings(flags)
    configure_logging(log_format, level=logging.getLevelName(level.upper()))
    sys.exit(asyncio.run(_main(repo, daemon)))


def resolve_settings(
    flags: dict[str, Any],
) -> tuple[RepoSettings, DaemonSettings, LogFormat, str]:
    """Flags (click already applied the environment) over the ``--config`` file over defaults.

    The last item is the log level's name; an empty one counts as not given.
    """
    config_file = flags.get("config_file")
    file = _read_config(config_file)

    def pick(name: str, default: Any = None) -> Any:
        value = flags.get(name)
        if value is not None:
            return value
        from_file = getattr(file, name)
        if isinstance(from_file, Path):  # relative to the file that names it
            return absolute(from_file, base=config_file.parent if config_file else None)
        return from_file if from_file is not None else default

    repo = pick("repo")
    if not repo:
        raise click.UsageError("give --repo URL (or repo: in --config, or IMAGE_AUTOMATION_REPO)")
    host, port = _listen(pick("listen", "127.0.0.1:8080"))
    secrets_dir = pick("secrets_dir")
    repo_settings = RepoSettings(
        repo=absolute_repo(repo),
        branch=pick("branch", "main"),
        git_secret=pick("git_secret"),
        data_dir=absolute(pick("data_dir", "image-automation-data")),
        secrets_dir=secrets_dir,
        docker_config=pick("docker_config"),
        registries=pick("registries"),
        interval=_seconds(pick("interval", "5m"), "--interval"),
        state=_state(flags.get("state"), file.state, config_file),
    )
    lease = _seconds(pick("lease_duration", "30s"), "--lease-duration")
    if not 3 <= lease <= 3600:
        raise click.BadParameter(
            f"{lease:g}s: between 3s and 1h", param_hint="--lease-duration"
        )  # fmt: skip
    daemon_settings = DaemonSettings(
        host=host,
        port=port,
        grace_period=_seconds(pick("grace_period", "30s"), "--grace-period"),
        secrets_dir=secrets_dir,
        google_certs_url=_https_url(pick("google_certs_url", GOOGLE_CERTS_URL)),
        status_page=bool(pick("status_page", True)),
        status_auth=_status_auth(pick("status_secret"), secrets_dir),
        lease_duration=lease,
    )
    log_format = pick("log_format", "plain")
    if log_format not in ("plain", "json"):
        raise click.BadParameter(f"{log_format!r}: plain or json", param_hint="--log-format")
    level = str(flags.get("log_level") or file.log_level or "info")
    return repo_settings, daemon_settings, log_format, level


def _status_auth(name: str | None, secrets_dir: Path | None) -> StatusAuth:
    """The status page's credentials from ``secrets_dir/name/{token,username,password}``."""
    if not name:
        return StatusAuth()
    found: dict[str, str] = {}
    for key in ("token", "username", "password"):
        try:
            found[key] = read_token(secrets_dir, name, key)
        except ImageAutomationError as exc:
            if secrets_dir is None or "cannot read" not in str(exc):
                raise click.BadParameter(str(exc), param_hint="--status-secret") from exc
    auth = StatusAuth(found.get("token"), found.get("username"), found.get("password"))
    if not auth.enabled:
        raise click.BadParameter(
            f"secret {name!r} has neither token nor username + password",
            param_hint="--status-secret",
        )
    REDACTOR.add(*(v for k, v in found.items() if k != "username"))
    return auth


async def _main(repo: RepoSettings, daemon: DaemonSettings) -> int:
    stop = asyncio.Event()
    metrics = Metrics()
    with handle_signals(stop):
        try:
            async with RepoEngine(repo, metrics=metrics) as engine:
                replicas = Replicas(
                    engine.coordinator,
                    home=repo.repo,
                    metrics=metrics,
                    settings=ReplicaSettings(lease_duration=daemon.lease_duration),
                )
                log.info("replica %s on %s state", replicas.holder,
                         "shared" if replicas.shared else "local")  # fmt: skip
                return await serve(engine, daemon, stop=stop, metrics=metrics,
                                   replicas=replicas, status=engine)  # fmt: skip
        except (ImageAutomationError, OSError) as exc:
            log.error("cannot start: %s", exc)
            return EXIT_START_FAILED
