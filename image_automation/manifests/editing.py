"""Byte-minimal edits of YAML: splice new values into the original bytes, never re-dump.

API::

    apply_setters(data: bytes, *, file: str, namespace: str,
                  policies: Mapping[str, ImageRef]) -> FileEdit

``policies`` maps a policy name in ``namespace`` to the image it selected (tag and optional
digest). The result holds the new bytes (the input object itself when nothing changed), one
:class:`~image_automation.domain.Change` per replaced scalar, and warnings as
``file:line: message``. A file that is not valid UTF-8 YAML raises
:class:`~image_automation.errors.ManifestError` and nothing of it is edited.

Which nodes carry a marker (Flux's rules):

* a scalar mapping value with the marker comment on the line where the value ends;
* a scalar sequence item with the marker on the same line, or alone on the line directly
  above (no blank line between);
* never a mapping key, a mapping or sequence, an alias, an empty value, a block scalar
  (``|``/``>``), a value with an explicit non-string tag (``!!binary``, ``!custom``), or
  anything inside a flow collection (``[...]``, ``{...}``). A marker on such
  a line is reported as a warning and changes nothing.

How: the ruamel.yaml C parser (libyaml) yields events whose marks index *characters* of the
text after any BOM; the bytes are decoded once, the spans are replaced in the text, and the
text is encoded back with the BOM put back. Everything outside the replaced spans, CRLF line
breaks included, comes back byte-identical. Multi-line scalars are left alone (warning).

Each change names the innermost enclosing object that has ``apiVersion`` and ``kind`` before
the value (as every Kubernetes tool writes them): a ``kind: List`` item, a HelmRelease around
its values, ...; with its ``metadata.namespace`` and ``metadata.name`` wherever they are.
Plain values files and docker-compose files give empty strings.

Speed: libyaml first checks the whole stream in C (``raw_parse``, no Python objects), then
Python walks events only up to the last marker line (and the end of the object's
``metadata``), so a long tail after the last marker costs almost nothing.

PURE: bytes in, bytes out. No filesystem, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

from ruamel.yaml.cyaml import CParser  # type: ignore[attr-defined]
from ruamel.yaml.error import MarkedYAMLError, YAMLError
from ruamel.yaml.events import (
    AliasEvent,
    DocumentStartEvent,
    MappingEndEvent,
    MappingStartEvent,
    ScalarEvent,
    SequenceEndEvent,
    SequenceStartEvent,
)

from image_automation.domain import Change, ImageRef
from image_automation.errors import ManifestError
from image_automation.manifests._scalars import render
from image_automation.manifests.markers import (
    MarkerComment,
    find_marker_comments,
    line_end,
    resolve,
)

_BOM = "\ufeff"
_PROPERTIES_RE = re.compile(r"(?:[&!]\S*\s+)*")
_IDENTITY_KEYS = frozenset({"apiVersion", "kind"})
_METADATA_KEYS = frozenset({"name", "namespace"})
# An explicit tag other than str (``!!binary``, ``!!int``, a custom ``!foo``) means the
# value is not a plain string we may overwrite.
_STRING_TAGS = frozenset({None, "!", "tag:yaml.org,2002:str"})


@dataclass(frozen=True, slots=True)
class FileEdit:
    """The outcome of editing one file's bytes."""

    new_bytes: bytes
    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()

    @property
    def changed(self) -> bool:
        return bool(self.changes)


class _Frame:
    """One open mapping or sequence while walking the events."""

    __slots__ = ("done", "expect_key", "fields", "flow", "is_map", "key", "owner")

    def __init__(self, *, is_map: bool, flow: bool, owner: _Frame | None) -> None:
        self.is_map = is_map
        self.flow = flow
        self.expect_key = True
        self.key: str | None = None
        self.fields: dict[str, str] = {}
        # A `metadata` mapping writes name/namespace into the object that owns it.
        self.owner = owner
        self.done = False  # this object's metadata is complete (or it has closed)


@dataclass(slots=True)
class Splice:
    """Replace ``text[start:end]`` (character offsets) with ``text``."""

    start: int
    end: int
    text: str


@dataclass(slots=True)
class _Walk:
    text: str
    file: str
    namespace: str
    policies: Mapping[str, ImageRef]
    by_line_end: dict[int, MarkerComment]
    # 0-based lines a value must end on (same-line marker) or start on (marker above);
    # None when the text has line breaks other than LF/CRLF and every value is checked.
    end_lines: frozenset[int] | None
    start_lines: frozenset[int]
    # Past this 0-based line no marker can attach any more; the walk may stop there once
    # every pending change knows its object (the C parser has already checked the rest).
    stop_after: int | None
    used: set[int] = field(default_factory=set)
    splices: list[Splice] = field(default_factory=list)
    pending: list[tuple[Change, _Frame | None]] = field(default_factory=list)
    warnings: list[tuple[int, str]] = field(default_factory=list)  # (line, message)


