"""Read-only views of marked lines in a cached clone: at a ref, and over its history.

The status page shows what Git has for each policy and when each value landed. Both come from
the clone the daemon already keeps (no fetch, no lock: git's object store is safe to read
while another process writes it). ``git grep`` at the ref gives today's marked lines;
``git log -G`` over the first-parent chain gives the commits that added a marked line, newest
first, with zero lines of context. Parsing the markers is the caller's business (manifests).

Bounded: at most ``max_commits`` commits are read, a line longer than :data:`MAX_LINE` is
dropped, and the output is streamed rather than held whole.
"""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from image_automation.errors import GitError

MARKER = b"$imagepolicy"
MAX_LINE = 16 * 1024
MAX_COMMITS = 500
_SEP = b"\x1e"
_ENV = {
    "GIT_TERMINAL_PROMPT": "0",
    "GIT_CONFIG_NOSYSTEM": "1",
    "LC_ALL": "C",
    "PATH": "/usr/bin:/bin",
}


@dataclass(frozen=True, slots=True)
class MarkedLine:
    """A line mentioning the marker: ``file`` (repository-relative) and its text."""

    file: str
    text: str
    line: int = 0


@dataclass(frozen=True, slots=True)
class MarkedCommit:
    """A commit of the first-parent chain and the marked lines its diff adds."""

    sha: str
    committed_at: datetime
    subject: str
    added: tuple[MarkedLine, ...]


@dataclass(frozen=True, slots=True)
class MarkedLog:
    """Newest first. ``complete``: the whole chain was read (else only ``max_commits``)."""

    commits: tuple[MarkedCommit, ...]
    complete: bool


def _stream(repo: Path, *args: str) -> Iterator[bytes]:
    """Lines of ``git args`` run in ``repo``; a failure is a ``GitError`` naming the step."""
    argv = ["git", "-C", str(repo), "-c", "core.quotePath=false", *args]
    try:
        proc = subprocess.Popen(  # a fixed argv, no shell
            argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=_ENV
        )
    except OSError as exc:
        raise GitError(f"cannot run git: {exc.strerror or exc}") from exc
    assert proc.stdout is not None and proc.stderr is not None
    try:
        yield from proc.stdout
    finally:
        proc.stdout.close()
        err = proc.stderr.read().decode("utf-8", "replace").strip()
        proc.stderr.close()
        status = proc.wait()
    if status not in (0, 1):  # git grep: 1 is "no match"
        raise GitError(f"git {args[0]} in {repo.name} failed: {err.splitlines()[-1:] or status}")


def marked_lines_at(repo: Path, *, ref: str) -> list[MarkedLine]:
    """Every line mentioning the marker in the tree of ``ref`` (binary files skipped)."""
    _check_ref(ref)
    prefix = f"{ref}:".encode()
    found: list[MarkedLine] = []
    for raw in _stream(repo, "grep", "-z", "-n", "-I", "-F", "-e", MARKER.decode(), ref, "--"):
        if len(raw) > MAX_LINE or not raw.startswith(prefix):
            continue
        parts = raw[len(prefix) :].rstrip(b"\r\n").split(b"\0", 2)
        if len(parts) != 3 or not parts[1].isdigit():
            continue
        found.append(MarkedLine(_text(parts[0]), _text(parts[2]), int(parts[1])))
    return found


def marked_log(repo: Path, *, ref: str, max_commits: int = MAX_COMMITS) -> MarkedLog:
    """The commits on ``ref``'s first-parent chain that add a marked line, newest first."""
    _check_ref(ref)
    args = ("log", "--first-parent", "--diff-merges=first-parent", "-G", r"\$imagepolicy",
            "-p", "--unified=0", "--no-color", "--no-ext-diff", "--no-renames", "--no-textconv",
            f"--max-count={max_commits + 1}", "--format=%x1e%H %ct %s", ref, "--")  # fmt: skip
    commits: list[MarkedCommit] = []
    head: tuple[str, datetime, str] | None = None
    added: list[MarkedLine] = []
    file = ""
    for raw in _stream(repo, *args):
        if raw.startswith(_SEP):
            if head is not None:
                commits.append(MarkedCommit(*head, tuple(added)))
            head, added, file = _header(raw[1:]), [], ""
        elif raw.startswith(b"+++ "):
            # git ends the name with a tab when it holds a blank (for patch(1)'s sake)
            file = _text(raw[4:].rstrip(b"\r\n").removesuffix(b"\t")).removeprefix("b/")
        elif raw.startswith(b"+") and MARKER in raw and len(raw) <= MAX_LINE:
            added.append(MarkedLine(file, _text(raw[1:].rstrip(b"\r\n"))))
    if head is not None:
        commits.append(MarkedCommit(*head, tuple(added)))
    complete = len(commits) <= max_commits
    return MarkedLog(tuple(commits[:max_commits]), complete)


def _header(raw: bytes) -> tuple[str, datetime, str]:
    sha, _, rest = _text(raw.rstrip(b"\r\n")).partition(" ")
    stamp, _, subject = rest.partition(" ")
    when = datetime.fromtimestamp(int(stamp), UTC) if stamp.isdigit() else datetime.min
    return sha, when.replace(tzinfo=UTC), subject


def _text(raw: bytes) -> str:
    return raw.decode("utf-8", "replace")


def _check_ref(ref: str) -> None:
    if not ref or ref.startswith("-") or any(c in ref for c in " \t\n\0:"):
        raise GitError(f"{ref!r} is not a ref")


__all__ = [
    "MAX_COMMITS",
    "MarkedCommit",
    "MarkedLine",
    "MarkedLog",
    "marked_lines_at",
    "marked_log",
]
