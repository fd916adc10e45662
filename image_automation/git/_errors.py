"""The one place where GitPython and git failures become our errors, with secrets redacted.

Every git invocation of the adapter runs inside :func:`translating`; nothing else catches
GitPython exceptions. Messages never carry a credential: the known secrets of the run are
replaced, and so is any ``user:password@`` a remote might echo back.

A remote that refuses the credential (HTTP 401/403, an SSH key it does not know) gets one line
naming the remote and the git secret, in place of git's words ("Authentication failed", or
"could not read Username" for a refused token, which reads as if none had been given).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass

import git

from image_automation.domain import redact
from image_automation.errors import GitConflict, GitError
from image_automation.git._auth import GitAuth, transport_of

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


# Trace lines (GIT_TRACE*, GIT_CURL_VERBOSE set by the user) start with a timestamp.
_TRACE_LINE = re.compile(r"^\d\d:\d\d:\d\d\.\d+ ")
_HTTP_REFUSED = re.compile(r"The requested URL returned error: (40[13])\b")
_HTTP_ASKED = ("Authentication failed for", "could not read Username", "could not read Password")


@dataclass(frozen=True, slots=True)
class Remote:
    """The remote a checkout talks to and what credential git offers it (for refusals).

    ``offers``: the secret's keys to check when it is refused; ``None`` when git has none.
    """

    url: str
    secret: str | None = None
    offers: str | None = None

    @classmethod
    def of(cls, url: str, auth: GitAuth | None) -> Remote:
        offers = None
        if auth is not None and transport_of(url) == "http":
            offers = "bearerToken" if auth.bearer_token else None
            offers = offers or ("username and password" if auth.username else None)
        elif auth is not None and auth.identity:
            offers = "identity"
        return cls(url=url, secret=auth.secret_name if auth else None, offers=offers)

    def refusal(self, stderr: str) -> str | None:
        """One line for a refused (or missing) credential in git's ``stderr``; else None."""
        transport = transport_of(self.url)
        if transport == "ssh" and "Permission denied (publickey" in stderr:
            if self.offers is None:
                return f"{self.url} refused SSH access (the git secret has no identity)"
            return (
                f"{self.url} refused {self._theirs('the SSH key')} "
                "(check its identity, and that the server knows its public key)"
            )
        if transport != "http":
            return None
        found = _HTTP_REFUSED.search(stderr)
        status = found.group(1) if found else None
        if status is None and any(text in stderr for text in _HTTP_ASKED):
            status = "401"
        if status is None:
            return None
        if self.offers is None:
            return (
                f"{self.url} asks for a credential (HTTP {status}) and none is configured; "
                "give the repository a git secret"
            )
        hint = f"check its {self.offers}"
        if status == "403":  # authenticated, but not allowed (a read-only token pushing)
            hint = "it may lack access to this repository"
        return f"{self.url} refused {self._theirs('the credential')} (HTTP {status}; {hint})"

    def _theirs(self, what: str) -> str:
        return f"{what} of git secret {self.secret!r}" if self.secret else what


def is_push_conflict(output: str) -> bool:
    """True when git's push output says the remote ref moved under us."""
    return any(marker in output for marker in _CONFLICT_MARKERS)


def _stderr(exc: git.GitCommandError) -> str:
    stderr = exc.stderr.strip() if isinstance(exc.stderr, str) else ""
    return stderr.removeprefix("stderr:").strip().strip("'").strip()


def _describe(exc: git.GitCommandError, secrets: Iterable[str]) -> str:
    lines = [
        ln
        for ln in _stderr(exc).splitlines()
        if ln.strip() and not ln.startswith("hint:") and not _TRACE_LINE.match(ln)
    ]
    detail = "; ".join(lines[-4:]) or f"exit status {exc.status}"
    return redact(detail, secrets)


@contextmanager
def translating(
    action: str, *, secrets: Iterable[str] = (), push: bool = False, remote: Remote | None = None
) -> Iterator[None]:
    """Run a git step; raise GitError (or GitConflict for a rejected push) naming ``action``.

    With ``remote``, a refused or missing credential is reported as one line naming it.
    """
    secrets = tuple(secrets)
    try:
        yield
    except git.GitCommandError as exc:
        refused = remote.refusal(_stderr(exc)) if remote is not None else None
        detail = redact(refused, secrets) if refused else _describe(exc, secrets)
        stdout = exc.stdout if isinstance(exc.stdout, str) else ""
        if push and not refused and is_push_conflict(f"{stdout}\n{exc.stderr}"):
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


__all__ = ["Remote", "is_push_conflict", "redact", "translating"]
