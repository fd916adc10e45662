"""``image-automation status``: what is tracked, selected, pending and failing, in a terminal.

Reads the state store (``--state``, or ``--data-dir`` of a daemon: its ``state.db`` and, when
it holds one clone, the values in Git) or a running daemon's ``GET /api/v1/status``
(``--server``). Both give the same JSON (``--output json``), the one the status page shows;
the tables are drawn from that JSON, so the two sources cannot drift apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
import httpx
from rich.console import Console
from rich.table import Table

from image_automation.cli._paths import AbsolutePath, state_option
from image_automation.errors import ImageAutomationError

TOKEN_ENV = "IMAGE_AUTOMATION_STATUS_TOKEN"
EXIT_UNREADABLE = 1

_EPILOG = """\b
Examples:
  image-automation status --data-dir ./image-automation-data
  image-automation status --server http://127.0.0.1:9090 --output json
  IMAGE_AUTOMATION_STATUS_TOKEN=... image-automation status --server https://ia.example
"""


@click.command("status", epilog=_EPILOG)
@click.option(
    "--state", callback=state_option, help="State store: a path, sqlite:///PATH or postgresql://..."
)
@click.option("--data-dir", type=AbsolutePath(file_okay=False, exists=True),
              help="A daemon's --data-dir: its state.db and clone cache.")  # fmt: skip
@click.option("--server", metavar="URL", help="A running daemon (reads GET URL/api/v1/status).")
@click.option("--token-file", type=AbsolutePath(dir_okay=False, exists=True),
              help=f"Bearer token for --server (or ${TOKEN_ENV}).")  # fmt: skip
@click.option("--basic-auth-file", type=AbsolutePath(dir_okay=False, exists=True),
              help="USER:PASSWORD for --server, one line.")  # fmt: skip
@click.option("--output", type=click.Choice(["table", "json"]), default="table",
              show_default=True)  # fmt: skip
def status_command(
    state: str | None,
    data_dir: Path | None,
    server: str | None,
    token_file: Path | None,
    basic_auth_file: Path | None,
    output: str,
) -> None:
    """Show repositories, policies and automations from the state store or a daemon."""
    if server and (state or data_dir):
        raise click.UsageError("give --server or --state/--data-dir, not both")
    try:
        if server:
            data = _from_server(server, _authorization(token_file, basic_auth_file))
        else:
            data = asyncio.run(_from_store(state, data_dir))
    except ImageAutomationError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(EXIT_UNREADABLE)
    if output == "json":
        click.echo(json.dumps(data, indent=2, ensure_ascii=False, sort_keys=True))
        return
    render_tables(data, Console(soft_wrap=False))


async def _from_store(state: str | None, data_dir: Path | None) -> dict[str, Any]:
    from image_automation.daemon.status.model import overview
    from image_automation.daemon.status.serial import plain
    from image_automation.engine.status_inputs import read_status_inputs
    from image_automation.state import open_store

    location: str | Path | None = state
    checkout = None
    if data_dir is not None:
        location = state or data_dir / "state.db"
        clones = sorted(p.parent for p in (data_dir / "git").glob("*/.git"))
        checkout = clones[0] if len(clones) == 1 else None
    is_path = location is not None and not str(location).startswith(("sqlite:", "postgres"))
    if is_path and not Path(str(location)).exists():  # opening would create an empty store
        raise ImageAutomationError(f"no state store at {location}")
    async with await open_store(location) as store:
        inputs = await read_status_inputs(store, checkout=checkout, ref="HEAD")
    result: dict[str, Any] = plain(overview(inputs, now=datetime.now(UTC)))
    return result


def _authorization(token_file: Path | None, basic_file: Path | None) -> str | None:
    import base64

    if basic_file is not None:
        pair = _read_secret(basic_file)
        if ":" not in pair:
            raise click.BadParameter("expected USER:PASSWORD", param_hint="--basic-auth-file")
        return "Basic " + base64.b64encode(pair.encode()).decode()
    token = _read_secret(token_file) if token_file else os.environ.get(TOKEN_ENV, "").strip()
    return f"Bearer {token}" if token else None


def _read_secret(path: Path) -> str:
    try:
        return path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError) as exc:
        raise click.BadParameter(f"cannot read {path}: {exc}") from exc


def _from_server(server: str, authorization: str | None) -> dict[str, Any]:
    url = server.rstrip("/") + "/api/v1/status"
    if not url.startswith(("http://", "https://")):
        raise click.BadParameter(f"{server!r}: expected an http(s) URL", param_hint="--server")
    headers = {"Accept": "application/json"}
    if authorization:
        headers["Authorization"] = authorization
    try:
        response = httpx.get(url, headers=headers, timeout=30.0)
    except httpx.HTTPError as exc:
        raise ImageAutomationError(f"cannot reach {server}: {type(exc).__name__}") from exc
    if response.status_code == 401:
        raise ImageAutomationError(f"{server} wants credentials (--token-file or ${TOKEN_ENV})")
    if response.status_code != 200:
        raise ImageAutomationError(f"{url} answered {response.status_code}")
    try:
        data = response.json()
    except ValueError as exc:
        raise ImageAutomationError(f"{url} did not answer JSON") from exc
    if not isinstance(data, dict):
        raise ImageAutomationError(f"{url} did not answer a JSON object")
    return data


def render_tables(data: dict[str, Any], console: Console) -> None:
    """The overview JSON as three tables (and the policy-file problems, if any)."""
    for problem in data.get("problems") or []:
        console.print(f"[red]problem:[/red] {problem}", markup=True, highlight=False)
    _table(console, "Repositories", data.get("repositories") or [],
           [("repository", "name"), ("state", "state"), ("last scan", "last_attempt"),
            ("tags", "tag_count"), ("quota", "quota"), ("error", "error")])  # fmt: skip
    _table(console, "Policies", data.get("policies") or [],
           [("policy", "key"), ("selected", "selected"), ("in git", "in_git"),
            ("state", "state"), ("why", "reason")])  # fmt: skip
    rows = [{**a, "open_prs": [f"#{p.get('number')}" for p in a.get("open_pull_requests") or []]}
            for a in data.get("automations") or []]  # fmt: skip
    _table(console, "Automations", rows,
           [("automation", "name"), ("last commit", "last_commit"), ("open PRs", "open_prs"),
            ("last success", "last_success"), ("last error", "last_error")])  # fmt: skip


def _table(
    console: Console, title: str, rows: list[dict[str, Any]], columns: list[tuple[str, str]]
) -> None:
    table = Table(title=title, title_justify="left")
    for header, _ in columns:
        table.add_column(header, overflow="fold")
    for row in rows:
        table.add_row(*(_cell(row.get(key)) for _, key in columns))
    if not rows:
        table.add_row(*(["-"] + [""] * (len(columns) - 1)))
    console.print(table)


def _cell(value: Any) -> str:
    from rich.markup import escape

    if value is None or value == "":
        return "-"
    if isinstance(value, list):
        return escape(", ".join(str(v) for v in value) or "-")
    text = str(value)
    if len(text) == 40 and all(c in "0123456789abcdef" for c in text):
        text = text[:12]
    return escape(text)
