"""Python values seen as Go values: field lookup, truth, ``%v`` printing, ordering, equality.

The data is plain Python: ``str``/``int``/``float``/``bool``, ``None`` (Go ``nil``), lists
(slices), mappings (maps) and :class:`GoStruct` (structs, which may print through a
``String()`` method as Go's ``fmt.Stringer``). :data:`MISSING` is Go's "invalid value": what a
missing map key yields; it prints as ``<no value>`` and is false. Printing writes into a
:class:`Budget` so a value that would print to gigabytes (a list holding itself many times
over) fails once the output cap is reached instead of filling memory.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from decimal import Decimal
from typing import Any, ClassVar

from image_automation.git._gotemplate_lex import GoTemplateError


class _Missing:
    __slots__ = ()

    def __repr__(self) -> str:
        return "<no value>"


MISSING: Any = _Missing()


class LimitError(GoTemplateError):
    """A resource cap (output size, steps, depth, item count) was reached."""


class GoStruct:
    """A Go struct: ``go_fields`` print in order with ``%v``; ``go_methods`` are attributes a
    template may read but that do not print (Go methods); ``removed`` maps a field that an
    older API had to the error that names its replacement; ``deprecated`` maps a field that
    still works here to the note a check reports when a template reads it."""

    go_type: ClassVar[str] = "struct"
    go_fields: ClassVar[tuple[str, ...]] = ()
    go_methods: ClassVar[tuple[str, ...]] = ()
    removed: ClassVar[Mapping[str, str]] = {}
    deprecated: ClassVar[Mapping[str, str]] = {}

    def go_string(self) -> str | None:
        """The ``String()`` result when the Go type is a ``fmt.Stringer``, else None."""
        return None

    def go_format(self, budget: Budget, verb: str) -> None:
        """Write the ``%v`` form (``{f1 f2}``) when the type has no ``String()``."""
        budget.write("{")
        for i, name in enumerate(self.go_fields):
            if i:
                budget.write(" ")
            format_into(getattr(self, name), budget, verb)
        budget.write("}")

    def sort_key(self) -> tuple[Any, ...]:
        return tuple(sort_key(getattr(self, name)) for name in self.go_fields)


MAX_ELEMENTS = 500_000
"""Elements (list items, map entries, struct fields) one printed value may hold: a value that
shares itself (``$l = list $l $l``) is small in memory but huge to print."""


class Budget:
    """A string builder that raises :class:`LimitError` beyond ``limit`` characters or
    :data:`MAX_ELEMENTS` container elements."""

    __slots__ = ("elements", "limit", "parts", "size")

    def __init__(self, limit: int) -> None:
        self.limit, self.size, self.elements = limit, 0, 0
        self.parts: list[str] = []

    def visit(self, count: int) -> None:
        self.elements += count
        if self.elements > MAX_ELEMENTS:
            raise LimitError(f"value too large to print (more than {MAX_ELEMENTS} elements)")

    def write(self, text: str) -> None:
        self.size += len(text)
        if self.size > self.limit:
            raise LimitError(f"output larger than {self.limit} characters")
        self.parts.append(text)

    def text(self) -> str:
        return "".join(self.parts)


def type_name(value: Any) -> str:
    """The Go type a value stands for, as Go's error messages spell it."""
    if value is MISSING:
        return "<no value>"
    if value is None:
        return "<nil>"
    if isinstance(value, GoStruct):
        return value.go_type
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int):
        return "int"
    if isinstance(value, float):
        return "float64"
    if isinstance(value, str):
        return "string"
    if isinstance(value, Mapping):
        values = list(value.values())
        kind = "string" if values and all(isinstance(v, str) for v in values) else "interface {}"
        return f"map[string]{kind}"
    if isinstance(value, list | tuple):
        return "[]interface {}"
    return type(value).__name__


def is_true(value: Any) -> bool:
    """Go's truth: false, 0, nil, an empty string/slice/map and "no value" are false."""
    if value is MISSING or value is None:
        return False
    if isinstance(value, GoStruct):
        return True
    if isinstance(value, bool | int | float):
        return bool(value)
    if isinstance(value, str | list | tuple | Mapping):
        return len(value) > 0
    return True


def field(receiver: Any, name: str) -> Any:
    """``receiver.name`` as text/template evaluates it (default ``missingkey`` option)."""
    if receiver is MISSING:
        return MISSING
    if receiver is None:
        raise GoTemplateError(f"nil pointer evaluating interface {{}}.{name}")
    if isinstance(receiver, GoStruct):
        if name in receiver.go_fields or name in receiver.go_methods:
            return getattr(receiver, name)
        if name in receiver.removed:
            raise GoTemplateError(receiver.removed[name])
        raise GoTemplateError(f"can't evaluate field {name} in type {receiver.go_type}")
    if isinstance(receiver, Mapping) and all(isinstance(k, str) for k in receiver):
        return receiver.get(name, MISSING)
    raise GoTemplateError(f"can't evaluate field {name} in type {type_name(receiver)}")


def format_value(value: Any, limit: int, verb: str = "v") -> str:
    """``fmt.Sprint(value)`` (``verb="q"``: strings quoted), at most ``limit`` characters."""
    if isinstance(value, str) and not isinstance(value, GoStruct) and verb == "v":
        if len(value) > limit:
            raise LimitError(f"output larger than {limit} characters")
        return value
    budget = Budget(limit)
    format_into(value, budget, verb)
    return budget.text()


