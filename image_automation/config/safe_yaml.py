"""Read YAML written by anyone, with bounds: every YAML read of the package goes through here.

Why not ``YAML(typ="safe").compose``: a composed document shares the node behind each alias,
but anything that walks it (the loader's line map, a validator, a JSON dump) expands the
aliases, and nine nested anchors (the "billion laughs") expand to ~10⁹ nodes from ~1 KB of
text. ruamel's C composer also crashes the process on a few hundred thousand nested ``[`` (C
stack), and refuses an anchor defined twice, which YAML 1.2 allows (the later one wins).

So documents are composed here from the C parser's events (libyaml: fast, and its own stack
lives on the heap), into the same ruamel nodes (marks and all) that the C composer builds,
counting as it goes:

* every alias adds the size of the node it names (nested aliases included) to the
  document's expansion; past :data:`MAX_ALIAS_NODES` the document is refused as
  ``file:line: too many aliases`` at the alias that crossed the bound;
* an alias naming the node it sits in (a cycle) and nesting deeper than :data:`MAX_DEPTH`
  are refused the same way;
* a re-defined anchor replaces the earlier one for the aliases after it.

Counting costs one integer per open collection; with implicit tags cached per stream this
composes policy files within ~10% of ruamel's C composer (``bench/yaml_safety.py``).
Every problem, libyaml's included, becomes a :class:`~image_automation.errors.ConfigError`
at ``file:line``.
"""

from __future__ import annotations

import contextlib
from collections.abc import Iterator
from typing import Any, NoReturn

from ruamel.yaml import YAML
from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.events import (
    AliasEvent,
    DocumentEndEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)
from ruamel.yaml.nodes import CollectionNode, MappingNode, Node, ScalarNode, SequenceNode

from image_automation.errors import ConfigError, Location

MAX_ALIAS_NODES = 100_000
"""Nodes that aliases may add to one document, counted as if each alias were expanded."""
MAX_DEPTH = 256
"""Collections nested in one another; Kubernetes manifests and CRD schemas stay far below."""

_NON_SPECIFIC = (None, "!")


class _Frame:
    """An open mapping or sequence: its node, a mapping's pending key, its expanded size."""

    __slots__ = ("anchor", "key", "node", "size")

    def __init__(self, node: CollectionNode, anchor: str | None) -> None:
        self.node = node
        self.anchor = anchor
        self.key: Node | None = None
        self.size = 1


class _Composer:
    """Builds one stream's documents from parser events; see the module docstring."""

    def __init__(self, yaml: YAML, *, file: str, line_offset: int) -> None:
        self.resolver = yaml.resolver
        # Implicit tags depend only on (kind, value, implicit): keys and small values repeat
        # all through a manifest, and the resolver's regex walk is most of the cost here.
        self.tags: dict[tuple[Any, ...], Any] = {}
        self.file = file
        self.line_offset = line_offset
        self._reset()

    def _reset(self) -> None:
        self.stack: list[_Frame] = []
        # name -> (node, expanded size); size None while the anchored node is still open
        self.anchors: dict[str, tuple[Node, int | None]] = {}
        self.expanded = 0
        self.root: Node | None = None

    def documents(self, parser: Any) -> Iterator[Node]:
        while parser.check_event():
            event = parser.get_event()
            kind = type(event)
            if kind is ScalarEvent:
                self._add(self._scalar(event), 1, event.anchor)
            elif kind is MappingStartEvent or kind is SequenceStartEvent:
                self._open(event, MappingNode if kind is MappingStartEvent else SequenceNode)
            elif kind is MappingEndEvent or kind is SequenceEndEvent:
                frame = self.stack.pop()
                frame.node.end_mark = event.end_mark
                self._add(frame.node, frame.size, frame.anchor)
            elif kind is AliasEvent:
                self._alias(event)
            elif kind is DocumentStartEvent:
                self._reset()
            elif kind is DocumentEndEvent and self.root is not None:
                yield self.root

    def _scalar(self, event: Any) -> ScalarNode:
        tag = event.tag
        if tag in _NON_SPECIFIC:
            key = (tag, event.value, event.implicit)
            tag = self.tags.get(key)
            if tag is None:
                tag = self.tags[key] = self.resolver.resolve(ScalarNode, *key[1:])
        return ScalarNode(tag, event.value, event.start_mark, event.end_mark, style=event.style)

    def _open(self, event: Any, cls: type[MappingNode] | type[SequenceNode]) -> None:
        if len(self.stack) >= MAX_DEPTH:
            self._refuse(event, f"nested more than {MAX_DEPTH} levels deep")
        tag = event.tag
        if tag in _NON_SPECIFIC:
            key = (cls, tag, event.implicit)
            tag = self.tags.get(key)
            if tag is None:
                tag = self.tags[key] = self.resolver.resolve(cls, None, event.implicit)
        node = cls(tag, [], event.start_mark, None, flow_style=event.flow_style)
        if event.anchor is not None:
            self.anchors[event.anchor] = (node, None)
        self.stack.append(_Frame(node, event.anchor))

    def _alias(self, event: Any) -> None:
        found = self.anchors.get(event.anchor)
        if found is None:
            self._refuse(event, f"alias *{event.anchor} names no anchor before it")
        node, size = found
        if size is None:
            self._refuse(event, f"alias *{event.anchor} is inside the node it names (a cycle)")
        self.expanded += size
        if self.expanded > MAX_ALIAS_NODES:
            self._refuse(event, f"too many aliases: they expand to over {MAX_ALIAS_NODES} nodes")
        self._add(node, size, None)

    def _add(self, node: Node, size: int, anchor: str | None) -> None:
        if anchor is not None and (
            isinstance(node, ScalarNode) or self.anchors.get(anchor, (None,))[0] is node
        ):  # a collection's anchor may have been defined again inside it: the later one stays
            self.anchors[anchor] = (node, size)
        if not self.stack:
            self.root = node
            return
        frame = self.stack[-1]
        frame.size += size
        if isinstance(frame.node, SequenceNode):
            frame.node.value.append(node)
        elif frame.key is None:
            frame.key = node
        else:
            frame.node.value.append((frame.key, node))
            frame.key = None

    def _refuse(self, event: Any, message: str) -> NoReturn:
        line = event.start_mark.line + 1 + self.line_offset
        raise ConfigError(message, location=Location(self.file, line))


