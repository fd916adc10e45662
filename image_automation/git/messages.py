"""Commit messages rendered from an UpdateResult with a sandboxed Jinja2 template.

Pure: no filesystem, no clock, no git. Templates come from users (automation files), so they
run in Jinja2's sandbox with ``StrictUndefined``: a typo in a variable name is an error that
names the template line, not a silently empty commit message.

Variables a template sees (all plain data, ordered by file then line):

- ``changes``: list of change dicts ``{file, line, api_version, kind, namespace, name,
  object, setter, policy, old, new}``; ``object`` is ``Kind namespace/name``, ``policy`` is
  the setter without its ``:tag`` / ``:name`` / ``:digest`` / ``:image`` field suffix.
- ``files``: ``{file: [change, ...]}``; ``objects``: ``{object: [change, ...]}``;
  ``policies``: ``{policy: [change, ...]}``; ``images``: sorted unique new values.
- ``warnings``: the update's warnings; ``automation``: the automation's name (may be "");
  ``values``: any extra mapping the caller passes (Flux ``.Values`` equivalent).
- ``flux``: the same data shaped as Flux's template data (``AutomationObject``,
  ``Changed.FileChanges``/``Objects``/``Changes``/``ImageResult``, ``Values``) for templates
  translated by :mod:`image_automation.git.flux_messages`; the ``go_range`` filter iterates
  as Go's ``range`` does (maps in sorted key order as ``(key, value)``, lists as
  ``(index, item)``).
"""

from __future__ import annotations

import functools
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import jinja2

from image_automation.domain import ImageRef, InvalidReference, UpdateResult
from image_automation.errors import ConfigError
from image_automation.git._templates import change_data, policy_of, sandbox

DEFAULT_TEMPLATE = """\
{%- if automation %}{{ automation }}: {% endif -%}
Update {{ changes | length }} image reference{{ "s" if changes | length != 1 }} \
in {{ files | length }} file{{ "s" if files | length != 1 }}

{% for file, items in files.items() -%}
{{ file }}:
{% for c in items -%}
- {{ c.object }} ({{ c.setter }}, line {{ c.line }}): {{ c.old }} -> {{ c.new }}
{% endfor %}
{% endfor -%}
{% if policies -%}
Policies: {{ policies | join(", ") }}
{% endif -%}
"""


class MessageTemplateError(ConfigError):
    """A commit message template does not parse or does not render."""