def format_into(value: Any, budget: Budget, verb: str = "v") -> None:
    if value is MISSING:
        budget.write("<no value>")
    elif value is None:
        budget.write("<nil>")
    elif isinstance(value, GoStruct):
        text = value.go_string()
        if text is None:
            budget.visit(len(value.go_fields))
            value.go_format(budget, verb)
        else:
            budget.write(go_quote(text) if verb == "q" else text)
    elif isinstance(value, bool):
        budget.write("true" if value else "false")
    elif isinstance(value, int):
        budget.write(str(value))
    elif isinstance(value, float):
        budget.write(go_float(value))
    elif isinstance(value, str):
        budget.write(go_quote(value) if verb == "q" else value)
    elif isinstance(value, Mapping):
        budget.visit(len(value))
        budget.write("map[")
        for i, key in enumerate(sorted(value, key=sort_key)):
            budget.write(" " if i else "")
            format_into(key, budget, verb)
            budget.write(":")
            format_into(value[key], budget, verb)
        budget.write("]")
    elif isinstance(value, list | tuple):
        budget.visit(len(value))
        budget.write("[")
        for i, item in enumerate(value):
            budget.write(" " if i else "")
            format_into(item, budget, verb)
        budget.write("]")
    else:
        budget.write(str(value))


def go_float(value: float) -> str:
    """``%v`` of a float64 (``strconv`` ``'g'``, shortest): exponent form below 1e-4 and from
    1e6, as ``fmt.Print(1e6)`` gives ``1e+06``."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "+Inf" if value > 0 else "-Inf"
    sign = "-" if math.copysign(1, value) < 0 else ""
    if value == 0:
        return sign + "0"
    exact = Decimal(repr(abs(value)))
    _, digit_tuple, exp = exact.as_tuple()
    assert isinstance(exp, int)
    digits = "".join(map(str, digit_tuple)).rstrip("0") or "0"
    exponent = len(digit_tuple) + exp - 1
    if exponent < -4 or exponent >= 6:
        mantissa = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        return f"{sign}{mantissa}e{'-' if exponent < 0 else '+'}{abs(exponent):02d}"
    text = format(exact, "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return sign + text


def go_quote(text: str) -> str:
    """``strconv.Quote``: Go's double-quoted form, escaping what is not printable."""
    out = ['"']
    for char in text:
        code = ord(char)
        if char in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[char])
        elif char.isprintable() or char == " ":
            out.append(char)
        elif code < 0x80:
            out.append(f"\\x{code:02x}")
        elif code < 0x10000:
            out.append(f"\\u{code:04x}")
        else:
            out.append(f"\\U{code:08x}")
    out.append('"')
    return "".join(out)


_QUOTE_ESCAPES = {
    "\a": "\\a",
    "\b": "\\b",
    "\f": "\\f",
    "\n": "\\n",
    "\r": "\\r",
    "\t": "\\t",
    "\v": "\\v",
    "\\": "\\\\",
    '"': '\\"',
}


def sort_key(value: Any) -> tuple[Any, ...]:
    """Go's ``fmtsort`` order for map keys: numbers, then strings, structs field by field."""
    if isinstance(value, GoStruct):
        return (3, value.sort_key())
    if isinstance(value, bool):
        return (0, value)
    if isinstance(value, int | float):
        return (1, value)
    if isinstance(value, str):
        return (2, value)
    return (4, str(value))


_KINDS = {bool: "bool", int: "int", float: "float", str: "string"}


def basic_kind(value: Any) -> str | None:
    """``bool``/``int``/``float``/``string`` for Go's basic kinds, None for the rest."""
    if isinstance(value, GoStruct):
        return None
    for cls, kind in _KINDS.items():
        if isinstance(value, cls):
            return kind
    return None


def equal(left: Any, right: Any) -> bool:
    """Go's ``eq`` for two values (raises for incompatible or non-comparable types)."""
    left_kind, right_kind = basic_kind(left), basic_kind(right)
    if _absent(left) or _absent(right):
        return (_absent(left) and _absent(right)) or False
    if left_kind != right_kind:
        raise GoTemplateError("incompatible types for comparison")
    if left_kind is not None:
        return bool(left == right)
    if isinstance(left, list | tuple | Mapping) or isinstance(right, list | tuple | Mapping):
        raise GoTemplateError(f"non-comparable type {type_name(left)}")
    if type(left) is not type(right):
        raise GoTemplateError("incompatible types for comparison")
    return bool(left.sort_key() == right.sort_key()) if isinstance(left, GoStruct) else False


def less(left: Any, right: Any) -> bool:
    """Go's ``lt``: basic kinds of one kind only (ints, floats or strings)."""
    left_kind, right_kind = basic_kind(left), basic_kind(right)
    if left_kind in (None, "bool") or right_kind in (None, "bool"):
        raise GoTemplateError("invalid type for comparison")
    if left_kind != right_kind:
        raise GoTemplateError("incompatible types for comparison")
    return bool(left < right)


def _absent(value: Any) -> bool:
    return value is MISSING or value is None


__all__ = [
    "MAX_ELEMENTS",
    "MISSING",
    "Budget",
    "GoStruct",
    "LimitError",
    "basic_kind",
    "equal",
    "field",
    "format_into",
    "format_value",
    "go_float",
    "go_quote",
    "is_true",
    "less",
    "sort_key",
    "type_name",
]
