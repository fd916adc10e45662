"""Sprig's list and dict functions, and the conversions every Sprig function shares.

``strval`` / ``strslice`` / ``empty`` are Sprig's own helpers: how a value becomes a string
(Stringers through ``String()``, the rest as ``%v``), a list of strings, or "empty" (Go's zero
values; a struct never is). Lists never grow past :data:`MAX_ITEMS`; ``keys`` is sorted
(Go's map order is random).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from image_automation.git._gotemplate_builtins import (
    MAX_ITEMS,
    MAX_STRING,
    FuncError,
    GoFunc,
    fn,
    to_list,
)
from image_automation.git._gotemplate_values import (
    MISSING,
    GoStruct,
    format_value,
    is_true,
    type_name,
)


def strval(value: Any) -> str:
    """Sprig's ``strval``: strings as they are, Stringers through ``String()``, else ``%v``."""
    if isinstance(value, str):
        return value
    return format_value(value, MAX_STRING)


def strslice(value: Any) -> list[str]:
    """Sprig's ``strslice``: a list's non-nil items as strings; a single value as one string."""
    if isinstance(value, list | tuple):
        return [strval(v) for v in value if v is not None and v is not MISSING]
    if value is None or value is MISSING:
        return []
    return [strval(value)]


def empty(value: Any) -> bool:
    """Sprig's ``empty``: Go's zero values (a struct is never empty)."""
    return not isinstance(value, GoStruct) and not is_true(value)


@fn("any")
def _first(values: Any) -> Any:
    items = to_list(values, "first")
    return items[0] if items else None


@fn("any")
def _last(values: Any) -> Any:
    items = to_list(values, "last")
    return items[-1] if items else None


@fn("any")
def _uniq(values: Any) -> list[Any]:
    out: list[Any] = []
    for item in to_list(values, "uniq"):
        if item not in out:
            out.append(item)
    return out


@fn("any")
def _sort_alpha(values: Any) -> list[str]:
    return sorted(strslice(values) if isinstance(values, list | tuple) else [strval(values)])


@fn("any", "any")
def _has(needle: Any, haystack: Any) -> bool:
    return haystack is not None and needle in to_list(haystack, "has")


@fn("any", variadic="any")
def _without(values: Any, *omit: Any) -> list[Any]:
    return [v for v in to_list(values, "without") if v not in omit]


@fn("any", "any")
def _append(values: Any, item: Any) -> list[Any]:
    return _bounded([*to_list(values, "append"), item])


@fn("any", "any")
def _prepend(values: Any, item: Any) -> list[Any]:
    return _bounded([item, *to_list(values, "prepend")])


@fn(variadic="any")
def _concat(*lists: Any) -> list[Any]:
    if sum(len(to_list(v, "concat")) for v in lists) > MAX_ITEMS:
        raise FuncError(f"more than {MAX_ITEMS} items")
    return [item for v in lists for item in v]


@fn("int")
def _until(count: int) -> list[int]:
    if abs(count) > MAX_ITEMS:
        raise FuncError(f"more than {MAX_ITEMS} items")
    return list(range(count)) if count >= 0 else list(range(0, count, -1))


def _bounded(items: list[Any]) -> list[Any]:
    if len(items) > MAX_ITEMS:
        raise FuncError(f"more than {MAX_ITEMS} items")
    return items


@fn(variadic="any")
def _dict(*pairs: Any) -> dict[str, Any]:
    items = list(pairs) + ([""] if len(pairs) % 2 else [])
    return {strval(items[i]): items[i + 1] for i in range(0, len(items), 2)}


def _mapping(value: Any, name: str) -> Mapping[Any, Any]:
    if isinstance(value, Mapping):
        return value
    raise FuncError(f"cannot use {name} on type {type_name(value)}")


@fn(variadic="any")
def _keys(*maps: Any) -> list[Any]:
    return sorted({k for m in maps for k in _mapping(m, "keys")}, key=str)


@fn("any", "string")
def _has_key(mapping: Any, key: str) -> bool:
    return key in _mapping(mapping, "hasKey")


@fn("any", "string")
def _get(mapping: Any, key: str) -> Any:
    return _mapping(mapping, "get").get(key, "")


LIST_FUNCS: dict[str, GoFunc] = {
    "list": GoFunc(lambda *values: list(values), (), "any"),
    "first": _first,
    "last": _last,
    "rest": GoFunc(lambda values: to_list(values, "rest")[1:], ("any",)),
    "initial": GoFunc(lambda values: to_list(values, "initial")[:-1], ("any",)),
    "reverse": GoFunc(lambda values: to_list(values, "reverse")[::-1], ("any",)),
    "compact": GoFunc(
        lambda values: [v for v in to_list(values, "compact") if not empty(v)], ("any",)
    ),
    "uniq": _uniq,
    "sortAlpha": _sort_alpha,
    "has": _has,
    "without": _without,
    "append": _append,
    "push": _append,
    "prepend": _prepend,
    "concat": _concat,
    "until": _until,
    "dict": _dict,
    "keys": _keys,
    "hasKey": _has_key,
    "get": _get,
}

__all__ = ["LIST_FUNCS", "empty", "strslice", "strval"]
