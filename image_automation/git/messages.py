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

A template may also be a parsed Flux Go template (:mod:`image_automation.git.flux_messages`),
anything with a ``render_text`` method: it renders itself, the rest (trimming, the empty
check) is the same.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Mapping
from typing import Any, Protocol

import jinja2

from image_automation.domain import UpdateResult
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


TRAILER = "Image-Automation"
"""The trailer every commit of ours carries (``Image-Automation: namespace/name``): how the
rollback gate tells our changes from a human's, whatever the message template says."""

_TRAILER_LINE = re.compile(r"^[A-Za-z0-9-]+: \S")


def with_trailer(message: str, automation: str) -> str:
    """``message`` ending in ``Image-Automation: <automation>`` (added once, as git's own
    trailer rules want it: in a last paragraph of ``Key: value`` lines)."""
    value = " ".join(automation.split()) or "image-automation"
    line = f"{TRAILER}: {value}"
    text = message.rstrip("\n")
    lines = text.split("\n")
    if any(existing.strip() == line for existing in lines):
        return text + "\n"
    paragraph = text.rsplit("\n\n", 1)[-1] if "\n\n" in text else ""
    joins = bool(paragraph) and all(_TRAILER_LINE.match(x) for x in paragraph.split("\n"))
    return f"{text}\n{line}\n" if joins else f"{text}\n\n{line}\n"


def has_trailer(message: str) -> bool:
    """Whether ``message`` carries our trailer (any automation of ours)."""
    return any(x.startswith(f"{TRAILER}: ") for x in message.splitlines())


class MessageTemplateError(ConfigError):
    """A commit message template does not parse or does not render; ``line`` and ``column``
    (1-based, 0 when unknown) are the position within the template."""

    def __init__(self, message: str, *, line: int = 0, column: int = 0) -> None:
        super().__init__(message)
        self.line, self.column = line, column


class MessageTemplate(Protocol):
    """A template that renders itself (a parsed Flux Go template)."""

    def render_text(
        self, result: UpdateResult, *, automation: str, values: Mapping[str, Any] | None
    ) -> str: ...


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
    }


def render_message(
    result: UpdateResult,
    template: str | MessageTemplate | None = None,
    *,
    automation: str = "",
    values: Mapping[str, Any] | None = None,
) -> str:
    """Render the commit message for ``result``; ``template=None`` uses DEFAULT_TEMPLATE.

    Raises :class:`MessageTemplateError` when the template has a syntax error, uses an
    undefined variable, breaks a sandbox rule, or renders to blank text.
    """
    if template is not None and not isinstance(template, str):
        text = template.render_text(result, automation=automation, values=values)
        return _finish(text)
    compiled = _compile(DEFAULT_TEMPLATE if template is None else template)
    data = template_data(result, automation=automation, values=values)
    try:
        text = compiled.render(data)
    except jinja2.TemplateError as exc:
        raise MessageTemplateError(f"commit message template: {exc}") from exc
    except (TypeError, ValueError, ArithmeticError, LookupError) as exc:
        raise MessageTemplateError(f"commit message template: {type(exc).__name__}: {exc}") from exc
    return _finish(text)


def _finish(text: str) -> str:
    message = text.strip("\n").rstrip() + "\n"
    if not message.strip():
        raise MessageTemplateError("commit message template rendered an empty message")
    return message


@functools.lru_cache(maxsize=32)
def _compile(source: str) -> jinja2.Template:
    """The template compiled once per source text: compiling costs more than rendering.

    A compiled template renders from many threads at once; a syntax error is not cached.
    """
    env = sandbox()
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise MessageTemplateError(
            f"commit message template, line {exc.lineno}: {exc.message}", line=exc.lineno
        ) from exc


__all__ = [
    "DEFAULT_TEMPLATE",
    "MessageTemplate",
    "MessageTemplateError",
    "policy_of",
    "render_message",
    "template_data",
]
