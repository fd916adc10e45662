"""What happened to one pull request in a run, in words a report line and a metric can use."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from image_automation.domain import Change

Action = Literal[
    "opened",
    "updated",
    "unchanged",
    "closed",
    "deferred",
    "held",
    "would-open",
    "would-update",
    "would-close",
]
"""``opened``/``updated``/``closed``: a forge write happened (``updated`` also when only the
branch moved); ``unchanged``: nothing to write (or nothing to propose); ``deferred``: a
limit or the forge's rate limit held it back; ``held``: we will not touch the branch (a
human's commits on it, or a pull request that is not ours); ``would-*``: a dry run."""


@dataclass(frozen=True, slots=True)
class Settled:
    """A pull request of this head branch that was found merged or closed by someone else
    during the run (before the next one was made): the events page and alerts report it."""

    state: Literal["merged", "closed"]
    number: int
    url: str = ""


@dataclass(slots=True)
class PullRequestOutcome:
    """One head branch's pull request after a run. ``number``/``url`` when there is one;
    ``detail`` says why (``limit: ...``, ``human commits on the branch``, ``superseded by
    #7``); ``title``/``body`` are what we sent or, in a dry run, would send."""

    head: str
    action: Action
    number: int | None = None
    url: str = ""
    detail: str = ""
    title: str = ""
    body: str = ""
    changes: tuple[Change, ...] = ()
    diff: str = ""
    warnings: list[str] = field(default_factory=list)
    """The edit's warnings (markers it could not use) and the forge's (what it lacks)."""
    file_errors: list[str] = field(default_factory=list)
    """Files the edit could not read or change; the rest went into the pull request."""
    settled: list[Settled] = field(default_factory=list)
    """Earlier pull requests of this head found merged or closed (by others) in this run."""

    def summary(self) -> str:
        """``opened #3 URL``, ``deferred: limit: ...``, ``held: human commits ...``."""
        text: str = self.action
        if self.number is not None:
            text += f" #{self.number}"
        if self.url:
            text += f" {self.url}"
        if self.detail:
            text += f" ({self.detail})" if self.number is not None else f": {self.detail}"
        return text


__all__ = ["Action", "PullRequestOutcome", "Settled"]
