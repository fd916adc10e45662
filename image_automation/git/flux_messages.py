"""Flux ``messageTemplate``: Go ``text/template`` plus Sprig's hermetic functions, interpreted.

Pure: text and data in, text out. No Python library runs Go templates, and translating them
into another template language loses Go's semantics (pipelines pass the value *last*, maps
range in key order, ``and``/``or`` return an argument, ``<no value>``), so this package
carries a small interpreter for the subset Flux users write: ``_gotemplate_lex`` (tokens),
``_gotemplate_parse`` (tree and parse-time checks), ``_gotemplate_exec`` (execution, bounded
in output and steps), ``_gotemplate_values`` / ``_gotemplate_printf`` (Go's values and
``fmt``), ``_gotemplate_builtins`` / ``_sprig`` / ``_sprig_regex`` (functions) and
``_flux_data`` (Flux's ``TemplateData``). What is and is not supported: ``docs/templates.md``.

Every error is a :class:`FluxTemplateError` carrying the 1-based ``line`` and ``column``
within the template, so a caller can point at ``file:line`` in the YAML file.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from image_automation.domain import UpdateResult
from image_automation.git import _flux_data
from image_automation.git._gotemplate_builtins import BUILTINS, GoFunc
from image_automation.git._gotemplate_exec import execute
from image_automation.git._gotemplate_lex import GoTemplateError, line_col
from image_automation.git._gotemplate_nodes import Node
from image_automation.git._gotemplate_parse import parse
from image_automation.git._sprig import SPRIG
from image_automation.git.messages import MessageTemplateError

MAX_SOURCE = 256 * 1024
"""Characters a template may have."""

FUNCTIONS: dict[str, GoFunc] = {**BUILTINS, **SPRIG}
"""Every function a template may call, but ``and``/``or`` (the executor's own)."""
_NAMES = frozenset({*FUNCTIONS, "and", "or"})

_SPRIG_NOT_HERE = frozenset(
    """abbrev abbrevboth addf b32dec b32enc camelcase ceil chunk deepCopy deepEqual dig divf
    float64 floor fromJson initials isAbs kebabcase kindIs kindOf maxf merge mergeOverwrite minf
    mulf mustAppend mustFirst mustLast mustRegexReplaceAll mustToJson omit pick plural pluck
    required round semver semverCompare seq set sha512sum snakecase subf swapcase toDecimal
    toJson toPrettyJson toRawJson typeIs typeOf unset untilStep untitle urlJoin urlParse values
    wrap wrapWith""".split()  # noqa: SIM905 - a word list reads better than 60 quoted names
)
"""Sprig hermetic functions Flux offers that this interpreter does not implement."""


class FluxTemplateError(MessageTemplateError):
    """A Flux message template does not parse or does not run; ``line``/``column`` are
    1-based within the template (0 when unknown)."""


def _explain(name: str) -> str:
    if name in _SPRIG_NOT_HERE:
        return f"function {name!r} is not supported here (docs/templates.md lists what is)"
    return f"function {name!r} not defined"


def _error(source: str, exc: GoTemplateError) -> FluxTemplateError:
    if exc.pos < 0:
        return FluxTemplateError(f"commit message template: {exc.message}")
    line, column = line_col(source, exc.pos)
    return FluxTemplateError(
        f"commit message template, line {line}, column {column}: {exc.message}",
        line=line,
        column=column,
    )


@dataclass(frozen=True, slots=True)
class FluxTemplate:
    """A parsed template; render it any number of times, from any thread."""

    source: str
    nodes: tuple[Node, ...] = field(repr=False, compare=False)

    def render_text(
        self, result: UpdateResult, *, automation: str, values: Mapping[str, Any] | None
    ) -> str:
        """The message for ``result`` (as :func:`render` without the notes)."""
        return self.render(result, automation=automation, values=values)[0]

    def render(
        self, result: UpdateResult, *, automation: str, values: Mapping[str, Any] | None
    ) -> tuple[str, list[str]]:
        """The message for ``result`` and notes about fields current Flux has removed."""
        data = _flux_data.template_data(result, automation=automation, values=values)
        return self.render_data(data)

    def render_data(self, data: Any) -> tuple[str, list[str]]:
        """Render over any Go-shaped data (tests, docs)."""
        try:
            return execute(list(self.nodes), data, FUNCTIONS)
        except GoTemplateError as exc:
            raise _error(self.source, exc) from None
        except RecursionError:
            raise FluxTemplateError("commit message template: nested too deeply") from None


def parse_template(source: str) -> FluxTemplate:
    """Parse a Flux ``messageTemplate``; raises :class:`FluxTemplateError` with its line."""
    if len(source) > MAX_SOURCE:
        raise FluxTemplateError(f"commit message template longer than {MAX_SOURCE} characters")
    try:
        nodes = parse(source, functions=_NAMES, explain=_explain)
    except GoTemplateError as exc:
        raise _error(source, exc) from None
    except RecursionError:
        raise FluxTemplateError("commit message template: nested too deeply") from None
    return FluxTemplate(source, tuple(nodes))


REMOVED_UPDATED = _flux_data.REMOVED_UPDATED
IMAGE_RESULT_NOTE = _flux_data.IMAGE_RESULT_NOTE

__all__ = [
    "FUNCTIONS",
    "IMAGE_RESULT_NOTE",
    "MAX_SOURCE",
    "REMOVED_UPDATED",
    "FluxTemplate",
    "FluxTemplateError",
    "parse_template",
]
