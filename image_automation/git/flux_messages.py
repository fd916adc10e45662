"""Flux ``messageTemplate`` (a Go ``text/template``) → our sandboxed Jinja2 template.

Pure: text in, text out. Flux users keep their templates; we translate the common subset
onto the data :func:`image_automation.git.messages.template_data` exposes under ``flux``
(Flux-shaped: ``AutomationObject``, ``Changed.FileChanges``, ``Changed.Objects``,
``Changed.Changes``, ``Changed.ImageResult``, ``Values``). Anything outside the subset is a
:class:`MessageTemplateError` naming the action, never a silently different message.

Supported actions (``{{-`` / ``-}}`` trim markers work as in Go)::

    {{ .Field.Path }}   {{ $var }}  {{ $var.Field }}  {{ $ }}  {{ . }}
    {{ range PIPE }} / {{ range $v := PIPE }} / {{ range $k, $v := PIPE }}
    {{ if PIPE }} {{ else }} {{ end }}   {{ with PIPE }} ... {{ end }}
    {{ println ARGS }}  {{ print ARGS }}  {{ len ARG }}  {{/* comments */}}

``range`` over a map visits keys in sorted order, as Go does.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from image_automation.errors import ConfigError

_ACTION = re.compile(r"\{\{(-\s)?(.*?)(\s-)?\}\}", re.S)
_FIELD = re.compile(r"^(\$[A-Za-z0-9_]*|\.)?((?:\.[A-Za-z_][A-Za-z0-9_]*)*)$")
_RANGE_VARS = re.compile(r"^(\$[A-Za-z0-9_]+)\s*(?:,\s*(\$[A-Za-z0-9_]+)\s*)?:=\s*(.+)$", re.S)
SUPPORTED = (
    "field paths (.A.B, $v.A, ., $), range (with $k, $v :=), if/else, with, end, "
    "println, print, len, comments"
)


class FluxTemplateError(ConfigError):
    """A Flux message template uses Go template features we do not translate."""


@dataclass(slots=True)
class _Block:
    kind: str  # "range" | "if" | "with"
    dot: str  # the Jinja expression "." stood for before the block


def translate(source: str) -> str:
    """Translate a Flux Go template to a Jinja2 template over the ``flux`` variable."""
    out: list[str] = []
    stack: list[_Block] = []
    state = {"dot": "flux", "n": 0}
    pos = 0
    for match in _ACTION.finditer(source):
        out.append(_literal(source[pos : match.start()]))
        pos = match.end()
        left = "-" if match.group(1) else ""
        right = "-" if match.group(3) else ""
        body = match.group(2).strip()
        line = source.count("\n", 0, match.start()) + 1
        try:
            out.append(_action(body, left=left, right=right, stack=stack, state=state))
        except FluxTemplateError as exc:
            raise FluxTemplateError(
                f"Flux message template, line {line}: {{{{ {body} }}}}: {exc.message}"
            ) from None
    out.append(_literal(source[pos:]))
    if stack:
        raise FluxTemplateError(f"Flux message template: {stack[-1].kind} without {{{{ end }}}}")
    if "{{" in source[pos:]:
        raise FluxTemplateError("Flux message template: unclosed {{")
    return "".join(out)


def _literal(text: str) -> str:
    """Literal text that contains Jinja syntax is emitted as a Jinja string expression."""
    if not any(token in text for token in ("{{", "{%", "{#", "%}", "}}", "#}")):
        return text
    escaped = text.replace("\\", "\\\\").replace("'", "\\'").replace("\n", "\\n")
    return "{{ '" + escaped + "' }}"


def _action(
    body: str, *, left: str, right: str, stack: list[_Block], state: dict[str, object]
) -> str:
    if body.startswith("/*"):
        return f"{{#{left} #{right}}}" if left or right else ""
    word, _, rest = body.partition(" ")
    rest = rest.strip()
    dot = str(state["dot"])
    if word == "end":
        if not stack:
            raise FluxTemplateError("end without range/if/with")
        block = stack.pop()
        state["dot"] = block.dot
        closing = {"range": "endfor", "if": "endif", "with": "endif"}[block.kind]
        return f"{{%{left} {closing} {right}%}}"
    if word == "else":
        if not stack or stack[-1].kind == "with":
            raise FluxTemplateError("else is supported inside if and range only")
        if rest:
            raise FluxTemplateError("else if is not supported")
        return f"{{%{left} else {right}%}}"
    if word == "if":
        stack.append(_Block("if", dot))
        return f"{{%{left} if {_pipeline(rest, dot)} {right}%}}"
    if word == "with":
        target = _pipeline(rest, dot)
        stack.append(_Block("with", dot))
        state["n"] = int(str(state["n"])) + 1
        name = f"_w{state['n']}"
        state["dot"] = name
        return f"{{%{left} if {target} %}}{{% set {name} = {target} {right}%}}"
    if word == "range":
        return _range(rest, left=left, right=right, stack=stack, state=state)
    if word in ("define", "template", "block", "break", "continue"):
        raise FluxTemplateError(f"'{word}' is not supported (supported: {SUPPORTED})")
    return f"{{{{{left} {_pipeline(body, dot)} {right}}}}}"


def _range(
    rest: str, *, left: str, right: str, stack: list[_Block], state: dict[str, object]
) -> str:
    dot = str(state["dot"])
    stack.append(_Block("range", dot))
    state["n"] = int(str(state["n"])) + 1
    item = f"_r{state['n']}"
    bound = _RANGE_VARS.match(rest)
    if bound:
        first, second, pipe = bound.groups()
        key, value = (_var(first), _var(second)) if second else ("_", _var(first))
        target = _pipeline(pipe.strip(), dot)
        # Go keeps "." as the element even when variables are declared.
        state["dot"] = value
        return f"{{%{left} for {key}, {value} in {target} | go_range {right}%}}"
    target = _pipeline(rest, dot)
    state["dot"] = item
    return f"{{%{left} for _, {item} in {target} | go_range {right}%}}"


def _var(name: str) -> str:
    return "flux" if name == "$" else f"v_{name[1:]}"


def _pipeline(text: str, dot: str) -> str:
    if "|" in text:
        raise FluxTemplateError(f"pipelines are not supported (supported: {SUPPORTED})")
    parts = _split_args(text)
    if not parts:
        raise FluxTemplateError("empty action")
    head, args = parts[0], parts[1:]
    if head in ("println", "print"):
        values = " ~ ' ' ~ ".join(f"({_operand(a, dot)})" for a in args) or "''"
        if head == "println":
            values = f"({values}) ~ '\\n'" if args else "'\\n'"
        return f"{values}"
    if head == "len":
        if len(args) != 1:
            raise FluxTemplateError("len takes one argument")
        return f"({_operand(args[0], dot)} | length)"
    if args:
        raise FluxTemplateError(f"function '{head}' is not supported (supported: {SUPPORTED})")
    return _operand(head, dot)


def _split_args(text: str) -> list[str]:
    parts: list[str] = []
    for token in re.findall(r'"(?:[^"\\]|\\.)*"|\S+', text):
        parts.append(token)
    return parts


def _operand(token: str, dot: str) -> str:
    if token.startswith('"'):
        return "'" + token[1:-1].replace("'", "\\'") + "'"
    if re.fullmatch(r"-?\d+", token):
        return token
    if token.startswith("(") or token.endswith(")"):
        raise FluxTemplateError(f"parenthesised pipelines are not supported ({SUPPORTED})")
    match = _FIELD.match(token)
    if not match or (not match.group(1) and not match.group(2)):
        raise FluxTemplateError(f"'{token}' is not supported (supported: {SUPPORTED})")
    base, path = match.group(1), match.group(2)
    if base is None or base == ".":
        root = dot
        if base == "." and path:
            raise FluxTemplateError(f"'{token}' is not a field path")
    else:
        root = _var(base)
    fields = [f for f in path.split(".") if f]
    return root + "".join(f"[{f!r}]" for f in fields)


__all__ = ["SUPPORTED", "FluxTemplateError", "translate"]
