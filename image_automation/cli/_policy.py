"""``policy select``: run one policy over a tag list, print the winner (or why none won)."""

from __future__ import annotations

import gc
import json
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import NoReturn, TextIO

import click

from image_automation.cli._paths import state_option
from image_automation.cli._tags import TagListError, parse_tag_list, parse_time
from image_automation.config.loading import load_paths
from image_automation.config.resolving import ResolvedPolicy, resolve
from image_automation.domain import Decision, TagInfo
from image_automation.errors import StateError
from image_automation.policy import select

EXIT_INVALID = 2
EXIT_NO_CANDIDATE = 3


@click.group("policy")
def policy_group() -> None:
    """Work with image policies (Flux ImagePolicy + ImageRepository, or native TrackedImage).

    \b
    Example:
      image-automation policy select --policy policies/flux/podinfo.yaml \\
          --tags-from examples/tags/ghcr.io_stefanprodan_podinfo.txt
    """


@policy_group.command("select")
@click.option(
    "--policy",
    "policy_files",
    multiple=True,
    required=True,
    type=click.Path(dir_okay=True, path_type=Path),
    help="File (or directory) holding the policy and its repository; repeatable.",
)
@click.option("--name", help="Policy to run when the files hold several: NAME or NAMESPACE/NAME.")
@click.option(
    "--tags-from",
    "tags_from",
    type=click.File("r"),
    help="Tag list, one per line ('TAG [CREATED]'); '-' reads stdin.",
)
@click.option(
    "--state",
    "state",
    metavar="PATH|URL",
    callback=state_option,
    help="Select from the tags `scan --policies` stored in this state store instead"
    " (a path, sqlite:///PATH or postgresql://...).",
)
@click.option("--output", type=click.Choice(["text", "json"]), default="text", show_default=True)
@click.option("--now", "now_text", help="Evaluate cooldowns as of this RFC 3339 time.")
def select_command(
    policy_files: tuple[Path, ...],
    name: str | None,
    tags_from: TextIO | None,
    state: str | None,
    output: str,
    now_text: str | None,
) -> None:
    """Print the tag the policy selects from a tag list.

    Applies the repository's exclusion list, then the policy. Tags come from --tags-from or,
    with --state, from the last good scan stored by `scan --policies`. Exit 0 with the tag on
    stdout; exit 3 when nothing qualifies (reasons on stderr); exit 2 when a policy file is
    invalid.

    \b
    Example:
      printf '6.0.0\\n6.5.4\\n7.0.0\\n' | image-automation policy select \\
          --policy policies/flux/podinfo.yaml --tags-from -
    """
    if (tags_from is None) == (state is None):
        raise click.UsageError("give exactly one of --tags-from and --state")
    policy = _pick_policy(policy_files, name)
    with _gc_paused():
        try:
            now = parse_time(now_text, where="--now") if now_text else datetime.now(UTC)
            tags = _read_tags(tags_from, state, policy)
        except (TagListError, StateError) as exc:
            _fail(str(exc))
        decision = select(policy.spec, tags, now=now)
        _render(decision, tags, output)
    if decision.tag is None:
        for reason in decision.reasons or ("nothing qualifies",):
            click.echo(f"{policy.key}: {reason}", err=True)
        sys.exit(EXIT_NO_CANDIDATE)


@contextmanager
def _gc_paused() -> Iterator[None]:
    """No cyclic garbage collection while a tag list becomes a decision.

    100,000 tags become as many keys, lists and dict entries, none in a reference cycle, yet
    the collector walked the growing heap again every few hundred allocations: a quarter of
    the command's time. This process ends right after, so nothing waits to be collected.
    """
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


def _read_tags(
    tags_from: TextIO | None, state: str | None, policy: ResolvedPolicy
) -> list[str] | list[TagInfo]:
    if tags_from is not None:
        return parse_tag_list(tags_from.read(), source=tags_from.name)
    # Imported here: the state store brings asyncio, sqlite and the engine, which a
    # --tags-from run never needs.
    from image_automation.cli._state_tags import read_scanned_tags

    return read_scanned_tags(state, policy.image)


def _pick_policy(files: tuple[Path, ...], name: str | None) -> ResolvedPolicy:
    resolved = resolve(load_paths(files))
    for warning in resolved.warnings:
        click.echo(f"warning: {warning}", err=True)
    if resolved.errors:
        _fail("\n".join(str(e) for e in resolved.errors))
    candidates = resolved.find(name) if name else resolved.policies
    if not candidates:
        what = f"no policy named {name!r}" if name else "no policy"
        _fail(f"{what} in {', '.join(map(str, files))}")
    if len(candidates) > 1:
        names = ", ".join(p.key for p in candidates)
        _fail(f"the files hold {len(candidates)} policies ({names}); pick one with --name")
    return candidates[0]


def _render(decision: Decision, tags: list[str] | list[TagInfo], output: str) -> None:
    if output == "json":
        not_chosen = {**decision.skipped, **decision.lost}
        names = [t if isinstance(t, str) else t.name for t in tags]
        payload = {
            "tag": decision.tag,
            "considered": list(decision.considered),
            "skipped": {name: not_chosen[name] for name in names if name in not_chosen},
        }
        click.echo(json.dumps(payload, indent=2))
    elif decision.tag is not None:
        click.echo(decision.tag)


def _fail(message: str) -> NoReturn:
    click.echo(message, err=True)
    sys.exit(EXIT_INVALID)
