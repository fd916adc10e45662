"""The nodes of a parsed Go template: immutable, so one parse serves every render.

Each node keeps ``pos``, its offset in the template source, for errors that name a line.
Operands are what a command is made of; ``Block`` is ``if``/``with``/``range`` (Go's
``{{else if}}`` is a ``Block`` alone in the ``orelse`` of another).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True, slots=True)
class Literal:
    pos: int
    value: Any
    text: str


@dataclass(frozen=True, slots=True)
class Number:
    """A numeric constant: Go keeps it untyped until it meets a parameter."""

    pos: int
    text: str
    value: int | float


@dataclass(frozen=True, slots=True)
class Dot:
    pos: int


@dataclass(frozen=True, slots=True)
class Nil:
    pos: int


@dataclass(frozen=True, slots=True)
class Field:
    """``.A.B`` from dot."""

    pos: int
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Variable:
    """``$x.A.B`` (``names`` may be empty)."""

    pos: int
    name: str
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Ident:
    """A function name."""

    pos: int
    name: str


@dataclass(frozen=True, slots=True)
class Chain:
    """``(pipeline).A.B`` or ``function.A.B`` (the function called without arguments)."""

    pos: int
    node: Pipe | Ident
    names: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class Command:
    pos: int
    args: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Pipe:
    pos: int
    decl: tuple[str, ...]
    is_assign: bool
    cmds: tuple[Command, ...]


Operand = Literal | Number | Dot | Nil | Field | Variable | Ident | Chain | Pipe


@dataclass(frozen=True, slots=True)
class Text:
    pos: int
    text: str


@dataclass(frozen=True, slots=True)
class Action:
    pos: int
    pipe: Pipe


@dataclass(frozen=True, slots=True)
class Block:
    """``if`` / ``with`` / ``range``: ``body`` runs when the pipe is non-empty, else ``orelse``."""

    pos: int
    kind: str
    pipe: Pipe
    body: tuple[Node, ...]
    orelse: tuple[Node, ...]


@dataclass(frozen=True, slots=True)
class Jump:
    """``break`` or ``continue``."""

    pos: int
    kind: str


Node = Text | Action | Block | Jump


__all__ = [
    "Action",
    "Block",
    "Chain",
    "Command",
    "Dot",
    "Field",
    "Ident",
    "Jump",
    "Literal",
    "Nil",
    "Node",
    "Number",
    "Operand",
    "Pipe",
    "Text",
    "Variable",
]