def decode(data: bytes, *, file: str) -> tuple[str, str]:
    """Split ``data`` into (BOM, text); UTF-8 only, as Kubernetes tooling expects."""
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise ManifestError(f"{file}: UTF-16 files are not supported")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ManifestError(f"{file}: not UTF-8 at byte {exc.start}") from exc
    if text.startswith(_BOM):
        return _BOM, text[1:]
    return "", text


def apply_setters(
    data: bytes, *, file: str, namespace: str, policies: Mapping[str, ImageRef]
) -> FileEdit:
    """Set every marked scalar in the YAML ``data``; see the module docstring."""
    bom, text = decode(data, file=file)
    comments = find_marker_comments(text)
    if not comments:
        return FileEdit(data)
    walk = _new_walk(text, file=file, namespace=namespace, policies=policies, comments=comments)
    for comment in comments:
        if comment.setter is None:
            walk.warnings.append((comment.line, comment.problem))
            walk.used.add(comment.line_end)
    try:
        _walk_events(walk, _events(data))
    except YAMLError as exc:
        raise ManifestError(f"{file}:{_error_line(exc)}: invalid YAML: {_problem(exc)}") from exc
    for comment in comments:
        if comment.line_end not in walk.used:
            walk.warnings.append(
                (comment.line, "marker is not on a scalar map value or sequence item; ignored")
            )
    changes = tuple(_identify(change, owner) for change, owner in walk.pending)
    warnings = tuple(f"{file}:{line}: {message}" for line, message in sorted(walk.warnings))
    if not walk.splices:
        return FileEdit(data, (), warnings)
    out = splice(text, walk.splices)
    return FileEdit((bom + out).encode("utf-8"), changes, warnings)


def splice(text: str, splices: Iterable[Splice]) -> str:
    """Replace the given spans of ``text`` (non-overlapping) in one pass."""
    parts: list[str] = []
    pos = 0
    for item in sorted(splices, key=lambda s: s.start):
        parts.append(text[pos : item.start])
        parts.append(item.text)
        pos = item.end
    parts.append(text[pos:])
    return "".join(parts)


def _new_walk(
    text: str,
    *,
    file: str,
    namespace: str,
    policies: Mapping[str, ImageRef],
    comments: list[MarkerComment],
) -> _Walk:
    by_line_end = {c.line_end: c for c in comments}
    if _odd_line_breaks(text):
        return _Walk(text, file, namespace, policies, by_line_end, None, frozenset(), None)
    lines = [c.line - 1 for c in comments]
    return _Walk(
        text,
        file,
        namespace,
        policies,
        by_line_end,
        frozenset(lines),
        frozenset(line + 1 for line in lines),
        max(lines) + 1,
    )


def _odd_line_breaks(text: str) -> bool:
    """True when libyaml may count lines differently from LF/CRLF (lone CR, NEL, LS, PS)."""
    if "\r" in text and text.count("\r") != text.count("\r\n"):
        return True
    return "\x85" in text or "\u2028" in text or "\u2029" in text


def _events(data: bytes) -> Iterator[Any]:
    """Parser events; the whole stream is first checked in C, so stopping early is safe.

    libyaml reads the bytes itself (no re-encoding); its marks still count characters
    after the BOM, matching offsets into the decoded text.
    """
    CParser(data).raw_parse()
    parser = CParser(data)
    while parser.check_event():
        yield parser.get_event()


def _walk_events(walk: _Walk, events: Iterator[Any]) -> None:
    stack: list[_Frame] = []
    for event in events:
        if (
            walk.stop_after is not None
            and event.start_mark.line > walk.stop_after
            and all(owner is None or owner.done for _, owner in walk.pending)
        ):
            return
        kind = type(event)
        if kind is ScalarEvent or kind is AliasEvent:
            frame = stack[-1] if stack else None
            if frame is None:
                continue
            if frame.is_map:
                if frame.expect_key:
                    frame.key = event.value if kind is ScalarEvent else None
                    frame.expect_key = False
                    continue
                frame.expect_key = True
                if kind is ScalarEvent and frame.key is not None:
                    _record_field(frame, event.value)
            if not frame.flow and (
                walk.end_lines is None
                or event.end_mark.line in walk.end_lines
                or (not frame.is_map and event.start_mark.line in walk.start_lines)
            ):
                _visit_value(walk, event, frame, stack)
        elif kind is MappingStartEvent or kind is SequenceStartEvent:
            parent = stack[-1] if stack else None
            owner = None
            if parent is not None and parent.is_map:
                parent.expect_key = True
                if parent.key == "metadata":
                    owner = parent
            flow = bool(event.flow_style) or (parent is not None and parent.flow)
            stack.append(_Frame(is_map=kind is MappingStartEvent, flow=flow, owner=owner))
        elif kind is MappingEndEvent or kind is SequenceEndEvent:
            frame = stack.pop()
            frame.done = True
            if frame.owner is not None:
                frame.owner.done = True
        elif kind is DocumentStartEvent:
            stack.clear()


