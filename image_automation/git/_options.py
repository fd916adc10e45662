"""Frozen settings for checkout, commit and push, and the outcome of a publish."""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass

from image_automation.domain import UpdateResult
from image_automation.errors import ConfigError
from image_automation.git._signing import SigningKey
from image_automation.git.messages import MessageTemplate

# Conservative subset of git-check-ref-format: no leading "-" (would read as an option), no
# whitespace, control characters, "..", "@{", or characters git forbids in ref names.
_BAD_REF = re.compile(r"^-|\.\.|@\{|[\x00-\x20\x7f~^:?*\[\\]|/$|\.lock$|^/|//")


def check_branch(name: str, what: str) -> None:
    """Raise ConfigError naming ``what`` when ``name`` is not a safe branch name."""
    if not name or _BAD_REF.search(name):
        raise ConfigError(f"{what} {name!r} is not a valid branch name")


@dataclass(frozen=True, slots=True)
class RepoSpec:
    """Which repository and branch to check out, and how much of it.

    ``depth``: fetch only that many commits (shallow); ``None`` fetches full history.
    ``sparse_paths``: directories to check out (cone mode); empty checks out everything.
    """

    url: str
    branch: str = "main"
    depth: int | None = None
    sparse_paths: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        check_branch(self.branch, "checkout branch")
        if self.url.startswith("-"):
            raise ConfigError(f"git URL {self.url!r} is not a URL")
        if self.depth is not None and self.depth < 1:
            raise ConfigError("shallow depth must be at least 1")
        for path in self.sparse_paths:
            if path.startswith(("-", "/")) or ".." in path.split("/"):
                raise ConfigError(f"sparse checkout path {path!r} must be relative, inside repo")


@dataclass(frozen=True, slots=True)
class CommitSettings:
    """Author (also used as committer), message template, signing.

    ``message_template``: Jinja2 source, a parsed Flux Go template
    (:func:`image_automation.git.flux_messages.parse_template`), or None for the default.
    """

    author_name: str = "image-automation"
    author_email: str = "image-automation@localhost"
    message_template: str | MessageTemplate | None = None
    signing: SigningKey | None = None


@dataclass(frozen=True, slots=True)
class PushSettings:
    """Where to push and how hard to try.

    ``branch``: push branch; ``None`` pushes to the checkout branch. A push branch that exists
    on the remote is worked on top of; with ``force`` it is instead recreated from the checkout
    branch and force-pushed (with a lease on the value we fetched, so a concurrent update is
    never lost silently). ``refspec``: an extra refspec pushed atomically with the branch
    (alone when ``branch`` is None), e.g. ``HEAD:refs/for/main``.
    ``attempts``: total tries when the remote moved; ``backoff``: seconds before the second
    try, doubled each time up to ``max_backoff`` seconds. ``options``: push options sent with
    every push (``git push -o OPTION``), e.g. ``merge_request.create`` for GitLab; the server
    must advertise support or the push fails.
    """

    branch: str | None = None
    force: bool = False
    refspec: str | None = None
    options: tuple[str, ...] = ()
    attempts: int = 5
    backoff: float = 0.5
    max_backoff: float = 30.0

    def __post_init__(self) -> None:
        if self.branch is not None:
            check_branch(self.branch, "push branch")
        if self.refspec is not None and (not self.refspec or self.refspec.startswith("-")):
            raise ConfigError(f"push refspec {self.refspec!r} is not a refspec")
        if self.attempts < 1:
            raise ConfigError("push attempts must be at least 1")
        for option in self.options:
            if not option or "\n" in option or "\0" in option:
                raise ConfigError(f"push option {option!r}: empty or has a newline/NUL")

    @staticmethod
    def options_from(mapping: Mapping[str, str] | None) -> tuple[str, ...]:
        """Flux's ``push.options``: ``{key: value}`` → ``key=value``; an empty value → ``key``."""
        return tuple(f"{k}={v}" if v else k for k, v in (mapping or {}).items())


@dataclass(frozen=True, slots=True)
class PublishResult:
    """What :meth:`Workspace.publish` did.

    ``commit`` is the pushed commit or ``None`` when the update changed nothing; ``result`` is
    the update of the last attempt; ``refs`` are the remote refs written.
    """

    commit: str | None
    result: UpdateResult
    attempts: int
    refs: tuple[str, ...] = ()


__all__ = ["CommitSettings", "PublishResult", "PushSettings", "RepoSpec", "check_branch"]