def template_data(
    result: UpdateResult,
    *,
    automation: str = "",
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables a template sees; exposed so docs and tests can show them."""
    changes = [change_data(c) for c in sorted(result.changes, key=lambda c: (c.file, c.line))]
    files: dict[str, list[dict[str, Any]]] = {}
    objects: dict[str, list[dict[str, Any]]] = {}
    policies: dict[str, list[dict[str, Any]]] = {}
    for item in changes:
        files.setdefault(item["file"], []).append(item)
        objects.setdefault(item["object"], []).append(item)
        policies.setdefault(item["policy"], []).append(item)
    return {
        "changes": changes,
        "files": files,
        "objects": objects,
        "policies": policies,
        "images": sorted({item["new"] for item in changes}),
        "warnings": list(result.warnings),
        "automation": automation,
        "values": dict(values or {}),
        "flux": _flux_data(result, automation=automation, values=values),
    }


@dataclass(frozen=True, order=True, slots=True)
class ObjectId:
    """Flux's ``ObjectIdentifier`` (a map key in ``FileChanges``/``Objects``)."""

    APIVersion: str
    Kind: str
    Namespace: str
    Name: str

    def __str__(self) -> str:
        return f"{self.Kind} {self.Namespace}/{self.Name}" if self.Namespace else self.Kind


class GoImage(str):
    """A Flux ``ImageRef`` in ``.Changed.ImageResult``: prints as the written value.

    ``Name`` is the whole reference (as go-containerregistry's ``Tag.Name``), ``Identifier``
    the tag, ``Registry``/``Repository`` its parts; for a ``:tag`` setter only
    ``Identifier`` is known (the others are empty); ``Policy`` is ``namespace:name``.
    """

    Name: str
    Identifier: str
    Registry: str
    Repository: str
    Policy: str

    def __new__(cls, value: str, *, policy: str) -> GoImage:
        self = super().__new__(cls, value)
        name, tag, registry, repo = "", value, "", ""
        if "/" in value or ":" in value:  # a whole image, not a bare tag from a :tag setter
            try:
                ref = ImageRef.parse(value)
                name, tag, registry, repo = value, ref.tag or "", ref.registry, ref.repository
            except InvalidReference:
                pass
        self.Name, self.Identifier, self.Registry, self.Repository = name, tag, registry, repo
        self.Policy = policy
        return self


def go_range(value: Any) -> list[tuple[Any, Any]]:
    """Go ``range``: maps by sorted key, sequences by index."""
    if isinstance(value, Mapping):
        return sorted(value.items(), key=lambda item: item[0])
    if value is None:
        return []
    return list(enumerate(value))


def _flux_data(
    result: UpdateResult, *, automation: str, values: Mapping[str, Any] | None
) -> dict[str, Any]:
    files: dict[str, dict[ObjectId, list[dict[str, str]]]] = {}
    objects: dict[ObjectId, list[dict[str, str]]] = {}
    images: dict[str, GoImage] = {}
    image_files: dict[str, dict[ObjectId, list[GoImage]]] = {}
    changes: list[dict[str, str]] = []
    image_objects: dict[ObjectId, list[GoImage]] = {}
    for change in sorted(result.changes, key=lambda c: (c.file, c.line)):
        oid = ObjectId(change.api_version, change.kind, change.namespace, change.name)
        item = {"OldValue": change.old, "NewValue": change.new, "Setter": change.setter}
        changes.append(item)
        files.setdefault(change.file, {}).setdefault(oid, []).append(item)
        objects.setdefault(oid, []).append(item)
        image = images.setdefault(change.new, GoImage(change.new, policy=policy_of(change.setter)))
        image_files.setdefault(change.file, {}).setdefault(oid, []).append(image)
        image_objects.setdefault(oid, []).append(image)
    return {
        "AutomationObject": automation,
        "Changed": {
            "FileChanges": files,
            "Objects": objects,
            "Changes": changes,
            "ImageResult": {
                "Images": [images[k] for k in sorted(images)],
                "Files": {f: {"Objects": objs} for f, objs in image_files.items()},
                "Objects": image_objects,
            },
        },
        "Values": dict(values or {}),
    }


def render_message(
    result: UpdateResult,
    template: str | None = None,
    *,
    automation: str = "",
    values: Mapping[str, Any] | None = None,
) -> str:
    """Render the commit message for ``result``; ``template=None`` uses DEFAULT_TEMPLATE.

    Raises :class:`MessageTemplateError` when the template has a syntax error, uses an
    undefined variable, breaks a sandbox rule, or renders to blank text.
    """
    compiled = _compile(DEFAULT_TEMPLATE if template is None else template)
    data = template_data(result, automation=automation, values=values)
    try:
        text = compiled.render(data)
    except jinja2.TemplateError as exc:
        raise MessageTemplateError(f"commit message template: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise MessageTemplateError(f"commit message template: {type(exc).__name__}: {exc}") from exc
    message = text.strip("\n").rstrip() + "\n"
    if not message.strip():
        raise MessageTemplateError("commit message template rendered an empty message")
    return message


@functools.lru_cache(maxsize=32)
def _compile(source: str) -> jinja2.Template:
    """The template compiled once per source text: compiling costs more than rendering.

    A compiled template renders from many threads at once; a syntax error is not cached.
    """
    env = sandbox(filters={"go_range": go_range})
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise MessageTemplateError(
            f"commit message template, line {exc.lineno}: {exc.message}"
        ) from exc


__all__ = [
    "DEFAULT_TEMPLATE",
    "MessageTemplateError",
    "policy_of",
    "render_message",
    "template_data",
]
