"""Sprig's ``regex*`` functions with Go's ``regexp`` semantics on RE2.

Matching runs on UTF-8 bytes as Go does, and successive matches follow Go's rule, not
Python's: an empty match right after the previous match is skipped (``x*`` over ``abxd``
replaces to ``-a-b-d-``). Output is built under the size cap, so a replacement that would
multiply a string beyond it fails before it is built.
"""

from __future__ import annotations

from collections.abc import Iterator
from functools import lru_cache
from typing import Any

from image_automation.git._gotemplate_builtins import MAX_ITEMS, MAX_STRING, FuncError, GoFunc
from image_automation.policy import InvalidPattern, compile_pattern, parse_template


@lru_cache(maxsize=64)
def _compiled(pattern: str) -> Any:
    try:
        return compile_pattern(pattern)
    except InvalidPattern as exc:
        raise FuncError(str(exc)) from None


def _matches(pattern: str, text: bytes, limit: int = -1) -> Iterator[Any]:
    """Go's ``allMatches``: at most ``limit`` (all when < 0) non-overlapping matches."""
    regex = _compiled(pattern)
    pos, prev_end, found = 0, -1, 0
    while pos <= len(text) and (limit < 0 or found < limit):
        match = regex.search(text, pos)
        if match is None:
            return
        start, end = match.span()
        accept = True
        if end == pos:  # an empty match at pos
            accept = start != prev_end
            pos += _char_width(text, pos)
        else:
            pos = end
        prev_end = end
        if accept:
            found += 1
            yield match


def _char_width(text: bytes, pos: int) -> int:
    if pos >= len(text):
        return 1
    lead = text[pos]
    return 1 if lead < 0xC0 else 2 if lead < 0xE0 else 3 if lead < 0xF0 else 4


def _utf8(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


def _text(data: bytes) -> str:
    return data.decode("utf-8", "surrogatepass")


def _replace_all(pattern: str, text: str, repl: str, *, literal: bool) -> str:
    data = _utf8(text)
    regex = _compiled(pattern)
    template = (
        None if literal else parse_template(repl, groups=regex.groups, names=regex.groupindex)
    )
    out: list[str] = []
    size, last = 0, 0
    for match in _matches(pattern, data):
        start, end = match.span()
        piece = _text(data[last:start]) + (repl if template is None else template.expand(match))
        size += len(piece)
        if size > MAX_STRING:
            raise FuncError(f"result longer than {MAX_STRING} characters")
        out.append(piece)
        last = end
    out.append(_text(data[last:]))
    return "".join(out)


def _find_all(pattern: str, text: str, count: int) -> list[str]:
    found = [_text(m.group(0)) for m in _matches(pattern, _utf8(text), min(count, MAX_ITEMS + 1))]
    if len(found) > MAX_ITEMS:
        raise FuncError(f"more than {MAX_ITEMS} matches")
    return found


def _split(pattern: str, text: str, count: int) -> list[str]:
    """Go's ``Regexp.Split``."""
    if count == 0:
        return []
    data = _utf8(text)
    if pattern and not data:
        return [""]
    parts: list[str] = []
    begin = end = 0
    for match in _matches(pattern, data, count if count > 0 else MAX_ITEMS + 1):
        if count > 0 and len(parts) == count - 1:
            break
        end = match.start()
        if match.end() != 0:
            parts.append(_text(data[begin:end]))
        begin = match.end()
    if end != len(data):
        parts.append(_text(data[begin:]))
    if len(parts) > MAX_ITEMS:
        raise FuncError(f"more than {MAX_ITEMS} parts")
    return parts


def _find(pattern: str, text: str) -> str:
    match = next(_matches(pattern, _utf8(text), 1), None)
    return "" if match is None else _text(match.group(0))


def _quote_meta(text: str) -> str:
    return "".join("\\" + c if c in r"\.+*?()|[]{}^$" else c for c in text)


REGEX_FUNCS: dict[str, GoFunc] = {
    "regexMatch": GoFunc(lambda p, s: _compiled(p).search(_utf8(s)) is not None, ("string",) * 2),
    "regexFind": GoFunc(_find, ("string", "string")),
    "regexFindAll": GoFunc(_find_all, ("string", "string", "int")),
    "regexReplaceAll": GoFunc(
        lambda p, s, r: _replace_all(p, s, r, literal=False), ("string",) * 3
    ),
    "regexReplaceAllLiteral": GoFunc(
        lambda p, s, r: _replace_all(p, s, r, literal=True), ("string",) * 3
    ),
    "regexSplit": GoFunc(_split, ("string", "string", "int")),
    "regexQuoteMeta": GoFunc(_quote_meta, ("string",)),
}

__all__ = ["REGEX_FUNCS"]
