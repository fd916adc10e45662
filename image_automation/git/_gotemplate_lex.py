"""Go ``text/template`` source → tokens, as Go's lexer cuts it.

Text outside ``{{ }}`` becomes TEXT tokens (already trimmed by ``{{-`` / ``-}}`` markers, which
need a space beside the dash exactly as in Go, so ``{{-3}}`` is the number -3); comments
``{{/* */}}`` vanish. Inside an action: spaces (newlines included, as Go >= 1.16), fields
``.Name``, variables ``$x`` / ``$``, identifiers and keywords, string, raw-string, character
and number literals, ``|``, ``(``, ``)``, ``:=``, ``=`` and ``,``. Every token keeps its offset
so errors can name the template's line and column.
"""

from __future__ import annotations

from dataclasses import dataclass

_SPACE = " \t\r\n"
_ALNUM = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789_")
KEYWORDS = frozenset(
    {"block", "break", "continue", "define", "else", "end", "if", "range", "template", "with"}
)
_ESCAPES = {
    "a": "\a",
    "b": "\b",
    "f": "\f",
    "n": "\n",
    "r": "\r",
    "t": "\t",
    "v": "\v",
    "\\": "\\",
    "'": "'",
    '"': '"',
}
_HEX_WIDTH = {"x": 2, "u": 4, "U": 8}


class GoTemplateError(Exception):
    """A template problem at offset ``pos`` of the source (-1 when it has none)."""

    def __init__(self, message: str, pos: int = -1) -> None:
        super().__init__(message)
        self.message = message
        self.pos = pos


@dataclass(frozen=True, slots=True)
class Token:
    """``kind`` is one of TEXT LEFT RIGHT SPACE FIELD VAR IDENT KEYWORD BOOL NIL DOT STRING
    NUMBER CHAR PIPE LPAREN RPAREN DECLARE ASSIGN COMMA EOF; ``value`` is the decoded text
    (strings unquoted, fields without the dot)."""

    kind: str
    value: str
    pos: int


def line_col(source: str, pos: int) -> tuple[int, int]:
    """1-based line and column (in characters) of offset ``pos``."""
    line = source.count("\n", 0, pos) + 1
    start = source.rfind("\n", 0, pos) + 1
    return line, pos - start + 1


def tokenize(source: str) -> list[Token]:
    """All tokens of ``source``, ending with EOF; raises :class:`GoTemplateError`."""
    out: list[Token] = []
    pos, trim_next = 0, False
    while True:
        start = source.find("{{", pos)
        text = source[pos:] if start < 0 else source[pos:start]
        if trim_next:
            text = text.lstrip(_SPACE)
        if start < 0:
            if text:
                out.append(Token("TEXT", text, pos))
            out.append(Token("EOF", "", len(source)))
            return out
        inner = start + 2
        trim_left = source.startswith("-", inner) and source[inner + 1 : inner + 2] in tuple(_SPACE)
        if trim_left:
            text, inner = text.rstrip(_SPACE), inner + 2
        if text:
            out.append(Token("TEXT", text, pos))
        if source.startswith("/*", inner):
            pos, trim_next = _comment(source, inner)
            continue
        out.append(Token("LEFT", "{{", start))
        pos, trim_next = _action(source, inner, out)


def _comment(source: str, start: int) -> tuple[int, bool]:
    end = source.find("*/", start + 2)
    if end < 0:
        raise GoTemplateError("unclosed comment", start)
    after = end + 2
    if source[after : after + 1] in tuple(_SPACE) and source.startswith("-}}", after + 1):
        return after + 4, True
    if source.startswith("}}", after):
        return after + 2, False
    raise GoTemplateError("comment ends before closing delimiter", start)


def _action(source: str, pos: int, out: list[Token]) -> tuple[int, bool]:
    """Tokens of one action from ``pos``; returns the offset after ``}}`` and its trim flag."""
    depth = 0
    while True:
        if pos >= len(source):
            raise GoTemplateError("unclosed action", pos)
        char = source[pos]
        if char in _SPACE and source.startswith("-}}", pos + 1):
            return _close(pos + 1, depth, trim=True, out=out)
        if source.startswith("}}", pos):
            return _close(pos, depth, trim=False, out=out)
        if char in _SPACE:
            end = pos
            while end < len(source) and source[end] in _SPACE:
                if source.startswith("-}}", end + 1):
                    break
                end += 1
            out.append(Token("SPACE", " ", pos))
            pos = max(end, pos + 1)
            continue
        if char == "(":
            depth += 1
        elif char == ")":
            depth -= 1
            if depth < 0:
                raise GoTemplateError("unexpected right paren", pos)
        pos = _one(source, pos, out)


