"""Unified diffs in git's format, so ``patch -p1`` and ``git apply`` take what a dry run prints.

Pure: a repository-relative path and two byte strings in, text out. Shared by ``update
--dry-run`` and ``reconcile --dry-run`` (both through :func:`update_tree`). Git's rules:

* labels are ``a/PATH`` and ``b/PATH``; a label holding a space ends with a TAB, so a reader
  can tell where the name stops (GNU diff puts a TAB and a date there; git only the TAB);
* a name holding ``"``, ``\\`` or a control character is written as a C string in double
  quotes (``"a/t\\tab.yaml"``), as git does; UTF-8 is kept as is (git's
  ``core.quotePath=false``), an undecodable byte becomes an octal escape;
* lines end at ``\\n`` only (``\\r`` stays in the line); a last line without one is followed by
  ``\\ No newline at end of file`` instead of gaining a newline.
"""

from __future__ import annotations

import difflib

_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\t": "\\t",
    "\n": "\\n",
    "\v": "\\v",
    "\f": "\\f",
    "\r": "\\r",
    '"': '\\"',
    "\\": "\\\\",
}
_NO_NEWLINE = "\\ No newline at end of file\n"


def unified_diff(path: str, old: bytes, new: bytes) -> str:
    """The diff of one file at ``path`` (POSIX, relative to the repository root)."""
    before = _lines(old.decode("utf-8", "replace"))
    after = _lines(new.decode("utf-8", "replace"))
    out: list[str] = []
    for line in difflib.unified_diff(
        before, after, diff_label("a/", path), diff_label("b/", path), lineterm="\n"
    ):
        out.append(line if line.endswith("\n") else line + "\n" + _NO_NEWLINE)
    return "".join(out)


def diff_label(prefix: str, path: str) -> str:
    """``prefix + path`` as git writes it on a ``---``/``+++`` line (without the marker)."""
    name = prefix + path
    if any(_needs_quote(char) for char in name):
        name = '"' + "".join(_escape(char) for char in name) + '"'
    return name + "\t" if " " in name else name


def _needs_quote(char: str) -> bool:
    code = ord(char)
    return char in _ESCAPES or code < 0x20 or code == 0x7F or 0xDC80 <= code <= 0xDCFF


def _escape(char: str) -> str:
    if char in _ESCAPES:
        return _ESCAPES[char]
    code = ord(char)
    if 0xDC80 <= code <= 0xDCFF:  # os.fsdecode's stand-in for an undecodable byte
        return f"\\{code - 0xDC00:03o}"
    return f"\\{code:03o}" if code < 0x20 or code == 0x7F else char


def _lines(text: str) -> list[str]:
    """``text`` cut after each ``\\n`` only (``str.splitlines`` also cuts at U+2028, FF, ...)."""
    lines = [part + "\n" for part in text.split("\n")]
    last = lines.pop()[:-1]
    if last:
        lines.append(last)
    return lines


__all__ = ["diff_label", "unified_diff"]
