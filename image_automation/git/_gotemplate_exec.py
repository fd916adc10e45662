"""Execute a parsed Go template over plain data, as ``text/template``'s ``Execute`` does.

Semantics kept from Go: the value of each pipeline stage becomes the *last* argument of the
next; ``and``/``or`` stop at the first deciding argument; ``if``/``with``/``range`` use Go's
truth; ``range`` visits maps in sorted key order, declares ``$v`` or ``$i, $v``, counts an
integer, and runs ``else`` when there is nothing to visit; variables live until the ``end``
of the block that declared them; an action that declares a variable prints nothing.

Execution is bounded: the output is capped (:data:`MAX_OUTPUT`), so is what function results
add up to (:data:`MAX_ALLOCATED`), and so is the work, in steps (one per node, iteration or
call; :data:`MAX_STEPS`), so a hostile template (a range inside a range over ``until
100000``, a loop appending large strings) fails with a clear error instead of running for
hours or filling memory.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from contextlib import suppress
from typing import Any

from image_automation.git._gotemplate_builtins import (
    MAX_ALLOCATED,
    MAX_OUTPUT,
    FuncError,
    GoFunc,
    check_size,
)
from image_automation.git._gotemplate_lex import GoTemplateError
from image_automation.git._gotemplate_nodes import (
    Action,
    Block,
    Chain,
    Command,
    Dot,
    Field,
    Ident,
    Jump,
    Literal,
    Nil,
    Node,
    Number,
    Operand,
    Pipe,
    Text,
    Variable,
)
from image_automation.git._gotemplate_values import (
    MISSING,
    Budget,
    GoStruct,
    LimitError,
    field,
    format_into,
    format_value,
    is_true,
    sort_key,
    type_name,
)

MAX_STEPS = 1_000_000
"""Nodes, iterations and function calls one execution may take."""

_NO_FINAL: Any = object()
"""No value is piped into this command (distinct from Go's "no value", MISSING)."""


class _Break(Exception):
    pass


class _Continue(Exception):
    pass


def execute(nodes: list[Node], data: Any, functions: Mapping[str, GoFunc]) -> tuple[str, list[str]]:
    """The text ``nodes`` render over ``data``, and the notes raised on the way (fields a
    newer API deprecates). Raises :class:`GoTemplateError` with the offending offset."""
    run = _Run(data, functions)
    run.walk(data, nodes)
    return run.out.text(), run.notes


class _Run:
    def __init__(self, data: Any, functions: Mapping[str, GoFunc]) -> None:
        self.out = Budget(MAX_OUTPUT)
        self.functions = functions
        self.vars: list[list[Any]] = [["$", data]]
        self.steps = 0
        self.allocated = 0
        self.notes: list[str] = []

    def step(self) -> None:
        self.steps += 1
        if self.steps > MAX_STEPS:
            raise LimitError(f"template took more than {MAX_STEPS} steps")

    # -- structure ----------------------------------------------------------------------------

    def walk(self, dot: Any, nodes: tuple[Node, ...] | list[Node]) -> None:
        for node in nodes:
            self.step()
            try:
                self.node(dot, node)
            except GoTemplateError as exc:
                if exc.pos < 0:
                    exc.pos = node.pos
                raise

    def node(self, dot: Any, node: Node) -> None:
        if isinstance(node, Text):
            self.out.write(node.text)
        elif isinstance(node, Action):
            value = self.pipeline(dot, node.pipe)
            if not node.pipe.decl:
                format_into(value, self.out)
        elif isinstance(node, Block):
            if node.kind == "range":
                self.range(dot, node)
            else:
                self.if_or_with(dot, node)
        elif isinstance(node, Jump):
            raise _Break if node.kind == "break" else _Continue

    def if_or_with(self, dot: Any, block: Block) -> None:
        mark = len(self.vars)
        value = self.pipeline(dot, block.pipe)
        if is_true(value):
            self.walk(value if block.kind == "with" else dot, block.body)
        else:
            self.walk(dot, block.orelse)
        del self.vars[mark:]

    def range(self, dot: Any, block: Block) -> None:
        mark = len(self.vars)
        pipe = block.pipe
        value = self.pipeline(dot, pipe, declare=False)
        if not pipe.is_assign:
            self.vars.extend([name, MISSING] for name in pipe.decl)
        visited = False
        for key, item in self.items(value, pipe):
            visited = True
            self.step()
            inner = len(self.vars)
            self.bind(pipe, key, item)
            try:
                self.walk(item, block.body)
            except _Continue:
                pass
            except _Break:
                break
            finally:
                del self.vars[inner:]
        if not visited:
            with suppress(_Break):  # Go's range absorbs a break from its else branch too
                self.walk(dot, block.orelse)
        del self.vars[mark:]

    def items(self, value: Any, pipe: Pipe) -> Iterator[tuple[Any, Any]]:
        if value is MISSING:
            return iter(())
        if isinstance(value, list | tuple):
            return enumerate(value)
        if isinstance(value, Mapping):
            return ((k, value[k]) for k in sorted(value, key=sort_key))
        if isinstance(value, int) and not isinstance(value, bool):
            if len(pipe.decl) > 1:
                raise GoTemplateError(f"can't use {value} to iterate over more than one variable")
            return ((i, i) for i in range(value))
        raise GoTemplateError(f"range can't iterate over {_show(value)}")

    def bind(self, pipe: Pipe, key: Any, item: Any) -> None:
        """Set the range variables: ``$v`` is the element; with two, ``$i`` is the key."""
        if not pipe.decl:
            return
        names = pipe.decl
        values = (key, item) if len(names) > 1 else (item,)
        for name, value in zip(names, values, strict=True):
            self.set_var(name, value)

    # -- pipelines ----------------------------------------------------------------------------

    def pipeline(self, dot: Any, pipe: Pipe, *, declare: bool = True) -> Any:
        value = _NO_FINAL
        for cmd in pipe.cmds:
            value = self.command(dot, cmd, value)
        if declare:
            for name in pipe.decl:
                if pipe.is_assign:
                    self.set_var(name, value)
                else:
                    self.vars.append([name, value])
        return value

    def command(self, dot: Any, cmd: Command, final: Any) -> Any:
        first = cmd.args[0]
        if isinstance(first, Ident):
            return self.call(dot, first, cmd.args[1:], final)
        if len(cmd.args) > 1 or final is not _NO_FINAL:
            what = _text(first)
            if isinstance(first, Field | Variable | Chain) and first.names:
                raise GoTemplateError(f"{what} has arguments but is not a function", first.pos)
            raise GoTemplateError(f"can't give argument to non-function {what}", first.pos)
        return self.value(dot, first)

    def value(self, dot: Any, node: Operand) -> Any:
        """The value of an operand used without arguments."""
        if isinstance(node, Field):
            return self.fields(dot, node.names, node.pos)
        if isinstance(node, Variable):
            return self.fields(self.var(node.name, node.pos), node.names, node.pos)
        if isinstance(node, Chain):
            inner = self.value(dot, node.node)
            return self.fields(inner, node.names, node.pos)
        if isinstance(node, Pipe):
            return self.pipeline(dot, node)
        if isinstance(node, Ident):
            return self.call(dot, node, (), _NO_FINAL)
        if isinstance(node, Dot):
            return dot
        if isinstance(node, Number | Literal):
            return node.value
        assert isinstance(node, Nil)
        return None

    def fields(self, receiver: Any, names: tuple[str, ...], pos: int) -> Any:
        for name in names:
            if isinstance(receiver, GoStruct) and name in receiver.deprecated:
                note = receiver.deprecated[name]
                if note not in self.notes:
                    self.notes.append(note)
            try:
                receiver = field(receiver, name)
            except GoTemplateError as exc:
                exc.pos = pos if exc.pos < 0 else exc.pos
                raise
        return receiver

    def var(self, name: str, pos: int) -> Any:
        for entry in reversed(self.vars):
            if entry[0] == name:
                return entry[1]
        raise GoTemplateError(f"undefined variable: {name}", pos)

    def set_var(self, name: str, value: Any) -> None:
        for entry in reversed(self.vars):
            if entry[0] == name:
                entry[1] = value
                return
        self.vars.append([name, value])

    # -- calls --------------------------------------------------------------------------------

    def call(self, dot: Any, ident: Ident, nodes: tuple[Operand, ...], final: Any) -> Any:
        self.step()
        name = ident.name
        count = len(nodes) + (final is not _NO_FINAL)
        if name in ("and", "or"):
            if not count:
                raise GoTemplateError(f"wrong number of args for {name}: want at least 1 got 0")
            return self.logic(dot, name == "and", nodes, final)
        func = self.functions[name]
        _check_arity(name, func, count, ident.pos)
        kinds = [*func.params, *([func.variadic or "any"] * (count - len(func.params)))]
        values = [self.arg(dot, node, kind) for node, kind in zip(nodes, kinds, strict=False)]
        if final is not _NO_FINAL:
            values.append(_coerce(final, kinds[-1]))
        try:
            return self.account(check_size(func.impl(*values)))
        except FuncError as exc:
            raise GoTemplateError(f"error calling {name}: {exc}", ident.pos) from None
        except LimitError as exc:
            exc.pos = ident.pos if exc.pos < 0 else exc.pos
            raise
        except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
            raise GoTemplateError(f"error calling {name}: {exc}", ident.pos) from None

    def account(self, value: Any) -> Any:
        """Count what a function made against :data:`MAX_ALLOCATED`."""
        if isinstance(value, str | list | tuple | Mapping):
            self.allocated += len(value)
            if self.allocated > MAX_ALLOCATED:
                raise LimitError(f"function results add up to more than {MAX_ALLOCATED}")
        return value

    def logic(self, dot: Any, is_and: bool, nodes: tuple[Operand, ...], final: Any) -> Any:
        value: Any = None
        for node in nodes:
            value = self.arg(dot, node, "any")
            if is_true(value) != is_and:
                return value
        return final if final is not _NO_FINAL else value

    def arg(self, dot: Any, node: Operand, kind: str) -> Any:
        if isinstance(node, Number | Literal):
            return _constant(node, kind)
        if isinstance(node, Nil):
            if kind != "any":
                raise GoTemplateError(f"cannot assign nil to {kind}", node.pos)
            return None
        try:
            return _coerce(self.value(dot, node), kind)
        except GoTemplateError as exc:
            exc.pos = node.pos if exc.pos < 0 else exc.pos
            raise


def _check_arity(name: str, func: GoFunc, count: int, pos: int) -> None:
    want = len(func.params)
    if func.variadic is None and count != want:
        raise GoTemplateError(f"wrong number of args for {name}: want {want} got {count}", pos)
    if func.variadic is not None and count < want:
        raise GoTemplateError(
            f"wrong number of args for {name}: want at least {want} got {count}", pos
        )


def _coerce(value: Any, kind: str) -> Any:
    """Check ``value`` against a parameter kind, as Go's ``validateType`` does."""
    if kind == "any":
        return None if value is MISSING else value
    if value is MISSING:
        raise GoTemplateError(f"invalid value; expected {kind}")
    ok = {
        "string": isinstance(value, str),
        "int": isinstance(value, int) and not isinstance(value, bool),
        "bool": isinstance(value, bool),
    }[kind]
    if not ok:
        raise GoTemplateError(f"wrong type for value; expected {kind}; got {type_name(value)}")
    return value


def _constant(node: Number | Literal, kind: str) -> Any:
    """A constant meeting a parameter of ``kind``: Go keeps numbers untyped until here."""
    value = node.value
    if kind == "any":
        return value
    if kind == "int" and isinstance(node, Number):
        if isinstance(value, int):
            return value
        if value.is_integer():
            return int(value)
    if (kind == "string" and isinstance(value, str)) or (
        kind == "bool" and isinstance(value, bool)
    ):
        return value
    expected = "integer" if kind == "int" else kind
    raise GoTemplateError(f"expected {expected}; found {node.text}", node.pos)


def _text(node: Operand) -> str:
    if isinstance(node, Field):
        return "." + ".".join(node.names)
    if isinstance(node, Variable):
        return "".join([node.name, *(f".{n}" for n in node.names)])
    if isinstance(node, Literal | Number):
        return node.text
    return {Dot: ".", Nil: "nil", Pipe: "(pipeline)", Chain: "(pipeline)"}.get(type(node), "?")


def _show(value: Any) -> str:
    try:
        return format_value(value, 200)
    except LimitError:
        return type_name(value)


__all__ = ["MAX_STEPS", "execute"]
