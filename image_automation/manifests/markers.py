"""Flux setter markers: find them in text, parse them, and compute the value they ask for.

A marker is a comment holding one JSON object with the key ``$imagepolicy``::

    image: ghcr.io/org/app:1.0.0 # {"$imagepolicy": "flux-system:app"}
    tag: 1.0.0 # {"$imagepolicy": "flux-system:app:tag"}

As in Flux, any number of ``#`` may open it and blanks before the object are optional
(``## {...}``, ``#{...}``).

The value is ``NAMESPACE:POLICY`` with an optional suffix that picks the part written:

======== ====================================================
(none)   ``name:tag``, plus ``@digest`` when the policy has one
``:tag`` the tag
``:name`` the image name (``registry/repository``)
``:digest`` the digest (a warning when the policy has none)
======== ====================================================

Only policies of the automation's namespace are visible: markers naming another namespace
are skipped silently (another automation owns them); a marker naming an unknown policy in
our namespace is a warning.

When the old value names the same image as the policy in another spelling (``nginx`` vs
``docker.io/library/nginx``), the old spelling is kept so the diff shows only the tag.

This module is PURE: text and values in, values out. No filesystem, no clock.
"""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass

from image_automation.domain import ImageRef, InvalidReference

MARKER_KEY = "$imagepolicy"
MARKER_BYTES = MARKER_KEY.encode()
"""What the walker screens files for before any parse."""

SUFFIXES = frozenset({"tag", "name", "digest"})

# A comment whose text starts with `{`; it must be one JSON object (one marker) running to
# the end of the line. Flux (kyaml's fieldmeta) trims every leading `#` from the comment and
# parses the rest as JSON, which allows blanks around the object: so `##{...}` and
# `#  {...}` are markers, and the comment starts at its first `#`. The opener tells `#`
# from `//`.
_COMMENT_RE = re.compile(r"(?P<open>#+|//)[ \t]*(?P<json>\{.*?)[ \t]*$")


@dataclass(frozen=True, slots=True)
class Setter:
    """A parsed marker: ``namespace:policy[:field]``; ``field`` is "" for a bare marker."""

    namespace: str
    policy: str
    field: str = ""

    @property
    def text(self) -> str:
        """The marker value as written (``NS:NAME`` or ``NS:NAME:FIELD``)."""
        base = f"{self.namespace}:{self.policy}"
        return f"{base}:{self.field}" if self.field else base


@dataclass(frozen=True, slots=True)
class MarkerComment:
    """A comment on one line that mentions ``$imagepolicy``.

    Offsets index the decoded text. ``comment_start`` is where ``#`` or ``//`` is;
    ``line_start``/``line_end`` bound the line without its line break. ``setter`` is None
    and ``problem`` says why when the comment is not a valid marker.
    """

    line: int
    line_start: int
    line_end: int
    comment_start: int
    setter: Setter | None
    problem: str = ""

    def comment_only(self, text: str) -> bool:
        """True when nothing but blanks precede the comment on its line."""
        return not text[self.line_start : self.comment_start].strip(" \t")


def parse_setter(value: object) -> Setter | None:
    """Parse the marker's value (``NS:NAME[:tag|name|digest]``); None when malformed."""
    if not isinstance(value, str):
        return None
    parts = value.split(":")
    if len(parts) == 3 and parts[2] in SUFFIXES:
        namespace, policy, field = parts
    elif len(parts) == 2:
        (namespace, policy), field = parts, ""
    else:
        return None
    if not namespace or not policy:
        return None
    return Setter(namespace, policy, field)


def find_marker_comments(text: str, *, openers: tuple[str, ...] = ("#",)) -> list[MarkerComment]:
    """Every line of ``text`` that mentions ``$imagepolicy``, with its marker parsed.

    Lines where the mention is not in a trailing comment opened by one of ``openers`` are
    left out (a value or a document may legitimately mention the key).
    """
    found: list[MarkerComment] = []
    seen_lines: set[int] = set()
    pos = text.find(MARKER_KEY)
    while pos != -1:
        line_start = _line_start(text, pos)
        end = line_end(text, pos)
        if line_start not in seen_lines:
            seen_lines.add(line_start)
            comment = _parse_line(text, line_start, end, openers)
            if comment is not None:
                found.append(comment)
        pos = text.find(MARKER_KEY, end)
    return found


