"""Everything the status views show, read in one go: state store records and Git's values.

The status page and ``image-automation status`` build their views (pure, in
:mod:`image_automation.daemon.status.model`) from one :class:`StatusInputs`. Reading it is the
only I/O: the store's scans, decisions, pushes and pull requests, and, when a clone is at hand,
the values the marked lines hold at the branch head and the commits that set them. A source
that cannot be read leaves its part empty and says why in ``problems``; the rest still shows.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from image_automation.domain import Hold
from image_automation.domain.events import EventQuery, StoredEvent
from image_automation.errors import ImageAutomationError
from image_automation.git import MarkedLine, marked_lines_at, marked_log
from image_automation.manifests.markers import find_marker_comments
from image_automation.policy import MarkedValue, Trace, build_trace
from image_automation.state import (
    IgnoredVersion,
    PullRequestRecord,
    PushRecord,
    ScanStatus,
    StateStore,
    StoredDecision,
)

HISTORY_COMMITS = 500
"""How many marker-changing commits the timeline reads at most."""
EVENTS = 500
"""How many of the newest events the events page filters."""
PUSHES = 200
"""How many of the latest pushes (of every automation) the views read."""


@dataclass(frozen=True, slots=True)
class GitValue:
    """A value a marked line holds: ``policy`` is ``namespace/name``, ``field`` the suffix."""

    policy: str
    field: str
    value: str
    file: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class GitVersion:
    """A commit that set a value for ``policy``."""

    policy: str
    field: str
    value: str
    file: str
    commit: str
    committed_at: datetime
    subject: str


@dataclass(frozen=True, slots=True)
class StatusInputs:
    """The records the status views are built from (sorted as the store returns them)."""

    scans: Sequence[ScanStatus] = ()
    decisions: Sequence[StoredDecision] = ()
    pushes: Sequence[PushRecord] = ()
    pull_requests: Sequence[PullRequestRecord] = ()
    ignored: Sequence[IgnoredVersion] = ()
    git_values: Sequence[GitValue] = ()
    git_history: Sequence[GitVersion] = ()
    history_complete: bool = True
    holds: Sequence[Hold] = ()
    events: Sequence[StoredEvent] = ()
    """The newest :data:`EVENTS` of the event log, newest first."""
    problems: Sequence[str] = field(default_factory=tuple)


def marked_values(line: MarkedLine) -> list[GitValue]:
    """The (policy, value) a marked line sets; nothing for a malformed marker or no value.

    The value is the YAML scalar before the comment: ``key: value`` or a list item ``- value``,
    unquoted.
    """
    out: list[GitValue] = []
    for comment in find_marker_comments(line.text):
        if comment.setter is None:
            continue
        before = line.text[comment.line_start : comment.comment_start].strip()
        if before.startswith("- "):
            before = before[2:].strip()
        _, sep, rest = before.partition(": ")
        value = rest if sep else ("" if before.endswith(":") else before)
        value = value.strip().strip("'\"")
        if value:
            setter = comment.setter
            policy = f"{setter.namespace}/{setter.policy}"
            out.append(GitValue(policy, setter.field, value, line.file, line.line))
    return out


async def read_status_inputs(
    store: StateStore, *, checkout: Path | None = None, ref: str = "HEAD"
) -> StatusInputs:
    """Read every record the views need; Git's part only when ``checkout`` exists."""
    problems: list[str] = []
    scans = await store.scan_statuses()
    decisions = await store.decisions()
    prs = await store.pull_requests()
    automations = sorted({d.automation for d in prs})
    pushes = await store.recent_pushes(limit=PUSHES)
    holds = await store.holds()
    events = await store.events(EventQuery(limit=EVENTS))
    ignored = [i for a in automations for i in await store.ignored_versions(a)]
    values: list[GitValue] = []
    history: list[GitVersion] = []
    complete = True
    if checkout is not None and (checkout / ".git").exists():
        try:
            values, history, complete = await asyncio.to_thread(_read_git, checkout, ref)
        except ImageAutomationError as exc:
            problems.append(f"git history: {exc}")
    return StatusInputs(
        scans=scans, decisions=decisions, pushes=pushes, pull_requests=prs, ignored=ignored,
        git_values=values, git_history=history, history_complete=complete, holds=holds,
        events=events, problems=problems,
    )  # fmt: skip


async def read_trace(
    store: StateStore, inputs: StatusInputs, policy: str, *, now: datetime
) -> Trace | None:
    """``explain``'s trace of ``policy`` from the stored decision and last good scan (no
    workspace, no scan: the page must not touch the daemon's checkout); ``None`` without a
    stored decision."""
    stored = next((d for d in inputs.decisions if d.policy == policy), None)
    if stored is None:
        return None
    status = await store.scan_status(stored.repository)
    tags = await store.tags(stored.repository) if status and status.last_success else []
    git = [MarkedValue("", v.file, v.line, _setter(v), v.value)
           for v in inputs.git_values if v.policy == policy]  # fmt: skip
    return build_trace(
        policy=policy, image=stored.repository, source="state", now=now, tags=tags,
        decision=stored.decision, scanned_at=status.last_success if status else None,
        scan_error=status.last_error if status else None, git=git,
    )  # fmt: skip


def _setter(value: GitValue) -> str:
    namespace, _, name = value.policy.partition("/")
    return ":".join(p for p in (namespace, name, value.field) if p)


def _read_git(checkout: Path, ref: str) -> tuple[list[GitValue], list[GitVersion], bool]:
    values = [v for line in marked_lines_at(checkout, ref=ref) for v in marked_values(line)]
    log = marked_log(checkout, ref=ref, max_commits=HISTORY_COMMITS)
    history = [
        GitVersion(v.policy, v.field, v.value, v.file, c.sha, c.committed_at, c.subject)
        for c in log.commits
        for line in c.added
        for v in marked_values(line)
    ]
    return values, history, log.complete


__all__ = [
    "EVENTS",
    "HISTORY_COMMITS",
    "GitValue",
    "GitVersion",
    "StatusInputs",
    "marked_values",
    "read_status_inputs",
    "read_trace",
]
