"""The Sprig functions Flux templates use, from Sprig's hermetic set (no clock, no randomness).

Argument order is Sprig's: the value a pipeline carries is the *last* parameter, so
``{{ .Setter | replace ":" "/" }}`` is ``replace ":" "/" .Setter``. Integers follow Go's
``int64`` (they wrap on overflow; division truncates toward zero). Regular expressions are
RE2, as Go's ``regexp``, compiled by :func:`image_automation.policy.compile_pattern`, so they
run in linear time; replacements expand ``$1`` / ``${name}`` as Go's ``Expand`` does.
Lists and dicts are in :mod:`._sprig_lists`, regular expressions in :mod:`._sprig_regex`.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import posixpath
import re
import zlib
from typing import Any

from image_automation.git._gotemplate_builtins import (
    MAX_ITEMS,
    MAX_STRING,
    FuncError,
    GoFunc,
    fn,
)
from image_automation.git._gotemplate_values import MISSING, go_quote
from image_automation.git._sprig_lists import LIST_FUNCS, empty, strslice, strval
from image_automation.git._sprig_regex import REGEX_FUNCS

_DECIMAL = re.compile(r"[+-]?[0-9]+")


def to_int64(value: Any) -> int:
    """``cast.ToInt64`` as Sprig uses it: numbers truncated, numeric strings parsed, else 0."""
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, int):
        return _wrap(value)
    if isinstance(value, float):
        return _wrap(int(value)) if value == value and abs(value) != float("inf") else 0
    if isinstance(value, str):
        try:
            return _wrap(int(value, 0))
        except ValueError:
            return 0
    return 0


def _wrap(value: int) -> int:
    return ((value + (1 << 63)) % (1 << 64)) - (1 << 63)


def _sized(size: int) -> None:
    if size > MAX_STRING:
        raise FuncError(f"result longer than {MAX_STRING} characters")


# -- strings ---------------------------------------------------------------------------------


@fn("string", "string", "string")
def _replace(old: str, new: str, text: str) -> str:
    count = len(text) + 1 if not old else text.count(old)
    _sized(len(text) + count * (len(new) - len(old)))
    return text.replace(old, new)


@fn("int", "string")
def _repeat(count: int, text: str) -> str:
    if count < 0:
        raise FuncError("strings: negative Repeat count")
    _sized(count * len(text))
    return text * count


@fn("int", "string")
def _indent(spaces: int, text: str) -> str:
    _sized(len(text) + max(spaces, 0) * (text.count("\n") + 1))
    pad = " " * max(spaces, 0)
    return pad + text.replace("\n", "\n" + pad)


@fn("int", "string")
def _nindent(spaces: int, text: str) -> str:
    return "\n" + str(_indent.impl(spaces, text))


@fn("int", "string")
def _trunc(count: int, text: str) -> str:
    if count < 0 and len(text) + count > 0:
        return text[len(text) + count :]
    if count >= 0 and len(text) > count:
        return text[:count]
    return text


@fn("int", "int", "string")
def _substr(start: int, end: int, text: str) -> str:
    if start < 0:
        return text[: max(end, 0)]
    if end < 0 or end > len(text):
        return text[start:]
    if start > end:
        raise FuncError(f"slice bounds out of range [{start}:{end}]")
    return text[start:end]


def _title(text: str) -> str:
    """Go's ``strings.Title``: upper-case the first letter of every word."""
    out, previous = [], " "
    for char in text:
        out.append(char.upper() if _separator(previous) else char)
        previous = char
    return "".join(out)


def _separator(char: str) -> bool:
    if char.isascii():
        return not (char.isalnum() or char == "_")
    return char.isspace() or not (char.isalpha() or char.isdigit())


@fn(variadic="any")
def _quote(*values: Any) -> str:
    return " ".join(go_quote(strval(v)) for v in values if v is not None and v is not MISSING)


@fn(variadic="any")
def _squote(*values: Any) -> str:
    return " ".join(f"'{strval(v)}'" for v in values if v is not None and v is not MISSING)


@fn(variadic="any")
def _cat(*values: Any) -> str:
    return " ".join(strval(v) for v in values if v is not None and v is not MISSING)


@fn("string", "any")
def _join(sep: str, values: Any) -> str:
    parts = strslice(values)
    _sized(sum(map(len, parts)) + len(sep) * max(len(parts) - 1, 0))
    return sep.join(parts)


def _split_parts(sep: str, text: str, limit: int = -1) -> list[str]:
    if (len(text) + 1 if not sep else text.count(sep) + 1) > MAX_ITEMS:
        raise FuncError(f"more than {MAX_ITEMS} parts")
    if not sep:  # Go splits into UTF-8 sequences
        parts = list(text)
        return (
            parts if limit < 0 or len(parts) <= limit else [*parts[: limit - 1], text[limit - 1 :]]
        )
    return text.split(sep) if limit < 0 else text.split(sep, limit - 1) if limit else []


@fn("string", "string")
def _split(sep: str, text: str) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(_split_parts(sep, text))}


@fn("string", "int", "string")
def _splitn(sep: str, count: int, text: str) -> dict[str, str]:
    return {f"_{i}": part for i, part in enumerate(_split_parts(sep, text, count))}


# -- defaults and logic ----------------------------------------------------------------------


@fn("any", variadic="any")
def _default(fallback: Any, *given: Any) -> Any:
    return fallback if not given or empty(given[0]) else given[0]


