"""Reading a webhook body that is hostile until proven otherwise: bounded JSON, typed fields.

A verified forge may still send a payload we do not expect (a new version, a proxy that
rewrote it), and a bug in a proof check must not turn into a parser crash. So: the nesting
depth is checked before ``json.loads`` (which recurses), text must be UTF-8, and every field
read checks its type and bounds. Anything else raises :class:`Malformed`, the one error here.
"""

from __future__ import annotations

import json
import re
from itertools import accumulate

MAX_DEPTH = 32
"""Deepest JSON nesting accepted; real pull-request payloads stay under ten."""
MAX_TEXT = 1024
"""Longest text field (repository path, branch name) accepted, in characters."""


class Malformed(Exception):
    """The body is not what the sender documents."""


_STRING = re.compile(r'"[^"\\]*(?:\\.[^"\\]*)*"', re.DOTALL)
_NOT_BRACKET = re.compile(r"[^\[\]{}]+")
_STEP = {"[": 1, "{": 1, "]": -1, "}": -1}


def _depth(text: str) -> int:
    """Deepest nesting of ``text`` (brackets inside strings do not count). Runs before
    ``json.loads``, which recurses, so a hostile body cannot drive it deep; C-speed (regex,
    ``map``, ``accumulate``), as the body may be a quarter of a megabyte of brackets."""
    brackets = _NOT_BRACKET.sub("", _STRING.sub("", text))
    return max(accumulate(map(_STEP.__getitem__, brackets)), default=0)


def load_object(body: bytes) -> dict[str, object]:
    """``body`` as a JSON object, or :class:`Malformed`."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError:
        raise Malformed("body is not UTF-8") from None
    if _depth(text) > MAX_DEPTH:
        raise Malformed(f"body nests deeper than {MAX_DEPTH} levels")
    try:
        payload = json.loads(text)
    except (ValueError, RecursionError):
        raise Malformed("body is not JSON") from None
    if not isinstance(payload, dict):
        raise Malformed("body is not a JSON object")
    return payload


def dig(value: object, *keys: str) -> object:
    """``value[k1][k2]...``, or None where a key is missing or a level is not an object."""
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def field_object(value: object, *keys: str) -> dict[str, object]:
    found = dig(value, *keys)
    if not isinstance(found, dict):
        raise Malformed(f"{'.'.join(keys)} is missing or not an object")
    return found


def field_text(value: object, *keys: str) -> str:
    found = dig(value, *keys)
    if (
        not isinstance(found, str)
        or not found
        or len(found) > MAX_TEXT
        or any(ord(c) < 0x20 or ord(c) == 0x7F for c in found)
    ):
        raise Malformed(f"{'.'.join(keys)} is missing or not a short single-line string")
    return found


def field_number(value: object, *keys: str) -> int:
    found = dig(value, *keys)
    if isinstance(found, bool) or not isinstance(found, int) or not 0 < found < 2**63:
        raise Malformed(f"{'.'.join(keys)} is missing or not a positive integer")
    return found


def field_flag(value: object, *keys: str) -> bool:
    found = dig(value, *keys)
    if found is not None and not isinstance(found, bool):
        raise Malformed(f"{'.'.join(keys)} is not a boolean")
    return found is True


__all__ = [
    "MAX_DEPTH",
    "MAX_TEXT",
    "Malformed",
    "dig",
    "field_flag",
    "field_number",
    "field_object",
    "field_text",
    "load_object",
]
