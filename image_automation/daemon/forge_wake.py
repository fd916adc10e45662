"""Which automations a verified forge event concerns: same repository, one of our branches.

A pull-request event names the repository in the forge's path form and the head branch. An
automation is concerned when its repository URL's path ends with that path (a self-hosted
forge may serve below a prefix, Azure DevOps Server below its collection URL) and the head
branch is its push branch, exactly or followed by ``-`` and a suffix (one branch per policy or
image when changes are grouped). Names compare case-insensitively, as the forges route them;
branch names exactly. A wake too many only runs a reconcile early; a wake missed waits for the
interval, so the rule errs towards waking.

The branch rule is a parameter: the pull-request lifecycle knows the exact head branches and
can pass its own.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from image_automation.daemon.forge_hooks import ForgeEvent, PullRequestAction

_SCP = re.compile(r"^(?:[^@/:]+@)?(?P<host>[^@/:\[\]]+):(?P<path>.*)$")
_AZURE_SSH = ("ssh.dev.azure.com", "vs-ssh.visualstudio.com")


@dataclass(frozen=True, slots=True)
class PushTarget:
    """Where an automation pushes: its repository URL and push branch (``None``: it pushes
    to the checkout branch, which is never the head of a pull request of ours)."""

    repo_url: str
    branch: str | None


BranchRule = Callable[[str, str], bool]
"""``(head_branch, push_branch) -> bool``."""


def branch_matches(head: str, push_branch: str) -> bool:
    """The push branch itself, or ``<push branch>-<suffix>``."""
    return head == push_branch or (
        len(head) > len(push_branch) + 1 and head.startswith(push_branch + "-")
    )


def url_segments(url: str) -> tuple[str, ...] | None:
    """The repository path of a remote git URL, case-folded, ``.git`` dropped; ``None`` for a
    local path. Azure DevOps' other URL forms are brought to ``org/project/_git/repo``."""
    if "://" in url:
        try:
            parts = urlsplit(url)
            host = (parts.hostname or "").lower()
        except ValueError:
            return None
        if parts.scheme.lower() == "file":
            return None
        path = parts.path
    elif match := _SCP.match(url):
        host, path = match.group("host").lower(), match.group("path")
    else:
        return None
    segments = [unquote(s).casefold() for s in path.split("/") if s]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
    if host in _AZURE_SSH and len(segments) == 4 and segments[0] == "v3":
        segments = [segments[1], segments[2], "_git", segments[3]]
    elif host.endswith(".visualstudio.com") and host not in _AZURE_SSH:
        tail = segments[1:] if segments[:1] == ["defaultcollection"] else segments
        segments = [host.split(".", 1)[0], *tail]
    return tuple(segments)


def same_repository(event_repository: str, repo_url: str) -> bool:
    """``repo_url``'s path ends with ``event_repository``'s segments."""
    wanted = tuple(s.casefold() for s in event_repository.split("/") if s)
    have = url_segments(repo_url)
    if not wanted or have is None or len(wanted) > len(have):
        return False
    return have[len(have) - len(wanted) :] == wanted


def automations_for_event(
    event: ForgeEvent,
    targets: Mapping[str, PushTarget],
    *,
    branch_rule: BranchRule = branch_matches,
) -> list[str]:
    """The automations (sorted) whose repository and push branch the event names."""
    return sorted(
        name
        for name, target in targets.items()
        if target.branch is not None
        and branch_rule(event.head_branch, target.branch)
        and same_repository(event.repository, target.repo_url)
    )


def promotions_for_event(
    event: ForgeEvent, places: Mapping[str, Sequence[tuple[str, str]]]
) -> list[str]:
    """The promotions (sorted) with a stage where the event happened: a push to a stage's
    branch, a pull request into it (merged, closed, edited: ours are among them), or a
    commit status anywhere in a stage's repository (the forge may not name the branch)."""
    woken = []
    for name, stages in places.items():
        for url, branch in stages:
            if not same_repository(event.repository, url):
                continue
            if event.action is PullRequestAction.STATUS or event.base_branch == branch:
                woken.append(name)
                break
    return sorted(woken)


__all__ = [
    "BranchRule",
    "PushTarget",
    "automations_for_event",
    "branch_matches",
    "promotions_for_event",
    "same_repository",
    "url_segments",
]
