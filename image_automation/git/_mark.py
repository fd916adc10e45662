"""The clean mark: a note in ``.git`` that the last run left its checkout clean.

Why: repairing a work dir that a killed run may have left behind (health checks, ``reset
--hard``, ``clean -ffdx``) costs five git processes, and a webhook waits for them. A run that
ends normally with a tree git has shown to hold nothing untracked or ignored writes the mark
when it lets go of the work dir; the next run takes (deletes) it before touching anything and
skips the repair when it still fits. So a run killed at any point leaves no mark, and the run
after it repairs in full.

The mark records the settings the checkout was verified for and a snapshot of ``HEAD`` and of
the index file's identity (inode, size, times), which any git command that touches the
index or moves ``HEAD`` changes. A lock file or the state of a merge, rebase, cherry-pick or
revert voids it as well. Only plain file reads here: no git process.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Any

log = logging.getLogger(__name__)

MARK = "image-automation-clean"
_SHA = re.compile(r"[0-9a-f]{40}(?:[0-9a-f]{24})?")
LEFTOVER_STATE = (
    "MERGE_HEAD",
    "CHERRY_PICK_HEAD",
    "REVERT_HEAD",
    "rebase-merge",
    "rebase-apply",
    "sequencer",
)
"""Files and directories of an operation in progress; we never start one, so any is left over
from someone else and the repair path removes it."""


def read_ref(git_dir: Path, ref: str) -> str | None:
    """The object id ``ref`` (``refs/...``) holds, from its loose file or ``packed-refs``.

    ``None`` when it is missing or not a plain object id (e.g. a symbolic ref): callers then
    ask git, which knows every case.
    """
    try:
        text = (git_dir / ref).read_text(encoding="ascii").strip()
    except (OSError, UnicodeDecodeError):
        text = ""
    if text:
        return text if _SHA.fullmatch(text) else None
    try:
        packed = (git_dir / "packed-refs").read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in packed.splitlines():
        sha, _, name = line.partition(" ")
        if name == ref and _SHA.fullmatch(sha):
            return sha
    return None


def read_head(git_dir: Path) -> str | None:
    """The commit ``HEAD`` points at (through its branch), or ``None`` if unreadable."""
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    if head.startswith("ref: "):
        return read_ref(git_dir, head.removeprefix("ref: ").strip())
    return head if _SHA.fullmatch(head) else None


def leftovers(git_dir: Path) -> list[Path]:
    """Lock files and operation states under ``git_dir`` (a killed git leaves these)."""
    locks = [*git_dir.glob("*.lock"), *(git_dir / "refs").rglob("*.lock")]
    states = (git_dir / name for name in LEFTOVER_STATE)
    return [*locks, *(p for p in states if p.exists() or p.is_symlink())]


def _snapshot(git_dir: Path) -> dict[str, Any] | None:
    try:
        head = (git_dir / "HEAD").read_text(encoding="utf-8")
        index = (git_dir / "index").stat()
    except (OSError, UnicodeDecodeError):
        return None
    sha = read_head(git_dir)
    if sha is None:
        return None
    identity = [index.st_ino, index.st_size, index.st_mtime_ns, index.st_ctime_ns]
    return {"head": head, "sha": sha, "index": identity}


def leave_mark(git_dir: Path, settings: Sequence[Any]) -> None:
    """Write the mark for a checkout that is clean now (the caller has made sure of it)."""
    snapshot = _snapshot(git_dir)
    if snapshot is None:
        return
    tmp = git_dir / f"{MARK}.tmp"
    tmp.write_text(json.dumps({"settings": list(settings), **snapshot}), encoding="utf-8")
    os.replace(tmp, git_dir / MARK)  # all or nothing: a half-written mark is never read


def take_mark(git_dir: Path, settings: Sequence[Any]) -> str | None:
    """Delete the mark; ``None`` if it vouched for this checkout, else why it did not."""
    path = git_dir / MARK
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return "no clean mark from a finished run"
    except (OSError, UnicodeDecodeError) as exc:
        text = f"unreadable: {exc}"
    path.unlink(missing_ok=True)  # from here on a killed run leaves no mark
    try:
        data = json.loads(text)
    except ValueError:
        return "clean mark unreadable"
    if not isinstance(data, dict) or data.pop("settings", None) != list(settings):
        return "checkout settings changed"
    found = leftovers(git_dir)
    if found:
        return f"left over: {', '.join(sorted(p.name for p in found))}"
    if _snapshot(git_dir) != data:
        return "HEAD or index changed since the last run"
    return None


__all__ = [
    "LEFTOVER_STATE",
    "MARK",
    "leave_mark",
    "leftovers",
    "read_head",
    "read_ref",
    "take_mark",
]
