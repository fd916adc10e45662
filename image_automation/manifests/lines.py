"""Markers outside YAML: Dockerfiles, ``.env`` files, Terraform/HCL. Opt-in per file pattern.

API::

    apply_line_setters(data: bytes, *, file: str, namespace: str,
                       policies: Mapping[str, ImageRef]) -> FileEdit

The same JSON marker sits in a ``#`` or ``//`` comment at the end of the line that holds the
value, or alone on the line directly above it (a Dockerfile only allows comments on their own
line)::

    FROM ghcr.io/org/base:1.0 AS build   # (Dockerfile: put the marker on the line above)
    APP_IMAGE=ghcr.io/org/app:1.0 # {"$imagepolicy": "ns:app"}
    image = "ghcr.io/org/app:1.0" // {"$imagepolicy": "ns:app"}

The value on a marked line is, in this order: the image of a Dockerfile ``FROM``
(flags skipped); the first double- or single-quoted string; the right-hand side of a
``NAME=value`` line. The whole value is replaced, exactly like a YAML scalar: a bare marker
writes ``name:tag[@digest]``, ``:tag`` the tag, and so on. Nothing else on the line changes.

PURE: bytes in, bytes out. No filesystem, no clock.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

from image_automation.domain import Change, ImageRef
from image_automation.manifests.editing import FileEdit, Splice, decode, splice
from image_automation.manifests.markers import (
    MarkerComment,
    find_marker_comments,
    line_end,
    resolve,
)

_VALUE_RES = (
    re.compile(r"^\s*FROM\s+(?:--\S+\s+)*(?P<v>[^\s\"']+)", re.IGNORECASE),
    re.compile(r"\"(?P<v>[^\"\\\n]*)\""),
    re.compile(r"'(?P<v>[^'\n]*)'"),
    re.compile(r"^\s*(?:export\s+)?[A-Za-z_][A-Za-z0-9_.-]*\s*=\s*(?P<v>[^\s\"'#]+)"),
)


def apply_line_setters(
    data: bytes, *, file: str, namespace: str, policies: Mapping[str, ImageRef]
) -> FileEdit:
    """Set every marked value in a line-oriented file; see the module docstring."""
    bom, text = decode(data, file=file)
    splices: list[Splice] = []
    changes: list[Change] = []
    warnings: list[str] = []
    for comment in find_marker_comments(text, openers=("#", "//")):
        where = f"{file}:{comment.line}"
        if comment.setter is None:
            warnings.append(f"{where}: {comment.problem}")
            continue
        target = _target_line(text, comment)
        if target is None:
            warnings.append(f"{where}: marker has no value on its line or the next; ignored")
            continue
        start, end, line = target
        found = _find_value(text[start:end])
        if found is None:
            warnings.append(f"{file}:{line}: no value found on the marked line; ignored")
            continue
        value_start, value_end = start + found[0], start + found[1]
        old = text[value_start:value_end]
        wanted = resolve(comment.setter, namespace=namespace, policies=policies, old=old)
        if wanted is None:
            continue
        if wanted.value is None:
            warnings.append(f"{file}:{line}: {wanted.problem}")
            continue
        if wanted.value != old:
            splices.append(Splice(value_start, value_end, wanted.value))
            changes.append(
                Change(file, line, "", "", "", "", comment.setter.text, old, wanted.value)
            )
    if not splices:
        return FileEdit(data, (), tuple(warnings))
    return FileEdit((bom + splice(text, splices)).encode("utf-8"), tuple(changes), tuple(warnings))


def _target_line(text: str, comment: MarkerComment) -> tuple[int, int, int] | None:
    """(start, end, 1-based line) of the code the marker governs."""
    if not comment.comment_only(text):
        return comment.line_start, comment.comment_start, comment.line
    if comment.line_end >= len(text):
        return None
    start = comment.line_end + (2 if text.startswith("\r\n", comment.line_end) else 1)
    end = line_end(text, start)
    if not text[start:end].strip():
        return None
    return start, end, comment.line + 1


def _find_value(code: str) -> tuple[int, int] | None:
    for pattern in _VALUE_RES:
        match = pattern.search(code)
        if match and match.group("v"):
            return match.start("v"), match.end("v")
    return None


__all__ = ["apply_line_setters"]
