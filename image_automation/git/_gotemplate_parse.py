"""Tokens → a tree of immutable nodes, with the checks Go's parser makes before execution.

Like Go: a function must exist, a variable must be declared before use (``$`` always is),
``{{ else if }}`` / ``{{ else with }}`` become a nested block in the else branch, ``break`` and
``continue`` only live inside ``range``, a literal cannot be a later pipeline stage. The
nesting of blocks and parentheses is capped so a hostile template cannot exhaust the stack.
``define``, ``template`` and ``block`` are refused: a commit message is one template.
"""

from __future__ import annotations

from collections.abc import Callable, Container

from image_automation.git._gotemplate_lex import GoTemplateError, Token, tokenize
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
from image_automation.git._gotemplate_values import go_quote

MAX_DEPTH = 100
"""Nested blocks plus parentheses a template may open; deeper is refused at parse time."""


def parse(source: str, *, functions: Container[str], explain: Callable[[str], str]) -> list[Node]:
    """The nodes of ``source``; ``explain(name)`` words the error for an unknown function."""
    return _Parser(tokenize(source), functions, explain).parse()


class _Parser:
    def __init__(
        self, tokens: list[Token], functions: Container[str], explain: Callable[[str], str]
    ) -> None:
        self.tokens, self.i = tokens, 0
        self.functions, self.explain = functions, explain
        self.vars: list[str] = ["$"]
        self.depth = 0
        self.ranges = 0

    # -- token helpers ------------------------------------------------------------------------

    def next(self) -> Token:
        token = self.tokens[self.i]
        self.i += 1
        return token

    def peek(self) -> Token:
        return self.tokens[self.i]

    def next_non_space(self) -> Token:
        token = self.next()
        while token.kind == "SPACE":
            token = self.next()
        return token

    def peek_non_space(self) -> Token:
        j = self.i
        while self.tokens[j].kind == "SPACE":
            j += 1
        return self.tokens[j]

    def expect_right(self, context: str) -> None:
        token = self.next_non_space()
        if token.kind != "RIGHT":
            raise GoTemplateError(f"unexpected {_show(token)} in {context}", token.pos)

    def enter(self, pos: int) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise GoTemplateError(f"nested more than {MAX_DEPTH} levels deep", pos)

    # -- structure ----------------------------------------------------------------------------

    def parse(self) -> list[Node]:
        nodes, stop = self.items()
        if stop.kind != "EOF":
            raise GoTemplateError(f"unexpected {{{{{stop.value}}}}}", stop.pos)
        return nodes

    def items(self) -> tuple[list[Node], Token]:
        """Nodes up to EOF or an ``{{end}}`` / ``{{else}}`` keyword (returned, unconsumed)."""
        nodes: list[Node] = []
        while True:
            token = self.next()
            if token.kind == "EOF":
                return nodes, token
            if token.kind == "TEXT":
                nodes.append(Text(token.pos, token.value))
                continue
            word = self.peek_non_space()
            if word.kind == "KEYWORD" and word.value in ("end", "else"):
                self.next_non_space()
                return nodes, word
            nodes.append(self.action(token))

    def action(self, left: Token) -> Node:
        word = self.peek_non_space()
        if word.kind != "KEYWORD":
            pipe = self.pipeline("command", left.pos)
            return Action(left.pos, pipe)
        self.next_non_space()
        if word.value in ("if", "with", "range"):
            return self.block(word.value, word.pos)
        if word.value in ("break", "continue"):
            if not self.ranges:
                raise GoTemplateError(f"{{{{{word.value}}}}} outside {{{{range}}}}", word.pos)
            self.expect_right(word.value)
            return Jump(word.pos, word.value)
        raise GoTemplateError(
            f"{{{{{word.value}}}}} is not supported: a commit message template is one template",
            word.pos,
        )

    def block(self, kind: str, pos: int) -> Block:
        self.enter(pos)
        mark = len(self.vars)
        pipe = self.pipeline(kind, pos)
        self.ranges += kind == "range"
        body, stop = self.items()
        self.ranges -= kind == "range"
        orelse: tuple[Node, ...] = ()
        if stop.kind == "EOF":
            raise GoTemplateError(f"unexpected EOF: {{{{{kind}}}}} without {{{{end}}}}", pos)
        if stop.value == "else":
            orelse = self.orelse(kind, stop)
        else:
            self.expect_right("end")
        del self.vars[mark:]
        self.depth -= 1
        return Block(pos, kind, pipe, tuple(body), orelse)

    def orelse(self, kind: str, else_token: Token) -> tuple[Node, ...]:
        follow = self.peek_non_space()
        if follow.kind == "KEYWORD" and follow.value == kind and kind != "range":
            # {{else if X}} is {{else}}{{if X}}...{{end}}{{end}} with one shared {{end}}
            # ({{else with X}} likewise, as Go >= 1.23).
            self.next_non_space()
            return (self.block(follow.value, follow.pos),)
        self.expect_right("else")
        nodes, stop = self.items()
        if stop.kind == "EOF":
            raise GoTemplateError(
                f"unexpected EOF: {{{{{kind}}}}} without {{{{end}}}}", else_token.pos
            )
        if stop.value == "else":
            raise GoTemplateError("expected end; found {{else}}", stop.pos)
        self.expect_right("end")
        return tuple(nodes)

    # -- pipelines ----------------------------------------------------------------------------

    def pipeline(self, context: str, pos: int) -> Pipe:
        decl, is_assign = self.declarations(context)
        cmds: list[Command] = []
        while True:
            token = self.peek_non_space()
            if token.kind in ("RIGHT", "RPAREN"):
                self.next_non_space()
                if token.kind == "RPAREN" and context != "parenthesized pipeline":
                    raise GoTemplateError("unexpected right paren", token.pos)
                if token.kind == "RIGHT" and context == "parenthesized pipeline":
                    raise GoTemplateError("unclosed left paren", token.pos)
                break
            cmds.append(self.command())
        if not cmds:
            raise GoTemplateError(f"missing value for {context}", pos)
        for stage, cmd in enumerate(cmds[1:], start=2):
            if isinstance(cmd.args[0], Literal | Number | Dot | Nil):
                raise GoTemplateError(f"non executable command in pipeline stage {stage}", cmd.pos)
        self.vars.extend(v for v in decl if not is_assign)
        return Pipe(pos, decl, is_assign, tuple(cmds))

    def declarations(self, context: str) -> tuple[tuple[str, ...], bool]:
        """``$x :=``, ``$x =`` or (range only) ``$i, $v :=`` at the pipeline's start."""
        start = self.i
        names: list[str] = []
        while (var := self.peek_non_space()).kind == "VAR":
            self.next_non_space()
            names.append(var.value)
            op = self.next_non_space()
            if op.kind == "COMMA" and context == "range" and len(names) < 2:
                continue
            if op.kind in ("DECLARE", "ASSIGN"):
                is_assign = op.kind == "ASSIGN"
                for name in names if is_assign else ():
                    self.check_var(name, var.pos)
                return tuple(names), is_assign
            break
        self.i = start
        return (), False

    def command(self) -> Command:
        start = self.peek_non_space()
        args: list[Operand] = []
        while True:
            self.skip_spaces()
            operand = self.operand()
            if operand is not None:
                args.append(operand)
            token = self.next()
            if token.kind == "SPACE":
                continue
            if token.kind in ("RIGHT", "RPAREN"):
                self.i -= 1
            elif token.kind != "PIPE":
                raise GoTemplateError(f"unexpected {_show(token)} in operand", token.pos)
            elif self.peek_non_space().kind in ("RIGHT", "RPAREN"):
                raise GoTemplateError("missing command after |", token.pos)
            break
        if not args:
            raise GoTemplateError("empty command", start.pos)
        if isinstance(args[0], Nil):
            raise GoTemplateError("nil is not a command", args[0].pos)
        return Command(start.pos, tuple(args))

    def skip_spaces(self) -> None:
        while self.peek().kind == "SPACE":
            self.i += 1

    def operand(self) -> Operand | None:
        node = self.term()
        if node is None or self.peek().kind != "FIELD":
            return node
        names: list[str] = []
        while self.peek().kind == "FIELD":
            names.append(self.next().value)
        if isinstance(node, Field):
            return Field(node.pos, (*node.names, *names))
        if isinstance(node, Variable):
            return Variable(node.pos, node.name, (*node.names, *names))
        if isinstance(node, Pipe | Ident):
            return Chain(node.pos, node, tuple(names))
        raise GoTemplateError(f"unexpected . after term {_term_text(node)}", node.pos)

    def term(self) -> Operand | None:
        token = self.next()
        kind, value, pos = token.kind, token.value, token.pos
        if kind == "IDENT":
            if value not in self.functions:
                raise GoTemplateError(self.explain(value), pos)
            return Ident(pos, value)
        if kind == "DOT":
            return Dot(pos)
        if kind == "NIL":
            return Nil(pos)
        if kind == "VAR":
            self.check_var(value, pos)
            return Variable(pos, value, ())
        if kind == "FIELD":
            return Field(pos, (value,))
        if kind == "BOOL":
            return Literal(pos, value == "true", value)
        if kind == "STRING":
            return Literal(pos, value, go_quote(value))
        if kind == "CHAR":
            return Number(pos, repr(value), ord(value))
        if kind == "NUMBER":
            return Number(pos, value, _number(value, pos))
        if kind == "LPAREN":
            self.enter(pos)
            pipe = self.pipeline("parenthesized pipeline", pos)
            self.depth -= 1
            return pipe
        self.i -= 1
        return None

    def check_var(self, name: str, pos: int) -> None:
        if name not in self.vars:
            raise GoTemplateError(f"undefined variable {name!r}", pos)


def _number(text: str, pos: int) -> int | float:
    clean = text.replace("_", "")
    try:
        return int(clean, 0)
    except ValueError:
        pass
    try:
        if clean.lower().startswith(("0x", "-0x", "+0x")):
            return float.fromhex(clean)
        return float(clean)
    except ValueError:
        raise GoTemplateError(f"bad number syntax: {text!r}", pos) from None


def _show(token: Token) -> str:
    names = {"RIGHT": "}}", "EOF": "EOF", "SPACE": "space"}
    return f"<{names.get(token.kind, token.value)}>"


def _term_text(node: Operand) -> str:
    if isinstance(node, Literal | Number):
        return node.text
    return "." if isinstance(node, Dot) else "nil"


__all__ = ["MAX_DEPTH", "parse"]
