"""``hold list`` and ``hold release``: the rollback holds in a state store.

A hold keeps a policy at the version a human rolled Git back to (docs/gates.md). With
``release: manual`` only this command lifts it; ``untilNewer`` holds lift by themselves too.
The store is the daemon's (``--data-dir``'s ``state.db``) or any ``--state``.
"""

from __future__ import annotations

import asyncio
import json
import re
import sys
from collections.abc import Coroutine
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from image_automation.cli._paths import state_option
from image_automation.domain import Hold
from image_automation.errors import StateError

EXIT_NOT_HELD = 3
_NAME = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,252}")
T = TypeVar("T")


def _state(state: str | None, data_dir: Path | None) -> str | None:
    if state is not None and data_dir is not None:
        raise click.UsageError("give at most one of --state and --data-dir")
    return str(data_dir / "state.db") if data_dir is not None else state


_STATE = click.option(
    "--state", metavar="PATH|URL", callback=state_option,
    help="State store (a path, sqlite:///PATH or postgresql://...).",
)  # fmt: skip
_DATA_DIR = click.option(
    "--data-dir", type=click.Path(file_okay=False, path_type=Path),
    help="The daemon's data dir (its state.db).",
)  # fmt: skip


@click.group("hold")
def hold_group() -> None:
    """List or release rollback holds (a policy kept at a human's version).

    \b
    Example:
      image-automation hold release apps:web --data-dir ./data
    """


@hold_group.command("list")
@_STATE
@_DATA_DIR
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--all", "show_all", is_flag=True, help="Released holds too.")
def list_command(state: str | None, data_dir: Path | None, output: str, show_all: bool) -> None:
    """Print the holds in force (policy, version kept, why).

    \b
    Example:
      image-automation hold list --state ./state.db --output json
    """
    holds = [h for h in _run(_list(_state(state, data_dir))) if show_all or h.active]
    if output == "json":
        from image_automation.state._codec import hold_to_dict

        click.echo(json.dumps([hold_to_dict(h) for h in holds], indent=2))
        return
    for hold in holds:
        state_text = "" if hold.active else f" (released {hold.released_at:%Y-%m-%d %H:%M}Z)"
        click.echo(f"{hold.policy}: {hold.reason}{state_text}")


@hold_group.command("release")
@click.argument("policy", metavar="NS:POLICY")
@_STATE
@_DATA_DIR
def release_command(policy: str, state: str | None, data_dir: Path | None) -> None:
    """Release the hold of NS:POLICY; the next reconcile may update it again.

    Exit 0 when a hold was released, 3 when the policy had none in force.

    \b
    Example:
      image-automation hold release apps:web --state ./state.db
    """
    key = policy_key(policy)
    released = _run(_release(_state(state, data_dir), key))
    if released is None:
        click.echo(f"{key}: no hold in force", err=True)
        sys.exit(EXIT_NOT_HELD)
    click.echo(f"{key}: released ({released.reason})")


def policy_key(policy: str) -> str:
    """``NS:POLICY`` (or ``NS/POLICY``) as the key ``namespace/name``; a usage error else."""
    key = policy.replace(":", "/", 1) if "/" not in policy else policy
    if key.count("/") != 1 or not all(_NAME.fullmatch(part) for part in key.split("/")):
        raise click.BadParameter(f"{policy[:80]!r} is not NAMESPACE:NAME", param_hint="NS:POLICY")
    return key


def _run(coro: Coroutine[Any, Any, T]) -> T:
    try:
        return asyncio.run(coro)
    except StateError as exc:
        click.echo(f"error: {exc}", err=True)
        sys.exit(2)


async def _list(url: str | None) -> list[Hold]:
    from image_automation.state import open_store

    async with await open_store(url) as store:
        return await store.holds()


async def _release(url: str | None, key: str) -> Hold | None:
    from image_automation.state import open_store

    async with await open_store(url) as store:
        return await store.release_hold(key, now=datetime.now(UTC))