@fn(variadic="any")
def _coalesce(*values: Any) -> Any:
    return next((v for v in values if not empty(v)), None)


@fn("any", "any", "bool")
def _ternary(if_true: Any, if_false: Any, condition: bool) -> Any:
    return if_true if condition else if_false


@fn("string")
def _fail(message: str) -> Any:
    raise FuncError(message)


# -- numbers ---------------------------------------------------------------------------------


@fn(variadic="any")
def _add(*values: Any) -> int:
    return _wrap(sum(to_int64(v) for v in values))


@fn("any", variadic="any")
def _mul(first: Any, *values: Any) -> int:
    product = to_int64(first)
    for value in values:
        product = _wrap(product * to_int64(value))
    return product


def _quotient(left: int, right: int) -> int:
    if right == 0:
        raise FuncError("runtime error: integer divide by zero")
    quotient = abs(left) // abs(right)
    return _wrap(quotient if (left < 0) == (right < 0) else -quotient)


@fn("any", variadic="any")
def _max(first: Any, *values: Any) -> int:
    return max([to_int64(first), *map(to_int64, values)])


@fn("any", variadic="any")
def _min(first: Any, *values: Any) -> int:
    return min([to_int64(first), *map(to_int64, values)])


def _atoi(text: str) -> int:
    """``strconv.Atoi`` with its error dropped, as Sprig does: out of range clamps."""
    if not _DECIMAL.fullmatch(text):
        return 0
    if len(text.lstrip("+-").lstrip("0")) > 19:
        return -(1 << 63) if text.startswith("-") else (1 << 63) - 1
    return max(-(1 << 63), min(int(text), (1 << 63) - 1))


def _b64dec(text: str) -> str:
    try:
        return base64.b64decode(text, validate=True).decode("utf-8", "replace")
    except (binascii.Error, ValueError) as exc:
        return str(exc)  # Sprig returns the error text as the value


def _s(impl: Any) -> GoFunc:
    """A one-string-argument function."""
    return GoFunc(impl, ("string",))


def _ss(impl: Any) -> GoFunc:
    """A two-string-argument function, Sprig order (the pipeline's value is the second)."""
    return GoFunc(impl, ("string", "string"))


def _encode(text: str) -> bytes:
    return text.encode("utf-8", "surrogatepass")


SPRIG: dict[str, GoFunc] = {
    "replace": _replace,
    "trim": _s(str.strip),
    "trimAll": _ss(lambda chars, text: text.strip(chars)),
    "trimPrefix": _ss(lambda prefix, text: text.removeprefix(prefix)),
    "trimSuffix": _ss(lambda suffix, text: text.removesuffix(suffix)),
    "upper": _s(str.upper),
    "lower": _s(str.lower),
    "title": _s(_title),
    "contains": _ss(lambda needle, text: needle in text),
    "hasPrefix": _ss(lambda prefix, text: text.startswith(prefix)),
    "hasSuffix": _ss(lambda suffix, text: text.endswith(suffix)),
    "nospace": _s(lambda text: "".join(text.split())),
    "repeat": _repeat,
    "substr": _substr,
    "trunc": _trunc,
    "indent": _indent,
    "nindent": _nindent,
    "quote": _quote,
    "squote": _squote,
    "cat": _cat,
    "join": _join,
    "split": _split,
    "splitn": _splitn,
    "splitList": _ss(lambda sep, text: _split_parts(sep, text)),
    "toString": GoFunc(strval, ("any",)),
    "toStrings": GoFunc(strslice, ("any",)),
    "default": _default,
    "empty": GoFunc(empty, ("any",)),
    "coalesce": _coalesce,
    "ternary": _ternary,
    "fail": _fail,
    "add": _add,
    "add1": GoFunc(lambda value: _wrap(to_int64(value) + 1), ("any",)),
    "sub": GoFunc(lambda a, b: _wrap(to_int64(a) - to_int64(b)), ("any", "any")),
    "mul": _mul,
    "div": GoFunc(lambda a, b: _quotient(to_int64(a), to_int64(b)), ("any", "any")),
    "mod": GoFunc(
        lambda a, b: _wrap(to_int64(a) - to_int64(b) * _quotient(to_int64(a), to_int64(b))),
        ("any", "any"),
    ),
    "max": _max,
    "min": _min,
    "atoi": _s(_atoi),
    "int": GoFunc(to_int64, ("any",)),
    "int64": GoFunc(to_int64, ("any",)),
    "sha1sum": _s(lambda text: hashlib.sha1(_encode(text)).hexdigest()),
    "sha256sum": _s(lambda text: hashlib.sha256(_encode(text)).hexdigest()),
    "adler32sum": _s(lambda text: str(zlib.adler32(_encode(text)))),
    "b64enc": _s(lambda text: base64.b64encode(_encode(text)).decode("ascii")),
    "b64dec": _s(_b64dec),
    "base": _s(lambda path: posixpath.basename(path.rstrip("/")) or ("/" if path else ".")),
    "dir": _s(lambda path: posixpath.normpath(posixpath.dirname(path) or ".")),
    "ext": _s(lambda path: path[path.rfind(".") :] if path.rfind(".") > path.rfind("/") else ""),
    "clean": _s(lambda path: posixpath.normpath(path) if path else "."),
    **LIST_FUNCS,
    **REGEX_FUNCS,
}
"""Sprig's hermetic functions we implement; the rest are refused when the template parses."""

__all__ = ["SPRIG", "empty", "strslice", "strval", "to_int64"]
