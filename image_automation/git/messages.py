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
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import jinja2
from jinja2.sandbox import SandboxedEnvironment

from image_automation.domain import Change, UpdateResult
from image_automation.errors import ConfigError

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

_SETTER_FIELDS = frozenset({"tag", "name", "digest", "image"})


class MessageTemplateError(ConfigError):
    """A commit message template does not parse or does not render."""


def policy_of(setter: str) -> str:
    """``flux-system:app:tag`` → ``flux-system:app``; a setter without a field suffix is kept."""
    head, sep, last = setter.rpartition(":")
    return head if sep and head and last in _SETTER_FIELDS else setter


def template_data(
    result: UpdateResult,
    *,
    automation: str = "",
    values: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The variables a template sees; exposed so docs and tests can show them."""
    changes = [_change_data(c) for c in sorted(result.changes, key=lambda c: (c.file, c.line))]
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
    source = DEFAULT_TEMPLATE if template is None else template
    env = SandboxedEnvironment(
        undefined=jinja2.StrictUndefined, autoescape=False, keep_trailing_newline=True
    )
    try:
        compiled = env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise MessageTemplateError(
            f"commit message template, line {exc.lineno}: {exc.message}"
        ) from exc
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


def _change_data(change: Change) -> dict[str, Any]:
    where = f"{change.namespace}/{change.name}" if change.namespace else change.name
    return {
        "file": change.file,
        "line": change.line,
        "api_version": change.api_version,
        "kind": change.kind,
        "namespace": change.namespace,
        "name": change.name,
        "object": f"{change.kind} {where}".strip(),
        "setter": change.setter,
        "policy": policy_of(change.setter),
        "old": change.old,
        "new": change.new,
    }


__all__ = [
    "DEFAULT_TEMPLATE",
    "MessageTemplateError",
    "policy_of",
    "render_message",
    "template_data",
]