def compose_all(text: str, *, file: str, line_offset: int = 0) -> list[Node]:
    """The root node of each document in ``text``; raises :class:`ConfigError` at a line.

    ``line_offset`` is added to error lines (the caller parses a slice of a file); node marks
    stay relative to ``text``.
    """
    return [node for node, _ in _compose(text, file=file, line_offset=line_offset)]


def load_all(text: str, *, file: str, line_offset: int = 0) -> list[tuple[Node, Any]]:
    """Each document as ``(root node, Python value)``; the values are built by ruamel's safe
    constructor (plain dicts, lists, scalars), so aliases share objects, never copy them."""
    out = []
    for node, yaml in _compose(text, file=file, line_offset=line_offset):
        with _translated(text, file=file, line_offset=line_offset):
            out.append((node, yaml.constructor.construct_document(node)))
    return out


def load_one(text: str, *, file: str) -> Any:
    """The single document of a settings file (None when empty); several are an error."""
    documents = load_all(text, file=file)
    if len(documents) > 1:
        second = documents[1][0].start_mark.line + 1
        raise ConfigError(
            "expected one YAML document, found several", location=Location(file, second)
        )
    return documents[0][1] if documents else None


def _compose(text: str, *, file: str, line_offset: int) -> list[tuple[Node, YAML]]:
    yaml = YAML(typ="safe", pure=False)
    composer = _Composer(yaml, file=file, line_offset=line_offset)
    with _translated(text, file=file, line_offset=line_offset):
        return [(node, yaml) for node in composer.documents(CParser(text))]


@contextlib.contextmanager
def _translated(text: str, *, file: str, line_offset: int) -> Iterator[None]:
    """ruamel/libyaml errors → ``ConfigError("not valid YAML: ...")`` at the line to edit."""
    try:
        yield
    except ConfigError:
        raise
    except Exception as exc:  # ruamel raises many types; every one means "not valid YAML"
        end = len(text.rstrip())
        line = _error_line(exc, end)
        where = Location(file, line + line_offset if line else line_offset + 1)
        raise ConfigError(f"not valid YAML: {_problem(exc, end)}", location=where) from exc


def _ran_out(exc: BaseException, end: int) -> bool:
    """libyaml met the end of the text inside a construct (an unclosed quote or bracket)
    that opened earlier: its opening line is the one to fix, not the last line."""
    problem = getattr(exc, "problem_mark", None)
    return (
        getattr(exc, "context_mark", None) is not None
        and problem is not None
        and int(problem.index) >= end
    )


def _error_line(exc: BaseException, end: int) -> int:
    mark = getattr(exc, "context_mark" if _ran_out(exc, end) else "problem_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def _problem(exc: BaseException, end: int) -> str:
    problem = getattr(exc, "problem", None)
    if not problem:
        return (str(exc).splitlines() or [type(exc).__name__])[0]
    if _ran_out(exc, end):
        context = str(exc.context)  # type: ignore[attr-defined]
        what = context.removeprefix("while scanning ").removeprefix("while parsing ")
        return f"{what} starts here and is never closed"
    return str(problem)


__all__ = ["MAX_ALIAS_NODES", "MAX_DEPTH", "compose_all", "load_all", "load_one"]
