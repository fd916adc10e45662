"""The history of marked lines: which commit on a branch set which ``$imagepolicy`` value.

A promotion asks git, not its own state, when a value landed in a stage, so a human's commit
counts as much as ours, and whether the stage ever moved back from a value (a rollback). One
``git log`` per stage answers both: the branch's first-parent chain (the commits that
*landed* on it, a merge counted when it was merged, with its diff against the branch),
restricted by ``-G`` to commits adding or removing a line that mentions ``$imagepolicy``
under the stage's path, newest first, with zero lines of context. Only the marked lines of
each diff are kept; the output is streamed, never held whole.

Bounded: at most ``max_commits`` commits are read (the oldest one read is reported, so a
caller knows how far back it saw), a marked line longer than :data:`MAX_LINE` is dropped.
"""

from __future__ import annotations

import re
from collections.abc import Generator
from dataclasses import dataclass
from datetime import UTC, datetime

from image_automation.errors import GitError
from image_automation.git._checkout import REMOTE, Checkout
from image_automation.git._options import check_branch

MARKER = b"$imagepolicy"
MAX_LINE = 16 * 1024
MAX_COMMITS = 2000
_SEP = b"\x1e"
_SHA = re.compile(rb"[0-9a-f]{40}(?:[0-9a-f]{24})?")


@dataclass(frozen=True, slots=True)
class MarkedLine:
    """One added (``+``) or removed (``-``) line mentioning the marker, in ``file``."""

    file: str
    sign: str
    text: str


@dataclass(frozen=True, slots=True)
class HistoryCommit:
    """A commit of the first-parent chain and the marked lines its diff adds or removes."""

    sha: str
    committed_at: datetime
    committer: str
    lines: tuple[MarkedLine, ...]


@dataclass(frozen=True, slots=True)
class MarkedHistory:
    """Newest first. ``complete``: the whole chain was read (else only ``max_commits``)."""

    commits: tuple[HistoryCommit, ...]
    complete: bool


def marked_history(
    checkout: Checkout, *, branch: str, path: str, max_commits: int = MAX_COMMITS
) -> MarkedHistory:
    """The marked-line history of ``path`` on the fetched ``branch`` (its tracking ref)."""
    check_branch(branch, "branch")
    pathspec = "." if path in ("", ".", "./") else path
    if pathspec.startswith("-"):
        raise GitError(f"history of {path!r}: not a path")
    args = (
        "-c", "core.quotePath=false", "log", "--first-parent", "--diff-merges=first-parent",
        "-G", r"\$imagepolicy", "-p", "--unified=0", "--no-color", "--no-ext-diff",
        "--no-renames", "--no-textconv", f"--max-count={max_commits + 1}",
        "--format=%x1e%H %ct %ce", f"refs/remotes/{REMOTE}/{branch}", "--", pathspec,
    )  # fmt: skip
    parser = _Parser()
    lines: Generator[bytes, None, None] = checkout.stream_git(
        *args, action=f"read the history of {pathspec}"
    )
    try:
        for raw in lines:
            parser.feed(raw)
            if len(parser.commits) > max_commits:
                break
    finally:
        lines.close()
    parser.finish()
    commits = parser.commits
    complete = len(commits) <= max_commits
    return MarkedHistory(tuple(commits[:max_commits]), complete)


class _Parser:
    def __init__(self) -> None:
        self.commits: list[HistoryCommit] = []
        self._head: tuple[str, datetime, str] | None = None
        self._lines: list[MarkedLine] = []
        self._old: str = ""
        self._file: str = ""

    def feed(self, raw: bytes) -> None:
        line = raw.rstrip(b"\n")
        if line.startswith(_SEP):
            self.finish()
            self._head = _header(line[1:])
            self._old = self._file = ""
        elif line.startswith(b"--- "):
            self._old = _path(line[4:], b"a/")
        elif line.startswith(b"+++ "):
            new = _path(line[4:], b"b/")
            self._file = new or self._old
        elif (
            line[:1] in (b"+", b"-") and MARKER in line and len(line) <= MAX_LINE
            and self._head is not None and self._file
        ):  # fmt: skip
            text = line[1:].decode("utf-8", "replace")
            self._lines.append(MarkedLine(self._file, chr(line[0]), text))

    def finish(self) -> None:
        if self._head is not None:
            sha, when, who = self._head
            self.commits.append(HistoryCommit(sha, when, who, tuple(self._lines)))
        self._head, self._lines = None, []


def _header(text: bytes) -> tuple[str, datetime, str]:
    sha, _, rest = text.partition(b" ")
    stamp, _, who = rest.partition(b" ")
    if not _SHA.fullmatch(sha) or not stamp.isdigit():
        raise GitError("read history failed: unexpected git log output")
    when = datetime.fromtimestamp(int(stamp), tz=UTC)
    return sha.decode(), when, who.decode("utf-8", "replace")[:256]


def _path(text: bytes, prefix: bytes) -> str:
    """A ``--- a/x`` / ``+++ b/x`` path ("" for /dev/null); C-quoted names unquoted."""
    text = text.split(b"\t", 1)[0]
    if text.startswith(b'"') and text.endswith(b'"'):
        text = _unquote(text[1:-1])
    if text == b"/dev/null" or not text.startswith(prefix):
        return ""
    return text[len(prefix) :].decode("utf-8", "replace")


_ESCAPES = {b"n": b"\n", b"t": b"\t", b'"': b'"', b"\\": b"\\", b"a": b"\a", b"b": b"\b",
            b"f": b"\f", b"r": b"\r", b"v": b"\v"}  # fmt: skip


def _unquote(text: bytes) -> bytes:
    out, i = bytearray(), 0
    while i < len(text):
        if text[i : i + 1] == b"\\" and i + 1 < len(text):
            nxt = text[i + 1 : i + 2]
            digits = re.match(rb"[0-7]{1,3}", text[i + 1 : i + 4])
            if digits:
                out.append(int(digits.group(), 8) & 0xFF)
                i += 1 + len(digits.group())
                continue
            out += _ESCAPES.get(nxt, nxt)
            i += 2
            continue
        out += text[i : i + 1]
        i += 1
    return bytes(out)


__all__ = ["MAX_COMMITS", "HistoryCommit", "MarkedHistory", "MarkedLine", "marked_history"]
