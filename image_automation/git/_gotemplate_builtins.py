"""Go's predefined template functions, and the signature type every function is called through.

A :class:`GoFunc` declares its parameters' kinds (``string``, ``int``, ``bool``, ``any``) so a
call is checked the way Go's ``reflect`` call is: arity (``wrong number of args for upper:
want 1 got 2``) and type (``wrong type for value; expected string; got int``). We are looser
than Go in one way only: any integer fits an ``int`` parameter (Go would refuse the ``int64``
that ``add`` returns). ``and``/``or`` are not here: they short-circuit, so the executor
evaluates them. Sizes are capped: no result may exceed :data:`MAX_STRING` characters or
:data:`MAX_ITEMS` elements, and functions that could build a huge value check before building.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from image_automation.git._gotemplate_printf import (
    html_escape,
    js_escape,
    sprint,
    sprintf,
    sprintln,
    stringify,
    url_query_escape,
)
from image_automation.git._gotemplate_values import (
    MISSING,
    LimitError,
    equal,
    is_true,
    less,
    type_name,
)

MAX_OUTPUT = 4 << 20
"""Characters a rendered message may hold."""
MAX_STRING = 8 << 20
"""Characters any string made on the way may hold (a Gerrit Change-Id template hashes the
printed form of every change, which outgrows the message itself on a large fleet)."""
MAX_ITEMS = 100_000
"""Elements a list or map made by a function may hold."""
MAX_ALLOCATED = 64 << 20
"""Characters plus elements all function results of one render may add up to: the per-value
caps alone would let a loop keep many large values alive."""


class FuncError(Exception):
    """A function refused its arguments; the executor reports ``error calling NAME: ...``."""


@dataclass(frozen=True, slots=True)
class GoFunc:
    """A callable with Go parameter kinds; ``variadic`` is the kind of trailing arguments."""

    impl: Callable[..., Any]
    params: tuple[str, ...]
    variadic: str | None = None


def check_size(value: Any) -> Any:
    """``value`` if it is within the caps, else :class:`LimitError`."""
    if isinstance(value, str) and len(value) > MAX_STRING:
        raise LimitError(f"a string longer than {MAX_STRING} characters")
    if isinstance(value, list | tuple | Mapping) and len(value) > MAX_ITEMS:
        raise LimitError(f"a list or map of more than {MAX_ITEMS} items")
    return value


def fn(*params: str, variadic: str | None = None) -> Callable[[Callable[..., Any]], GoFunc]:
    """Declare a template function's parameter kinds."""

    def wrap(impl: Callable[..., Any]) -> GoFunc:
        return GoFunc(impl, params, variadic)

    return wrap


def to_list(value: Any, name: str) -> list[Any]:
    if isinstance(value, list | tuple):
        return list(value)
    raise FuncError(f"cannot use {name} on type {type_name(value)}")


@fn("any")
def _not(value: Any) -> bool:
    return not is_true(value)


@fn("any")
def _len(value: Any) -> int:
    if isinstance(value, str):
        return len(value.encode("utf-8", "surrogatepass"))  # Go counts bytes
    if isinstance(value, list | tuple | Mapping):
        return len(value)
    raise FuncError(f"len of type {type_name(value)}")


@fn("any", variadic="any")
def _index(item: Any, *indexes: Any) -> Any:
    for index in indexes:
        if item is None or item is MISSING:
            raise FuncError("index of untyped nil")
        if isinstance(item, Mapping):
            item = _map_index(item, index)
        elif isinstance(item, list | tuple | str):
            if not isinstance(index, int) or isinstance(index, bool):
                raise FuncError(f"cannot index slice/array with type {type_name(index)}")
            seq: Sequence[Any] = item.encode("utf-8") if isinstance(item, str) else item
            if not 0 <= index < len(seq):
                raise FuncError(f"index out of range: {index}")
            item = seq[index]
        else:
            raise FuncError(f"can't index item of type {type_name(item)}")
    return item


def _map_index(item: Mapping[Any, Any], key: Any) -> Any:
    if key in item:
        return item[key]
    # Go returns the zero value of the element type: "" for map[string]string.
    values = list(item.values())
    return "" if values and all(isinstance(v, str) for v in values) else None


@fn("any", variadic="int")
def _slice(item: Any, *indexes: int) -> Any:
    if isinstance(item, str):
        data = item.encode("utf-8", "surrogatepass")
        if len(indexes) > 2:
            raise FuncError("cannot 3-index slice a string")
        low, high = _bounds(indexes, len(data))
        return data[low:high].decode("utf-8", "replace")
    if isinstance(item, list | tuple):
        if len(indexes) > 3:
            raise FuncError(f"too many slice indexes: {len(indexes)}")
        low, high = _bounds(indexes[:2], len(item))
        return list(item[low:high])
    raise FuncError(f"can't slice item of type {type_name(item)}")


def _bounds(indexes: Sequence[int], size: int) -> tuple[int, int]:
    low = indexes[0] if indexes else 0
    high = indexes[1] if len(indexes) > 1 else size
    for index in (low, high):
        if not 0 <= index <= size:
            raise FuncError(f"index out of range: {index}")
    if low > high:
        raise FuncError(f"invalid slice index: {low} > {high}")
    return low, high


@fn(variadic="any")
def _print(*args: Any) -> str:
    return sprint(args, MAX_STRING)


@fn(variadic="any")
def _println(*args: Any) -> str:
    return sprintln(args, MAX_STRING)


@fn("string", variadic="any")
def _printf(fmt: str, *args: Any) -> str:
    return sprintf(fmt, args, MAX_STRING)


@fn("any", variadic="any")
def _eq(left: Any, *others: Any) -> bool:
    if not others:
        raise FuncError("missing argument for comparison")
    return any(_compare(equal, left, other) for other in others)


@fn("any", "any")
def _ne(left: Any, right: Any) -> bool:
    return not _compare(equal, left, right)


@fn("any", "any")
def _lt(left: Any, right: Any) -> bool:
    return _compare(less, left, right)


@fn("any", "any")
def _le(left: Any, right: Any) -> bool:
    return _compare(less, left, right) or _compare(equal, left, right)


@fn("any", "any")
def _gt(left: Any, right: Any) -> bool:
    return not (_compare(less, left, right) or _compare(equal, left, right))


@fn("any", "any")
def _ge(left: Any, right: Any) -> bool:
    return not _compare(less, left, right)


def _compare(how: Callable[[Any, Any], bool], left: Any, right: Any) -> bool:
    try:
        return how(left, right)
    except FuncError:
        raise
    except Exception as exc:
        raise FuncError(getattr(exc, "message", str(exc))) from None


def _escaper(escape: Callable[[str], str]) -> GoFunc:
    return GoFunc(lambda *args: escape(stringify(args, MAX_STRING)), (), "any")


BUILTINS: dict[str, GoFunc] = {
    "not": _not,
    "len": _len,
    "index": _index,
    "slice": _slice,
    "print": _print,
    "println": _println,
    "printf": _printf,
    "eq": _eq,
    "ne": _ne,
    "lt": _lt,
    "le": _le,
    "gt": _gt,
    "ge": _ge,
    "html": _escaper(html_escape),
    "js": _escaper(js_escape),
    "urlquery": _escaper(url_query_escape),
}
"""Go's predefined functions but ``and``/``or`` (lazy, in the executor) and ``call``."""

__all__ = [
    "BUILTINS",
    "MAX_ALLOCATED",
    "MAX_ITEMS",
    "MAX_OUTPUT",
    "MAX_STRING",
    "FuncError",
    "GoFunc",
    "check_size",
    "fn",
    "to_list",
]
