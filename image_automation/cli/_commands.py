"""The table of subcommands: name -> where the command lives, and its one-line help.

Commands are imported only when they run: importing them all costs aiohttp, httpx, pydantic,
GitPython and Jinja2, most of a second, which ``--version`` and ``--help`` must not pay. The
root's ``--help`` lists each command with the short help stored here; a unit test keeps these
lines equal to each command's own short help.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import click


@dataclass(frozen=True, slots=True)
class LazyCommand:
    """A command known by name before its module is imported."""

    target: str
    """``"module:attr"`` of the click command or group."""
    short_help: str
    """The command's short help, untruncated (what ``get_short_help_str`` returns)."""

    def load(self) -> click.Command:
        module, _, attr = self.target.partition(":")
        command: click.Command = getattr(importlib.import_module(module), attr)
        return command


COMMANDS: dict[str, LazyCommand] = {
    "explain": LazyCommand(
        "image_automation.cli._explain:explain_command",
        "Show the decision trace of NS:POLICY: every tag's fate, gates, Git, the next change.",
    ),
    "hold": LazyCommand(
        "image_automation.cli._hold:hold_group",
        "List or release rollback holds (a policy kept at a human's version).",
    ),
    "policy": LazyCommand(
        "image_automation.cli._policy:policy_group",
        "Work with image policies (Flux ImagePolicy + ImageRepository, or native TrackedImage).",
    ),
    "promote": LazyCommand(
        "image_automation.cli._promote:promote",
        "Open or update the promotion pull requests that are due, once.",
    ),
    "reconcile": LazyCommand(
        "image_automation.cli._reconcile:reconcile",
        "Update every automation found in --repo (and --config) once.",
    ),
    "run": LazyCommand(
        "image_automation.cli._run:run_command",
        "Keep --repo up to date: scan on a schedule, react to webhooks, serve health and metrics.",
    ),
    "scan": LazyCommand(
        "image_automation.cli._scan:scan",
        "List every tag of IMAGE's repository (all pages; invalid tags dropped).",
    ),
    "status": LazyCommand(
        "image_automation.cli._status:status_command",
        "Show repositories, policies and automations from the state store or a daemon.",
    ),
    "update": LazyCommand(
        "image_automation.cli._update:update",
        'Set every value marked {"$imagepolicy": "NS:NAME[:tag|:name|:digest]"} under PATH.',
    ),
    "validate": LazyCommand(
        "image_automation.cli._validate:validate_command",
        "Check policy and automation files; list every problem as FILE:LINE: FIELD: MESSAGE.",
    ),
}


def register(group: click.Group) -> None:
    """Attach every subcommand to ``group`` now, importing them all (idempotent).

    The root needs no registration (it loads commands by name); this is for callers that want
    another group, or every command imported up front.
    """
    for name, entry in COMMANDS.items():
        if name not in group.commands:
            group.add_command(entry.load(), name)
