"""Set one annotation on one document of a YAML file, byte-minimally (text in, text out).

The rollback gate shows a hold in Git as the policy's ``image-automation.io/hold``
annotation, so a human who deletes it releases the hold (docs/gates.md). Only the lines
the annotation needs are added or its value replaced; every other byte stays. Block and
flow mappings are handled; a layout this cannot edit safely (``annotations:`` with no
mapping, aliases, tags) gives ``None`` and the caller leaves the file alone.
"""

from __future__ import annotations

import json

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from image_automation.config.safe_yaml import compose_all
from image_automation.errors import ConfigError


def set_annotation(
    text: str, *, kind: str, name: str, namespace: str, key: str, value: str
) -> str | None:
    """``text`` with ``metadata.annotations[key] = value`` on the document of ``kind``
    named ``name`` in ``namespace``; ``None`` when no such document or no safe edit."""
    doc = _find(text, kind=kind, name=name, namespace=namespace)
    if doc is None:
        return None
    meta = _child(doc, "metadata")
    if not isinstance(meta, MappingNode):
        return None
    quoted = json.dumps(value, ensure_ascii=True)  # a YAML double-quoted scalar as well
    newline = "\r\n" if "\r\n" in text else "\n"
    annotations = _child(meta, "annotations")
    if annotations is None:
        return _add(text, meta, f"annotations: {{{key}: {quoted}}}",
                    block=("annotations:", f"  {key}: {quoted}"), newline=newline)  # fmt: skip
    if not isinstance(annotations, MappingNode):
        return None
    old = _child(annotations, key)
    if isinstance(old, ScalarNode):
        start, end = old.start_mark.index, old.end_mark.index
        return text[:start] + quoted + text[end:]
    if old is not None:
        return None
    return _add(text, annotations, f"{key}: {quoted}", block=(f"{key}: {quoted}",),
                newline=newline)  # fmt: skip


def remove_annotation(text: str, *, kind: str, name: str, namespace: str, key: str) -> str | None:
    """``text`` without ``metadata.annotations[key]`` on that document (and without
    ``annotations`` when that was its only entry); ``None`` when there is none to remove."""
    doc = _find(text, kind=kind, name=name, namespace=namespace)
    meta = _child(doc, "metadata") if doc is not None else None
    annotations = _child(meta, "annotations") if isinstance(meta, MappingNode) else None
    if not isinstance(meta, MappingNode) or not isinstance(annotations, MappingNode):
        return None
    at = _index(annotations, key)
    if at is None:
        return None
    if len(annotations.value) == 1:
        return _drop(text, meta, _index(meta, "annotations") or 0)
    return _drop(text, annotations, at)


def _index(mapping: MappingNode, key: str) -> int | None:
    return next((i for i, (k, _) in enumerate(mapping.value) if _scalar(k) == key), None)


def _drop(text: str, mapping: MappingNode, at: int) -> str | None:
    """``text`` without entry ``at`` of ``mapping``: its lines (block) or its span (flow)."""
    entries = mapping.value
    key, value = entries[at]
    if mapping.flow_style:
        if len(entries) == 1:
            start, end = mapping.start_mark.index, mapping.end_mark.index
            return text[:start] + "{}" + text[end:]
        if at + 1 < len(entries):
            return text[: key.start_mark.index] + text[entries[at + 1][0].start_mark.index :]
        return text[: entries[at - 1][1].end_mark.index] + text[value.end_mark.index :]
    start = key.start_mark.index - key.start_mark.column
    if text[start : key.start_mark.index].strip(" "):
        return None
    newline = text.find("\n", _content_end(value))
    end = len(text) if newline < 0 else newline + 1
    return text[:start] + text[end:]


def _content_end(node: Node) -> int:
    """Where the text of ``node`` ends: a block collection's mark runs on to the next
    token, so its last scalar (or flow collection) says where it really ends."""
    while isinstance(node, MappingNode | SequenceNode) and not node.flow_style and node.value:
        last = node.value[-1]
        node = last[1] if isinstance(node, MappingNode) else last
    return int(node.end_mark.index)


def _add(
    text: str, mapping: MappingNode, flow: str, *, block: tuple[str, ...], newline: str
) -> str | None:
    """Insert a first entry into ``mapping``: inside the braces of a flow mapping, or as
    lines before its first key (at that key's indentation) in a block mapping."""
    if mapping.flow_style:
        at = mapping.start_mark.index
        if text[at : at + 1] != "{":
            return None
        sep = ", " if mapping.value else ""
        return text[: at + 1] + flow + sep + text[at + 1 :]
    if not mapping.value:
        return None
    first: Node = mapping.value[0][0]
    column, at = first.start_mark.column, first.start_mark.index - first.start_mark.column
    if text[at : at + column].strip(" ") != "":
        return None  # the first key does not start its line
    indent = " " * column
    lines = "".join(indent + line + newline for line in block)
    return text[:at] + lines + text[at:]


def _find(text: str, *, kind: str, name: str, namespace: str) -> MappingNode | None:
    try:  # bounded (aliases, depth), like every YAML read of ours
        docs = compose_all(text, file="policy")
    except ConfigError:
        return None
    for doc in docs:
        if not isinstance(doc, MappingNode) or _scalar(_child(doc, "kind")) != kind:
            continue
        meta = _child(doc, "metadata")
        if not isinstance(meta, MappingNode) or _scalar(_child(meta, "name")) != name:
            continue
        if (_scalar(_child(meta, "namespace")) or "default") == namespace:
            return doc
    return None


def _child(mapping: MappingNode, key: str) -> Node | None:
    for k, v in mapping.value:
        if isinstance(k, ScalarNode) and k.value == key:
            node: Node = v
            return node
    return None


def _scalar(node: Node | None) -> str | None:
    return node.value if isinstance(node, ScalarNode) else None


__all__ = ["remove_annotation", "set_annotation"]
