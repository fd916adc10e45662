"""A pull request's title and body, rendered from a change set; and what we read back.

Pure: no forge, no git, no clock. The engine hands in what changed (an ``UpdateResult``),
why (the policies' ``Decision``s) and what the images say of themselves (OCI labels), and
gets back text that fits the forge: each forge caps a body at a different length, so the
body is shortened by dropping detail (skipped tags, then decisions, then table rows) rather
than cut mid-table. After the rendered text come, always and untouched by templates or
shortening, the checkboxes a reviewer ticks and a hidden marker naming the automation and
head branch; :func:`read_checkboxes` and :func:`owned_by` read those back from a body a
forge (or a human) may have re-wrapped.

Titles and bodies come from sandboxed Jinja2 templates (defaults built in); in a body
template every ``{{ value }}`` is made safe for Markdown unless it is ours (see
:mod:`image_automation.git._markdown`). The variables are listed in docs/pull-requests.md.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable, Mapping
from typing import Any

import jinja2

from image_automation.errors import ConfigError
from image_automation.git._markdown import clean, code, decode_marker, encode_marker, md
from image_automation.git._pr_content import (
    Checkboxes,
    ImageProvenance,
    PullRequestContent,
    RenderedPullRequest,
)
from image_automation.git._pr_data import FULL, NO_DECISIONS, NO_SKIPPED, at_level, shape
from image_automation.git._templates import render_capped, sandbox, template_line

BODY_LIMITS: Mapping[str, int] = {
    "github": 65_536,
    "gitlab": 1_048_576,
    "gitea": 65_536,
    "forgejo": 65_536,
    "bitbucket": 262_144,
    "azuredevops": 4_000,
}
"""Longest body per provider, in characters (UTF-16 code units for Azure DevOps, whose
service counts them). GitHub, GitLab (1 MiB) and Azure DevOps state theirs; Gitea/Forgejo
store any length and Bitbucket Cloud accepts over a million characters, so theirs are ours:
GitHub's figure, and four times it."""

TITLE_LIMIT = 240
"""Longest title: GitHub refuses over 256 characters, GitLab and Gitea over 255, and GitLab,
Gitea and Forgejo put ``Draft: ``/``WIP: `` in front of a draft's title."""

DEFAULT_TITLE_TEMPLATE = """\
{%- if images | length == 1 -%}
chore(images): update {{ images[0] }} to {{ updates | map(attribute="new") | unique | join(", ") }}
{%- else -%}
chore(images): update {{ images | length }} images
{%- endif -%}
"""

DEFAULT_BODY_TEMPLATE = """\
{%- set n = images | length -%}{%- set f = files | length -%}
Automation {{ automation | code }} updates {{ n }} image{{ "s" if n != 1 }} \
in {{ f }} file{{ "s" if f != 1 }} on {{ base | code }}.

| image | old → new | digest | where |
| --- | --- | --- | --- |
{% for u in updates -%}
| {{ u.image | code }} | {{ u.old | code }} → {{ u.new | code }}
{%- if u.compare_url %} ([compare]({{ u.compare_url }})){% endif %} \
| {{ u.digest_short | code }} | {{ u.where[:10] | map("code") | join(", ") | safe }}
{%- if u.where | length > 10 %} and {{ u.where | length - 10 }} more{% endif %} |
{% endfor -%}
{% if more_changes -%}
| … {{ more_changes }} more change{{ "s" if more_changes != 1 }} | | | |
{% endif -%}
{% if decisions %}
### Why this version

{% for d in decisions -%}
- {{ d.policy | code }}: \
{% if d.tag %}selected {{ d.tag | code }}{% else %}nothing selected{% endif %}
{%- for r in d.reasons %}; {{ r }}{% endfor %}
{% for s in d.skipped %}  - skipped {{ s.tag | code }}: {{ s.reason }}
{% endfor -%}
{% if d.skipped_more %}  - {% if d.skipped %}… and {{ d.skipped_more }} more skipped\
{% else %}{{ d.skipped_more }} tag{{ "s" if d.skipped_more != 1 }} skipped{% endif %}
{% endif -%}
{% if d.lost_total %}  - {{ d.lost_total }} other tag{{ "s" if d.lost_total != 1 }} ranked lower\
{% if d.lost_reason %}: {{ d.lost_reason }}{% endif %}
{% endif -%}
{% endfor -%}
{% endif -%}
{% if held %}
### Held back

{% for h in held -%}
- {{ h.policy | code }}: {{ h.reason }}
{% endfor -%}
{% endif -%}
{% if truncated %}
_Shortened to fit the {{ limit }}-character limit of {{ provider }}\
{%- if more_decisions %}; {{ more_decisions }} decision{{ "s" if more_decisions != 1 }} \
left out{% endif %}._
{% endif -%}
"""

