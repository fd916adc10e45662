"""The one place where GitPython and git failures become our errors, with secrets redacted.

Every git invocation of the adapter runs inside :func:`translating`; nothing else catches
GitPython exceptions. Messages never carry a credential: the known secrets of the run are
replaced, and so is any ``user:password@`` a remote might echo back.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator
from contextlib import contextmanager

import git

from image_automation.domain import redact
from image_automation.errors import GitConflict, GitError

# Push outcomes that mean "the remote moved": fetch, re-apply and try again.
_CONFLICT_MARKERS = (
    "[rejected]",
    "(fetch first)",
    "(non-fast-forward)",
    "(stale info)",
    "cannot lock ref",
    "failed to update ref",
    "incorrect old value provided",
)


def is_push_conflict(output: str) -> bool:
    """True when git's push output says the remote ref moved under us."""
    return any(marker in output for marker in _CONFLICT_MARKERS)


def _describe(exc: git.GitCommandError, secrets: Iterable[str]) -> str:
    stderr = exc.stderr.strip() if isinstance(exc.stderr, str) else ""
    stderr = stderr.removeprefix("stderr:").strip().strip("'").strip()
    lines = [ln for ln in stderr.splitlines() if ln.strip() and not ln.startswith("hint:")]
    detail = "; ".join(lines[-4:]) or f"exit status {exc.status}"
    return redact(detail, secrets)


@contextmanager
def translating(action: str, *, secrets: Iterable[str] = (), push: bool = False) -> Iterator[None]:
    """Run a git step; raise GitError (or GitConflict for a rejected push) naming ``action``."""
    secrets = tuple(secrets)
    try:
        yield
    except git.GitCommandError as exc:
        detail = _describe(exc, secrets)
        stdout = exc.stdout if isinstance(exc.stdout, str) else ""
        if push and is_push_conflict(f"{stdout}\n{exc.stderr}"):
            raise GitConflict(f"{action}: remote moved: {detail}", delay=1.0) from _scrubbed(
                exc, secrets
            )
        raise GitError(f"{action} failed: {detail}") from _scrubbed(exc, secrets)
    except (git.InvalidGitRepositoryError, git.NoSuchPathError) as exc:
        raise GitError(f"{action} failed: not a git checkout: {redact(str(exc), secrets)}") from exc
    except git.GitError as exc:
        raise GitError(f"{action} failed: {redact(str(exc), secrets)}") from exc
    except OSError as exc:
        raise GitError(f"{action} failed: {redact(str(exc), secrets)}") from exc


def _scrubbed(exc: git.GitCommandError, secrets: tuple[str, ...]) -> Exception:
    """The cause to chain: GitPython's own text (command line, output) with secrets removed.

    A traceback prints the chained cause; GitPython's message contains the command line and
    output verbatim, so the original exception is replaced by a redacted copy.
    """
    copy = GitError(redact(str(exc), secrets))
    copy.__traceback__ = exc.__traceback__
    return copy


__all__ = ["is_push_conflict", "redact", "translating"]
