"""What a fake forge remembers between requests: PRs, comments, statuses, the request log.

Plain data, forge-neutral: each fake renders it in its own forge's shapes. States use one
vocabulary here (``open``/``closed``/``merged``; checks ``success``/``pending``/``failure``) and
each forge module maps them to its own words (GitLab ``opened``, Azure ``abandoned`` ...).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Literal

PrState = Literal["open", "closed", "merged"]
CheckState = Literal["success", "pending", "failure"]


def now() -> str:
    return dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass
class Comment:
    id: int
    body: str
    author: str
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    thread_id: int = 0  # Azure: the thread holding it


@dataclass
class PullRequest:
    number: int
    title: str
    body: str
    head: str  # branch names, without refs/heads/
    base: str
    author: str
    state: PrState = "open"
    draft: bool = False
    labels: list[str] = field(default_factory=list)
    reviewers: list[str] = field(default_factory=list)
    assignees: list[str] = field(default_factory=list)
    comments: list[Comment] = field(default_factory=list)
    auto_merge: str | None = None  # the merge method once auto-merge is on
    auto_merge_by: str = ""
    head_sha: str = ""  # kept after the branch is gone (merged, deleted)
    merge_commit_sha: str | None = None
    merged_by: str = ""
    created_at: str = field(default_factory=now)
    updated_at: str = field(default_factory=now)
    closed_at: str | None = None
    merged_at: str | None = None
    node_id: str = ""
    extra: dict[str, Any] = field(default_factory=dict)  # forge-specific leftovers

    def touch(self) -> None:
        self.updated_at = now()


@dataclass
class Status:
    """A commit status (GitHub statuses, GitLab/Gitea/Bitbucket/Azure commit statuses)."""

    id: int
    sha: str
    context: str
    state: CheckState
    description: str = ""
    target_url: str = ""
    created_at: str = field(default_factory=now)


@dataclass
class CheckRun:
    """A GitHub check run (other forges fold these into their statuses)."""

    id: int
    sha: str
    name: str
    state: CheckState
    details_url: str = ""
    started_at: str = field(default_factory=now)


@dataclass(frozen=True)
class Seen:
    """One API request as the fake received it, and what it answered."""

    method: str
    path: str  # below the API prefix, raw (percent-encoded), with the query string
    operation: str  # "METHOD /template", or "" when the description has no such operation
    operation_id: str
    status: int
    headers: Mapping[str, str]
    body: bytes


def combined(states: list[CheckState]) -> Literal["success", "pending", "failure", "none"]:
    """One verdict over many checks: any failure fails, any pending waits, none is none."""
    if not states:
        return "none"
    if "failure" in states:
        return "failure"
    if "pending" in states:
        return "pending"
    return "success"
