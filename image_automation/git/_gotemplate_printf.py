"""Go's ``fmt`` printing verbs for ``print``, ``println`` and ``printf``, and the escapers.

``printf`` knows ``%v %s %d %q %t %x %X %o %b %c %f %e %g %%`` with the flags ``- + 0 space``,
a width and a precision; a wrong verb for a value, a missing or an extra argument print as Go
prints them (``%!d(string=x)``, ``%!s(MISSING)``, ``%!(EXTRA int=1)``). Width and precision
are capped by the output limit before anything is padded. ``html``, ``js`` and ``urlquery``
follow Go's ``HTMLEscapeString``, ``JSEscapeString`` and ``url.QueryEscape``.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Sequence
from typing import Any

from image_automation.git._gotemplate_values import (
    MISSING,
    GoStruct,
    LimitError,
    format_value,
    go_float,
    go_quote,
    type_name,
)

_SPEC = re.compile(r"%([-+# 0]*)(\d+)?(?:\.(\d*))?(.?)", re.S)


def sprint(args: Sequence[Any], limit: int) -> str:
    """``fmt.Sprint``: a space between two operands when neither is a string."""
    out: list[str] = []
    size = 0
    for i, arg in enumerate(args):
        if i and not _is_str(args[i - 1]) and not _is_str(arg):
            out.append(" ")
        out.append(format_value(arg, limit))
        size += len(out[-1]) + 1
        if size > limit:
            raise LimitError(f"output larger than {limit} characters")
    return "".join(out)


def sprintln(args: Sequence[Any], limit: int) -> str:
    """``fmt.Sprintln``: operands always space-separated, then a newline."""
    parts: list[str] = []
    size = 0
    for arg in args:
        parts.append(format_value(arg, limit))
        size += len(parts[-1]) + 1
        if size > limit:
            raise LimitError(f"output larger than {limit} characters")
    return " ".join(parts) + "\n"


def sprintf(fmt: str, args: Sequence[Any], limit: int) -> str:
    """``fmt.Sprintf`` for the verbs above."""
    out: list[str] = []
    size, used, pos = 0, 0, 0
    for match in _SPEC.finditer(fmt):
        out.append(fmt[pos : match.start()])
        pos = match.end()
        flags, width, precision, verb = match.groups()
        if verb == "%":
            out.append("%")
        elif not verb:
            out.append("%!(NOVERB)")
        elif used >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            spec = _Spec(flags, _capped(width, limit), _capped(precision, limit), verb)
            out.append(spec.render(args[used], limit))
            used += 1
        size += len(out[-1]) + len(out[-2])
        if size > limit:
            raise LimitError(f"output larger than {limit} characters")
    out.append(fmt[pos:])
    if used < len(args):
        extra = ", ".join(f"{type_name(a)}={format_value(a, limit)}" for a in args[used:])
        out.append(f"%!(EXTRA {extra})")
    return "".join(out)


def _capped(number: str | None, limit: int) -> int | None:
    if number is None:
        return None
    if len(number) > 9 or int(number or "0") > limit:
        raise LimitError(f"printf width or precision larger than {limit}")
    return int(number or "0")


class _Spec:
    __slots__ = ("flags", "precision", "verb", "width")

    def __init__(self, flags: str, width: int | None, precision: int | None, verb: str) -> None:
        self.flags, self.width, self.precision, self.verb = flags, width, precision, verb

    def render(self, arg: Any, limit: int) -> str:
        if arg is None or arg is MISSING:
            return self.pad("<nil>") if self.verb == "v" else f"%!{self.verb}(<nil>)"
        body = self.body(arg, limit)
        if body is None:
            return f"%!{self.verb}({type_name(arg)}={format_value(arg, limit)})"
        return self.pad(body)

    def body(self, arg: Any, limit: int) -> str | None:
        verb, precision = self.verb, self.precision
        if isinstance(arg, bool):
            return ("true" if arg else "false") if verb in "vt" else None
        if isinstance(arg, int):
            return self.integer(arg)
        if isinstance(arg, float):
            return self.floating(arg)
        if isinstance(arg, str) or (isinstance(arg, GoStruct) and arg.go_string() is not None):
            text = arg if isinstance(arg, str) else str(arg.go_string())
            if precision is not None and verb in "sqv":
                text = text[:precision]
            if verb in "sv":
                return text
            if verb == "q":
                return go_quote(text)
            if verb in "xX":
                hexed = text.encode("utf-8", "surrogatepass").hex()
                return hexed.upper() if verb == "X" else hexed
            return None
        if verb in "vs" or (verb == "d" and isinstance(arg, list | tuple)):
            return format_value(arg, limit)
        if verb == "q" and isinstance(arg, list | tuple):
            return format_value(arg, limit, "q")
        return None

    def integer(self, value: int) -> str | None:
        verb = self.verb
        bases = {"d": "d", "v": "d", "x": "x", "X": "X", "o": "o", "b": "b"}
        if verb == "c":
            return chr(value) if 0 <= value <= 0x10FFFF else "\ufffd"
        if verb == "q":
            return "'" + go_quote(chr(value))[1:-1].replace("'", "\\'") + "'"
        if verb not in bases:
            return None
        digits = format(abs(value), bases[verb])
        if self.precision is not None:
            digits = digits.rjust(self.precision, "0")
        sign = "-" if value < 0 else "+" if "+" in self.flags else " " if " " in self.flags else ""
        return sign + digits

    def floating(self, value: float) -> str | None:
        verb = self.verb
        if verb == "v":
            verb = "g"
        if verb not in "feEgG":
            return None
        precision = 6 if self.precision is None and verb in "feE" else self.precision
        if verb in "gG" and precision is None:
            text = go_float(value)
            return text.upper() if verb == "G" else text
        return format(value, f"{'+' if '+' in self.flags else ''}.{precision}{verb}")

    def pad(self, body: str) -> str:
        width = self.width
        if width is None or len(body) >= width:
            return body
        if "-" in self.flags:
            return body.ljust(width)
        if "0" in self.flags and self.verb in "dxXobfeEgGv" and body[:1] in "+- " + "0123456789":
            sign = body[0] if body[0] in "+- " else ""
            return sign + body[len(sign) :].rjust(width - len(sign), "0")
        return body.rjust(width)


def _is_str(value: Any) -> bool:
    return isinstance(value, str)


def stringify(args: Sequence[Any], limit: int) -> str:
    """The text an escaper works on: its one string argument, else ``fmt.Sprint(args...)``."""
    if len(args) == 1 and isinstance(args[0], str):
        return args[0]
    return sprint(args, limit)


_HTML = {'"': "&#34;", "'": "&#39;", "&": "&amp;", "<": "&lt;", ">": "&gt;", "\0": "\ufffd"}
_JS = {
    "\\": "\\\\",
    "'": "\\'",
    '"': '\\"',
    "<": "\\u003C",
    ">": "\\u003E",
    "&": "\\u0026",
    "=": "\\u003D",
}


def html_escape(text: str) -> str:
    return "".join(_HTML.get(char, char) for char in text)


def js_escape(text: str) -> str:
    out: list[str] = []
    for char in text:
        if char in _JS:
            out.append(_JS[char])
        elif ord(char) < 0x20 or (ord(char) >= 0x80 and not char.isprintable()):
            out.append(f"\\u{ord(char):04X}")
        else:
            out.append(char)
    return "".join(out)


def url_query_escape(text: str) -> str:
    return urllib.parse.quote_plus(text, safe="", encoding="utf-8", errors="surrogatepass")


__all__ = [
    "html_escape",
    "js_escape",
    "sprint",
    "sprintf",
    "sprintln",
    "stringify",
    "url_query_escape",
]