def _parse_line(
    text: str, line_start: int, line_end: int, openers: tuple[str, ...]
) -> MarkerComment | None:
    line = text[line_start:line_end]
    match = None
    for candidate in _COMMENT_RE.finditer(line):
        opener = "#" if candidate.group("open")[0] == "#" else "//"
        if opener in openers and MARKER_KEY in candidate.group("json"):
            match = candidate
            break
    if match is None:
        return None
    number = text.count("\n", 0, line_start) + 1
    start = line_start + match.start()
    raw = match.group("json")

    def made(setter: Setter | None, problem: str = "") -> MarkerComment:
        return MarkerComment(number, line_start, line_end, start, setter, problem)

    if raw.count(MARKER_KEY) > 1:
        return made(None, "several markers in one comment; each value takes one marker")
    try:
        obj = json.loads(raw)
    except ValueError:
        return made(None, f"malformed marker {raw!r}: not one JSON object")
    if not isinstance(obj, dict) or MARKER_KEY not in obj:
        return made(None, f"malformed marker {raw!r}")
    setter = parse_setter(obj[MARKER_KEY])
    if setter is None:
        return made(None, f"malformed marker {raw!r}: expected NAMESPACE:POLICY[:tag|name|digest]")
    return made(setter)


def _line_start(text: str, pos: int) -> int:
    return max(text.rfind("\n", 0, pos), text.rfind("\r", 0, pos)) + 1


def line_end(text: str, pos: int) -> int:
    """Index of the line break ending the line that holds ``pos`` (or ``len(text)``)."""
    ends = [i for i in (text.find("\n", pos), text.find("\r", pos)) if i != -1]
    return min(ends) if ends else len(text)


@dataclass(frozen=True, slots=True)
class Resolution:
    """What a setter wants written: ``value``, or ``problem`` when it cannot say."""

    value: str | None
    problem: str = ""


def resolve(
    setter: Setter, *, namespace: str, policies: Mapping[str, ImageRef], old: str
) -> Resolution | None:
    """The value ``setter`` asks for, given the visible ``policies`` and the ``old`` value.

    None when the marker belongs to another namespace (not ours to touch).
    """
    if setter.namespace != namespace:
        return None
    ref = policies.get(setter.policy)
    if ref is None:
        return Resolution(None, f"unknown policy {setter.namespace}:{setter.policy}")
    name = _name_spelling(ref, old)
    if setter.field == "name":
        return Resolution(name)
    if setter.field == "digest":
        if not ref.digest:
            return Resolution(None, f"policy {setter.text} has no digest to set")
        return Resolution(ref.digest)
    if not ref.tag:
        return Resolution(None, f"policy {setter.namespace}:{setter.policy} has no tag")
    if setter.field == "tag":
        return Resolution(ref.tag)
    value = f"{name}:{ref.tag}"
    return Resolution(f"{value}@{ref.digest}" if ref.digest else value)


def _name_spelling(ref: ImageRef, old: str) -> str:
    """``ref.name``, or the old value's spelling of the same name (``nginx``)."""
    try:
        current = ImageRef.parse(old)
    except InvalidReference:
        return ref.name
    if current.name != ref.name:
        return ref.name
    spelled = old.split("@", 1)[0]
    slash, colon = spelled.rfind("/"), spelled.rfind(":")
    return spelled[:colon] if colon > slash else spelled


__all__ = [
    "MARKER_BYTES",
    "MARKER_KEY",
    "MarkerComment",
    "Resolution",
    "Setter",
    "find_marker_comments",
    "parse_setter",
    "resolve",
]