def _close(pos: int, depth: int, *, trim: bool, out: list[Token]) -> tuple[int, bool]:
    if depth:
        raise GoTemplateError("unclosed left paren", pos)
    out.append(Token("RIGHT", "}}", pos))
    return pos + (3 if trim else 2), trim


_SINGLE = {"|": "PIPE", "(": "LPAREN", ")": "RPAREN", ",": "COMMA", "=": "ASSIGN"}


def _one(source: str, pos: int, out: list[Token]) -> int:
    """Lex the token at ``pos`` (not a space, not ``}}``); returns the offset after it."""
    char = source[pos]
    if char in _SINGLE:
        out.append(Token(_SINGLE[char], char, pos))
        return pos + 1
    if char == ":":
        if not source.startswith(":=", pos):
            raise GoTemplateError("expected :=", pos)
        out.append(Token("DECLARE", ":=", pos))
        return pos + 2
    if char == '"':
        return _quoted(source, pos, out)
    if char == "`":
        end = source.find("`", pos + 1)
        if end < 0:
            raise GoTemplateError("unterminated raw quoted string", pos)
        out.append(Token("STRING", source[pos + 1 : end], pos))
        return end + 1
    if char == "'":
        return _char(source, pos, out)
    if char == "$":
        end = _word_end(source, pos + 1)
        out.append(Token("VAR", source[pos:end], pos))
        return end
    if char == "." and not source[pos + 1 : pos + 2].isdigit():
        end = _word_end(source, pos + 1)
        out.append(
            Token("FIELD", source[pos + 1 : end], pos) if end > pos + 1 else Token("DOT", ".", pos)
        )
        return end
    if char.isdigit() or (char in "+-." and _starts_number(source, pos)):
        return _number(source, pos, out)
    if char in _ALNUM or char.isalpha():
        end = _word_end(source, pos)
        word = source[pos:end]
        kind = "KEYWORD" if word in KEYWORDS else "IDENT"
        kind = "BOOL" if word in ("true", "false") else "NIL" if word == "nil" else kind
        out.append(Token(kind, word, pos))
        return end
    raise GoTemplateError(f"unrecognized character in action: {char!r}", pos)


def _word_end(source: str, pos: int) -> int:
    while pos < len(source) and (source[pos] in _ALNUM or source[pos].isalpha()):
        pos += 1
    return pos


def _starts_number(source: str, pos: int) -> bool:
    rest = source[pos + 1 : pos + 3]
    return bool(rest) and (rest[0].isdigit() or (rest[0] == "." and rest[1:2].isdigit()))


def _number(source: str, pos: int, out: list[Token]) -> int:
    end = pos + 1
    while end < len(source) and (source[end] in _ALNUM or source[end] == "."):
        if source[end] in "eEpP" and source[end + 1 : end + 2] in ("+", "-"):
            end += 1
        end += 1
    text = source[pos:end]
    out.append(Token("NUMBER", text, pos))
    return end


def _quoted(source: str, pos: int, out: list[Token]) -> int:
    chars: list[str] = []
    i = pos + 1
    while True:
        if i >= len(source) or source[i] == "\n":
            raise GoTemplateError("unterminated quoted string", pos)
        char = source[i]
        if char == '"':
            out.append(Token("STRING", "".join(chars), pos))
            return i + 1
        if char == "\\":
            decoded, i = _escape(source, i, pos)
            chars.append(decoded)
            continue
        chars.append(char)
        i += 1


def _char(source: str, pos: int, out: list[Token]) -> int:
    if source[pos + 1 : pos + 2] == "\\":
        decoded, end = _escape(source, pos + 1, pos)
    else:
        decoded, end = source[pos + 1 : pos + 2], pos + 2
    if len(decoded) != 1 or source[end : end + 1] != "'":
        raise GoTemplateError("malformed character constant", pos)
    out.append(Token("CHAR", decoded, pos))
    return end + 1


def _escape(source: str, i: int, token_pos: int) -> tuple[str, int]:
    """Decode the Go escape at ``source[i] == '\\'``; returns (text, offset after it)."""
    code = source[i + 1 : i + 2]
    if code in _ESCAPES:
        return _ESCAPES[code], i + 2
    width = _HEX_WIDTH.get(code)
    if width is None and code.isdigit() and code < "8":
        digits = source[i + 1 : i + 4]
        if len(digits) == 3 and all(d in "01234567" for d in digits) and int(digits, 8) < 256:
            return chr(int(digits, 8)), i + 4
    if width is not None:
        digits = source[i + 2 : i + 2 + width]
        if len(digits) == width and all(d in "0123456789abcdefABCDEF" for d in digits):
            value = int(digits, 16)
            if value <= 0x10FFFF:
                return chr(value), i + 2 + width
    raise GoTemplateError("invalid escape in quoted string", token_pos)


__all__ = ["KEYWORDS", "GoTemplateError", "Token", "line_col", "tokenize"]