def _record_field(frame: _Frame, value: str) -> None:
    if frame.key in _IDENTITY_KEYS:
        frame.fields[frame.key] = value
    elif frame.owner is not None and frame.key in _METADATA_KEYS:
        frame.owner.fields["metadata." + frame.key] = value


def _visit_value(walk: _Walk, event: object, frame: _Frame, stack: list[_Frame]) -> None:
    """A block mapping value or sequence item: is there a marker for it?"""
    text = walk.text
    start: int = event.start_mark.index  # type: ignore[attr-defined]
    end: int = event.end_mark.index  # type: ignore[attr-defined]
    comment = walk.by_line_end.get(line_end(text, end))
    if comment is not None and (
        comment.line_end in walk.used
        or comment.comment_start < end
        or text[end : comment.comment_start].strip(" \t")
    ):
        comment = None
    if comment is None and not frame.is_map:
        above = walk.by_line_end.get(_previous_eol(text, start))
        if above is not None and above.line_end not in walk.used and above.comment_only(text):
            comment = above
    if comment is None or comment.setter is None:
        return
    walk.used.add(comment.line_end)
    line = event.start_mark.line + 1  # type: ignore[attr-defined]
    if not isinstance(event, ScalarEvent):
        walk.warnings.append((line, "marker on an alias; set the anchored value instead"))
        return
    owner = next((f for f in reversed(stack) if f.fields.keys() >= _IDENTITY_KEYS), None)
    _set_scalar(walk, event, start, end, comment, line, owner)


def _set_scalar(
    walk: _Walk,
    event: ScalarEvent,
    start: int,
    end: int,
    comment: MarkerComment,
    line: int,
    owner: _Frame | None,
) -> None:
    assert comment.setter is not None
    style = event.style or ""
    start = _PROPERTIES_RE.match(walk.text, start, end).end()  # type: ignore[union-attr]
    span = walk.text[start:end]
    if style in ("|", ">"):
        walk.warnings.append((line, "marker on a block scalar; ignored"))
        return
    if event.tag not in _STRING_TAGS:
        walk.warnings.append((line, f"marker on a value tagged {event.tag}; ignored"))
        return
    if not span or "\n" in span or "\r" in span:
        walk.warnings.append((line, "marker on an empty or multi-line value; ignored"))
        return
    if (style and (span[0] != style or span[-1] != style)) or (not style and span != event.value):
        walk.warnings.append((line, "cannot locate the value's text; ignored"))
        return
    old: str = event.value
    wanted = resolve(comment.setter, namespace=walk.namespace, policies=walk.policies, old=old)
    if wanted is None:
        return
    if wanted.value is None:
        walk.warnings.append((line, wanted.problem))
        return
    if wanted.value == old:
        return
    walk.splices.append(Splice(start, end, render(wanted.value, style=style)))
    change = Change(walk.file, line, "", "", "", "", comment.setter.text, old, wanted.value)
    walk.pending.append((change, owner))


def _identify(change: Change, owner: _Frame | None) -> Change:
    if owner is None:
        return change
    fields = owner.fields
    return Change(
        change.file,
        change.line,
        fields["apiVersion"],
        fields["kind"],
        fields.get("metadata.namespace", ""),
        fields.get("metadata.name", ""),
        change.setter,
        change.old,
        change.new,
    )


def _previous_eol(text: str, pos: int) -> int:
    """Index where the line before the one holding ``pos`` ends; -1 on the first line."""
    newline = max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos))
    if newline > 0 and text[newline] == "\n" and text[newline - 1] == "\r":
        return newline - 1
    return newline


def _error_line(exc: YAMLError) -> int:
    mark = getattr(exc, "problem_mark", None) or getattr(exc, "context_mark", None)
    return int(mark.line) + 1 if mark is not None else 0


def _problem(exc: YAMLError) -> str:
    if isinstance(exc, MarkedYAMLError):
        return str(exc.problem or exc.context or "parse error")
    return str(exc).splitlines()[0] if str(exc) else "parse error"


__all__ = ["FileEdit", "Splice", "apply_setters", "decode", "splice"]
