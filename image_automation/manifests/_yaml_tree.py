"""Edits of YAML that are not markers: set a value at a key path, add an entry, add an item.

Argo CD write-back targets (a Helm values file, a kustomization, ``.argocd-source-*.yaml``)
name the values to set by structure, not by comment. Here a document is composed (through
:mod:`~image_automation.config.safe_yaml`, the one bounded reader) and every edit becomes a
:class:`~image_automation.manifests.editing.Splice` on the original text: a scalar's span is
replaced, or new lines are put after the last line of a block mapping or sequence, at its
own indentation and with the file's line breaks. Nothing else moves, so comments, anchors,
key order and quoting elsewhere stay byte-identical. Flow collections, block scalars and
values reached through an alias are refused (:class:`~image_automation.errors.ManifestError`)
rather than rewritten. PURE.
"""

from __future__ import annotations

from collections.abc import Sequence

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from image_automation.config.safe_yaml import compose_all
from image_automation.errors import ConfigError, ManifestError
from image_automation.manifests._scalars import render
from image_automation.manifests.editing import Splice
from image_automation.manifests.markers import line_end


def parse(text: str, *, file: str) -> Node | None:
    """The root of the single document in ``text`` (None when there is none)."""
    try:
        roots = compose_all(text, file=file)
    except ConfigError as exc:
        raise ManifestError(str(exc)) from exc
    if len(roots) > 1:
        raise ManifestError(f"{file}: expected one YAML document, found {len(roots)}")
    return roots[0] if roots else None


def newline(text: str) -> str:
    return "\r\n" if "\r\n" in text else "\n"


def entry(node: Node | None, key: str) -> tuple[ScalarNode, Node] | None:
    """The (key node, value node) of ``key`` in a mapping node."""
    if not isinstance(node, MappingNode):
        return None
    for key_node, value_node in node.value:
        if isinstance(key_node, ScalarNode) and key_node.value == key:
            return key_node, value_node
    return None


def value(node: Node | None, key: str) -> Node | None:
    found = entry(node, key)
    return found[1] if found else None


def text_of(node: Node | None) -> str | None:
    """A scalar's text as written (``1.0`` stays ``1.0``); None for anything else."""
    return str(node.value) if isinstance(node, ScalarNode) else None


def line(node: Node) -> int:
    return int(node.start_mark.line) + 1


def set_scalar(text: str, key: ScalarNode, node: Node, new: str, *, file: str) -> Splice:
    """Replace the scalar ``node`` (the value of ``key``) with ``new`` in its own style."""
    where = f"{file}:{line(key)}: {key.value}"
    if not isinstance(node, ScalarNode):
        raise ManifestError(f"{where}: is a mapping or list, not a value")
    if node.start_mark.index < key.end_mark.index:
        raise ManifestError(f"{where}: is an alias; set the anchored value instead")
    style = node.style or ""
    if style in ("|", ">"):
        raise ManifestError(f"{where}: is a block scalar; not edited")
    start, end = int(node.start_mark.index), int(node.end_mark.index)
    span = text[start:end]
    if span.startswith(("&", "!")):  # properties before the value: keep them
        head, _, rest = span.partition(" ")
        start += len(head) + 1 + (len(rest) - len(rest.lstrip(" ")))
        span = text[start:end]
    if not span or "\n" in span or "\r" in span:
        raise ManifestError(f"{where}: is empty or spans several lines; not edited")
    return Splice(start, end, render(new, style=style if style in ("'", '"') else ""))


def _after_last_line(text: str, last: Node) -> tuple[int, bool]:
    """Where new lines go after ``last`` and whether a line break must come first."""
    end = int(last.end_mark.index)
    if end > 0 and text[end - 1] == "\n":
        return end, False
    return line_end(text, end), True


def _block(node: MappingNode | SequenceNode, what: str, *, file: str) -> None:
    if node.flow_style:
        raise ManifestError(f"{file}:{line(node)}: {what} is in flow style ([...], {{...}}); "
                            "not edited")  # fmt: skip


def add_entries(
    text: str, mapping: MappingNode, lines: Sequence[str], *, file: str, what: str
) -> Splice:
    """Add ``lines`` (``key: value`` text, relative indent) at the end of ``mapping``."""
    _block(mapping, what, file=file)
    if not mapping.value:
        raise ManifestError(f"{file}:{line(mapping)}: {what} is empty; not edited")
    indent = " " * int(mapping.value[0][0].start_mark.column)
    return _insert(text, mapping.value[-1][1], [indent + item for item in lines])


def add_item(text: str, sequence: SequenceNode, lines: Sequence[str], *, file: str,
             what: str) -> Splice:  # fmt: skip
    """Add one item (``lines[0]`` after ``- ``, the rest under it) at the end of ``sequence``."""
    _block(sequence, what, file=file)
    if not sequence.value:
        raise ManifestError(f"{file}:{line(sequence)}: {what} is empty; not edited")
    first = sequence.value[0]
    start = int(first.start_mark.index)
    dash = text.rfind("-", 0, start)
    line_start = max(text.rfind("\n", 0, dash), -1) + 1
    pad = " " * (dash - line_start)
    inner = " " * (start - line_start)
    body = [f"{pad}-{' ' * (start - dash - 1)}{lines[0]}", *(inner + rest for rest in lines[1:])]
    return _insert(text, sequence.value[-1], body)


def _insert(text: str, last: Node, body: Sequence[str]) -> Splice:
    pos, lead = _after_last_line(text, last)
    nl = newline(text)
    block = nl.join(body)
    return Splice(pos, pos, nl + block if lead else block + nl)


def append_lines(text: str, lines: Sequence[str]) -> Splice:
    """Add top-level ``lines`` at the end of the text (a line break first when needed)."""
    nl = newline(text)
    lead = "" if not text or text.endswith("\n") else nl
    return Splice(len(text), len(text), lead + nl.join(lines) + nl)


def key_path(dotted: str) -> list[str]:
    """``a.b\\.c`` → ``["a", "b.c"]`` (Helm's escaped dots)."""
    parts, current, i = [], "", 0
    while i < len(dotted):
        if dotted[i] == "\\" and i + 1 < len(dotted) and dotted[i + 1] == ".":
            current += "."
            i += 2
            continue
        if dotted[i] == ".":
            parts.append(current)
            current = ""
        else:
            current += dotted[i]
        i += 1
    parts.append(current)
    return parts


__all__ = [
    "add_entries",
    "add_item",
    "append_lines",
    "entry",
    "key_path",
    "line",
    "newline",
    "parse",
    "set_scalar",
    "text_of",
    "value",
]
