"""User regular expressions with RE2 semantics, and Go ``Regexp.Expand`` templates.

Flux evaluates ``filterTags.pattern`` and exclusion lists with Go's RE2-based ``regexp``; a user
pattern must therefore mean the same here and must run in linear time on any tag, so we compile
with ``google-re2`` and refuse what RE2 refuses (backreferences, lookaround).

Calling RE2 from Python costs microseconds per tag, so the ubiquitous default exclusion
``^.*\\.sig$`` (and any ``^.*<literal>$``) is answered with ``str.endswith`` instead; the answer
is the same because ``.`` matches everything but ``\\n`` and ``$`` only matches at the very end.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import re2

_OPTIONS = re2.Options()
_OPTIONS.log_errors = False  # RE2 would otherwise print every refused pattern to stderr

_LITERAL_SUFFIX = re.compile(r"\^\.\*((?:\\[^0-9A-Za-z\s]|[0-9A-Za-z_-])+)\$")
_NAME_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")


class InvalidPattern(ValueError):
    """A regular expression RE2 refuses; the message is RE2's."""


def compile_pattern(pattern: str) -> Any:
    """Compile ``pattern`` with RE2; raises :class:`InvalidPattern` with RE2's reason."""
    try:
        return re2.compile(pattern, _OPTIONS)
    except re2.error as exc:
        reason = exc.args[0] if exc.args else exc
        if isinstance(reason, bytes):
            reason = reason.decode("utf-8", "replace")
        raise InvalidPattern(f"invalid pattern {pattern!r}: {reason}") from exc


def utf8(text: str) -> bytes:
    """``text`` as the bytes RE2 reads. The binding encodes a ``str`` itself and then maps byte
    offsets back to characters in Python, which costs about 3x the search; with bytes in, only
    the extracted group is decoded (:meth:`Template.expand`). Same matches: RE2 reads UTF-8."""
    return text.encode("utf-8", "surrogatepass")


class Matcher:
    """A compiled user pattern that finds the tags it matches (RE2 search semantics)."""

    __slots__ = ("_search", "pattern", "suffix")

    def __init__(self, pattern: str) -> None:
        self.pattern = pattern
        self._search = compile_pattern(pattern).search  # validate even when the shortcut answers
        literal = _LITERAL_SUFFIX.fullmatch(pattern)
        self.suffix = re.sub(r"\\(.)", r"\1", literal.group(1)) if literal else None

    def __call__(self, tag: str) -> bool:
        if self.suffix is not None:
            return tag.endswith(self.suffix) and "\n" not in tag
        return self._search(utf8(tag)) is not None

    def hits(self, tags: list[str], *, joined: str) -> list[str]:
        """The tags this pattern matches. ``joined`` may be ``"\n".join(tags) + "\n"``: then a
        literal-suffix pattern that occurs nowhere in it is answered without a pass over tags."""
        suffix = self.suffix
        if suffix is not None:
            if joined and suffix + "\n" not in joined:
                return []
            return [t for t in tags if t.endswith(suffix) and "\n" not in t]
        search = self._search
        return [t for t in tags if search(utf8(t)) is not None]


@dataclass(frozen=True, slots=True)
class Template:
    """A parsed expansion template: literal text and group numbers (``None`` = always empty)."""

    parts: tuple[str | int, ...]
    unknown: tuple[str, ...]
    """Group references that name no group of the pattern (Go expands them to "")."""

    def expand(self, match: Any) -> str:
        """Expand on a match of :func:`utf8` bytes; unmatched groups expand to nothing."""
        out: list[str] = []
        for part in self.parts:
            if isinstance(part, str):
                out.append(part)
            else:
                group = match.group(part)
                out.append(group.decode("utf-8", "surrogatepass") if group else "")
        return "".join(out)


def parse_template(template: str, *, groups: int, names: dict[str, int]) -> Template:
    """Parse ``$1``, ``${1}``, ``$name``, ``${name}`` and ``$$`` as Go's ``Regexp.Expand`` does:
    ``$name`` takes the longest run of letters, digits and ``_``; a malformed ``$`` is literal;
    a reference to a missing group expands to nothing (and is reported in ``unknown``)."""
    parts: list[str | int] = []
    unknown: list[str] = []
    literal: list[str] = []
    i = 0
    while i < len(template):
        char = template[i]
        if char != "$" or i + 1 >= len(template):
            literal.append(char)
            i += 1
            continue
        if template[i + 1] == "$":
            literal.append("$")
            i += 2
            continue
        name, after = _reference(template, i + 1)
        if not name:
            literal.append("$")
            i += 1
            continue
        i = after
        if literal:
            parts.append("".join(literal))
            literal = []
        index = int(name) if name.isdigit() and name.isascii() else names.get(name)
        if index is None or index > groups:
            unknown.append(name)
            continue
        parts.append(index)
    if literal:
        parts.append("".join(literal))
    return Template(parts=tuple(parts), unknown=tuple(unknown))


def _reference(template: str, start: int) -> tuple[str, int]:
    """The group name after a ``$`` at ``start - 1`` and the index after it; ``""`` if none."""
    braced = template[start] == "{"
    pos = start + 1 if braced else start
    end = pos
    while end < len(template) and template[end] in _NAME_CHARS:
        end += 1
    if end == pos:
        return "", start
    if braced:
        if end >= len(template) or template[end] != "}":
            return "", start
        return template[pos:end], end + 1
    return template[pos:end], end