RENDER_LIMIT = 4096
"""Characters of title template output read before the rest is ignored."""


class PullRequestTemplateError(ConfigError):
    """A pull-request title or body template does not parse or does not render.

    ``template`` is ``"title"`` or ``"body"``; ``line`` the template line when known.
    """

    def __init__(self, message: str, *, template: str, line: int | None = None) -> None:
        self.template = template
        self.line = line
        where = f", line {line}" if line is not None else ""
        super().__init__(f"pull request {template} template{where}: {message}")


REBASE_BOX = "- [ ] <!-- ia:rebase --> Rebase this PR now"
IGNORE_BOX = "- [ ] <!-- ia:ignore --> Ignore this version (close and never propose it again)"


def body_limit(provider: str) -> int:
    """The longest body ``provider`` takes; ``ValueError`` for a provider we do not know."""
    try:
        return BODY_LIMITS[provider]
    except KeyError:
        known = ", ".join(sorted(BODY_LIMITS))
        raise ValueError(f"unknown forge provider {provider!r} (known: {known})") from None


def render_pull_request(
    content: PullRequestContent,
    *,
    title_template: str | None = None,
    body_template: str | None = None,
    provider: str,
) -> RenderedPullRequest:
    """Title and body for ``content`` on ``provider``; ``None`` templates use the defaults.

    Raises :class:`PullRequestTemplateError` for a template that does not parse, uses an
    undefined variable, breaks a sandbox rule, or (title only) renders blank.
    """
    limit = body_limit(provider)
    measure = _utf16_length if provider == "azuredevops" else len
    title = _compiled(DEFAULT_TITLE_TEMPLATE if title_template is None else title_template, "title")
    body = _compiled(DEFAULT_BODY_TEMPLATE if body_template is None else body_template, "body")
    data = shape(content, provider=provider, limit=limit)
    footer = _footer(content)
    main = _fit(body, data, budget=limit - measure(footer), measure=measure)
    body_text = main + footer if main else footer.lstrip("\n")
    return RenderedPullRequest(_title(title, data, measure=measure), body_text)


def read_checkboxes(body: str | None) -> Checkboxes:
    """Which of our checkboxes are ticked in ``body``; the last of each counts.

    Tolerates what forges and editors do to a body: CRLF, other list markers (``*``,
    ``1.``), extra or non-breaking spaces, ``X`` for ``x``, escaped brackets, the marker
    anywhere on the line.
    """
    state = {"rebase": False, "ignore": False}
    for line in (body or "").splitlines():
        box = _CHECKBOX.fullmatch(line)
        if box is None:
            continue
        for name in _BOX_MARKER.findall(box.group(2)):
            state[name.lower()] = box.group(1) in "xX"
    return Checkboxes(rebase=state["rebase"], ignore=state["ignore"])


def owned_by(body: str | None) -> tuple[str, str] | None:
    """``(automation, head)`` from our hidden marker in ``body`` (the last one), else None."""
    found = _OWNER.findall(body or "")
    if not found:
        return None
    automation, head = (decode_marker(value) for value in found[-1])
    return (automation, head) if automation and head else None


_CHECKBOX = re.compile(r"\s*(?:[-*+]|\d{1,9}[.)])\s+\\?\[([ xX])\\?\](.*)")
_BOX_MARKER = re.compile(r"<!--\s*ia:(rebase|ignore)\s*-->", re.IGNORECASE)
_OWNER = re.compile(r"<!--\s*image-automation:\s*automation=(\S+)\s+head=(\S+)\s*-->")
_RESERVED = re.compile(r"<!--(?=\s*(?:ia|image-automation)\s*:)", re.IGNORECASE)
_FENCE = re.compile(r"^ {0,3}(?:```|~~~)", re.MULTILINE)


def _footer(content: PullRequestContent) -> str:
    ignore = "tick *Ignore* below or " if content.checkboxes else ""
    advice = (
        "To stay on a version, set `pin` in its image policy. To skip this version, "
        f"{ignore}close this pull request without merging: it is not proposed again, and a "
        "newer version opens a new pull request."
    )
    return footer(content.automation, content.head, advice=advice, checkboxes=content.checkboxes)


def footer(automation: str, head: str, *, advice: str, checkboxes: bool = True) -> str:
    """What ends every body of ours: ``advice``, the checkboxes, the hidden owner marker
    (:func:`owned_by` reads it back). Other renderers of ours (promotions) end with it too."""
    lines = ["", "", "---", "", advice, ""]
    if checkboxes:
        lines += [REBASE_BOX, IGNORE_BOX, ""]
    marker = f"automation={encode_marker(automation)} head={encode_marker(head)}"
    lines += [f"<!-- image-automation: {marker} -->", ""]
    return "\n".join(lines)


