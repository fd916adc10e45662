"""What commit messages and pull-request texts share: the sandbox and the change dicts.

Both render user templates over an :class:`~image_automation.domain.UpdateResult`, so both
must refuse the same things (attribute escapes, undefined names, runaway output) and show a
change as the same plain dict. Keeping that here means a hardening of the sandbox reaches
every template at once. Pure: no filesystem, no clock.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Mapping
from typing import Any

import jinja2
from jinja2.exceptions import SecurityError
from jinja2.sandbox import SandboxedEnvironment

from image_automation.domain import Change

SETTER_FIELDS = frozenset({"tag", "name", "digest", "image"})

MAX_PRODUCT = 1_000_000
"""Longest string or list a template may build with ``*``: ``{{ 'x' * 10**10 }}`` is refused
before it allocates, not after."""

MAX_EXPONENT = 4096
"""Largest exponent of ``**`` on integers: ``10 ** 10 ** 9`` would compute for hours."""


def policy_of(setter: str) -> str:
    """``flux-system:app:tag`` → ``flux-system:app``; a setter without a field suffix is kept."""
    head, sep, last = setter.rpartition(":")
    return head if sep and head and last in SETTER_FIELDS else setter


def setter_field(setter: str) -> str:
    """The field a setter writes: ``tag``, ``name``, ``digest``, or ``image`` (the default)."""
    head, sep, last = setter.rpartition(":")
    return last if sep and head and last in SETTER_FIELDS else "image"


def change_data(change: Change) -> dict[str, Any]:
    """One change as the plain dict every template sees."""
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


class _Sandbox(SandboxedEnvironment):
    """Jinja2's sandbox plus bounds on the two operators that allocate without limit."""

    intercepted_binops = frozenset({"*", "**"})

    def call_binop(
        self, context: jinja2.runtime.Context, operator_name: str, left: Any, right: Any
    ) -> Any:
        if operator_name == "*":
            _check_product(left, right)
            return operator.mul(left, right)
        if operator_name == "**":
            big = isinstance(left, int) and abs(left) > 1 and isinstance(right, int)
            if big and right > MAX_EXPONENT:
                raise SecurityError(f"exponent {right} is larger than {MAX_EXPONENT}")
            return operator.pow(left, right)
        return super().call_binop(context, operator_name, left, right)


def _check_product(left: Any, right: Any) -> None:
    for seq, times in ((left, right), (right, left)):
        sized = isinstance(seq, str | list | tuple) and isinstance(times, int)
        if sized and len(seq) * times > MAX_PRODUCT:
            raise SecurityError(
                f"repetition would build {len(seq) * times} items, more than {MAX_PRODUCT}"
            )


def sandbox(
    *,
    finalize: Callable[[Any], Any] | None = None,
    filters: Mapping[str, Callable[..., Any]] | None = None,
) -> SandboxedEnvironment:
    """A fresh sandboxed environment with ``StrictUndefined`` and no autoescaping.

    ``lipsum`` is removed: it is the one global that turns a short template into megabytes.
    """
    env = _Sandbox(
        undefined=jinja2.StrictUndefined,
        autoescape=False,
        keep_trailing_newline=True,
        finalize=finalize,
    )
    env.globals.pop("lipsum", None)
    env.filters.update(filters or {})
    return env


def render_capped(
    template: jinja2.Template, data: Mapping[str, Any], *, limit: int
) -> tuple[str, bool]:
    """The rendered text, stopped once it passes ``limit`` characters, and whether it is whole.

    Streaming through ``generate`` means a template that writes gigabytes costs ``limit``
    characters of memory before it is cut off, not gigabytes.
    """
    parts: list[str] = []
    size = 0
    for part in template.generate(data):
        parts.append(part)
        size += len(part)
        if size > limit:
            return "".join(parts)[: limit + 1], False
    return "".join(parts), True


def template_line(exc: BaseException) -> int | None:
    """The template line a render error came from (Jinja2 rewrites tracebacks to it)."""
    line = None
    trace = exc.__traceback__
    while trace is not None:
        if trace.tb_frame.f_code.co_filename == "<template>":
            line = trace.tb_lineno
        trace = trace.tb_next
    return line


__all__ = [
    "MAX_EXPONENT",
    "MAX_PRODUCT",
    "SETTER_FIELDS",
    "change_data",
    "policy_of",
    "render_capped",
    "sandbox",
    "setter_field",
    "template_line",
]