def _fit(
    template: jinja2.Template,
    data: Mapping[str, Any],
    *,
    budget: int,
    measure: Callable[[str], int],
) -> str:
    """The longest rendering within ``budget``: less detail first, then fewer rows (the
    most rows that fit, by bisection), and only then a cut at a line."""
    for details in (FULL, NO_SKIPPED, NO_DECISIONS):
        text = _within(template, at_level(data, details=details), budget=budget, measure=measure)
        if text is not None:
            return text
    best, low, high = None, 0, len(data["updates"]) - 1
    while low <= high:
        keep = (low + high) // 2
        shorter = at_level(data, details=NO_DECISIONS, keep=keep)
        text = _within(template, shorter, budget=budget, measure=measure)
        if text is not None:
            best, low = text, keep + 1
        else:
            high = keep - 1
    if best is not None:
        return best
    shortest = at_level(data, details=NO_DECISIONS, keep=0)
    text, _ = _render(template, shortest, kind="body", limit=budget)
    return _cut(_safe_main(text), budget=budget, measure=measure)


def _within(
    template: jinja2.Template,
    data: Mapping[str, Any],
    *,
    budget: int,
    measure: Callable[[str], int],
) -> str | None:
    text, whole = _render(template, data, kind="body", limit=budget)
    if not whole:
        return None
    text = _safe_main(text)
    return text if measure(text) <= budget else None


def _safe_main(text: str) -> str:
    """The template's output, unable to fake our markers or to swallow the footer into an
    open HTML comment or code fence."""
    text = _RESERVED.sub("<!-- quoted", text.rstrip())
    if text.rfind("<!--") > text.rfind("-->"):
        text += " -->"
    if len(_FENCE.findall(text)) % 2:
        text += "\n```"
    return text


def _cut(text: str, *, budget: int, measure: Callable[[str], int]) -> str:
    notice = "\n\n… (shortened to fit the forge's limit)"
    room = max(budget - measure(notice) - 8, 0)  # 8: room to close a comment or a fence
    text = text[:room]
    while measure(text) > room:
        text = text[: len(text) - (measure(text) - room)]
    line_end = text.rfind("\n")
    text = text[:line_end] if line_end > 0 else text
    return _safe_main(text) + notice


def _title(
    template: jinja2.Template, data: Mapping[str, Any], *, measure: Callable[[str], int]
) -> str:
    text, _ = _render(template, data, kind="title", limit=RENDER_LIMIT)
    title = " ".join(clean(text, limit=RENDER_LIMIT).split())
    if not title:
        raise PullRequestTemplateError("rendered an empty title", template="title")
    if measure(title) > TITLE_LIMIT:
        while measure(title) > TITLE_LIMIT - 1:
            title = title[: len(title) - (measure(title) - TITLE_LIMIT + 1)]
        title = title.rstrip() + "…"
    return title


def _render(
    template: jinja2.Template, data: Mapping[str, Any], *, kind: str, limit: int
) -> tuple[str, bool]:
    try:
        return render_capped(template, data, limit=limit)
    except jinja2.TemplateError as exc:
        raise PullRequestTemplateError(str(exc), template=kind, line=template_line(exc)) from exc
    except (TypeError, ValueError, ArithmeticError, LookupError, RecursionError) as exc:
        message = f"{type(exc).__name__}: {exc}"
        raise PullRequestTemplateError(message, template=kind, line=template_line(exc)) from exc


@functools.lru_cache(maxsize=64)
def _compiled(source: str, kind: str) -> jinja2.Template:
    """Compiled once per source: compiling costs more than rendering; errors are not cached."""
    env = _BODY_ENV if kind == "body" else _TITLE_ENV
    try:
        return env.from_string(source)
    except jinja2.TemplateSyntaxError as exc:
        raise PullRequestTemplateError(
            exc.message or "syntax error", template=kind, line=exc.lineno
        ) from exc


def _utf16_length(text: str) -> int:
    return len(text.encode("utf-16-le")) // 2


_FILTERS = {"code": code, "md": md}
_TITLE_ENV = sandbox(filters=_FILTERS)
_BODY_ENV = sandbox(finalize=md, filters=_FILTERS)

__all__ = [
    "BODY_LIMITS",
    "DEFAULT_BODY_TEMPLATE",
    "DEFAULT_TITLE_TEMPLATE",
    "IGNORE_BOX",
    "REBASE_BOX",
    "TITLE_LIMIT",
    "Checkboxes",
    "ImageProvenance",
    "PullRequestContent",
    "PullRequestTemplateError",
    "RenderedPullRequest",
    "body_limit",
    "footer",
    "owned_by",
    "read_checkboxes",
    "render_pull_request",
]
