"""Pure selection: semver ranges, orderings, tag filters, exclusion, gates -> Decision.

No I/O and no clock: :func:`select` takes the tags and ``now`` and returns a
:class:`~image_automation.domain.Decision` that says why every tag was or was not chosen.
The rules, tie-breaks and examples are in ``docs/selection.md``.
"""

from image_automation.policy._explain import (
    MarkedValue,
    PlannedChange,
    TagFate,
    Trace,
    build_trace,
    fate_of,
    render_trace,
    trace_to_dict,
)
from image_automation.policy._gates import apply_hold, deferred, outranks, refuse, tag_of
from image_automation.policy._patterns import InvalidPattern, compile_pattern, parse_template
from image_automation.policy._ranges import InvalidRange, SemverRange, parse_range
from image_automation.policy._select import select
from image_automation.policy._spec import InvalidSpec, SelectionSpec, validate_spec
from image_automation.policy._windows import CronExpr, Freeze, UpdateWindows, Window

__all__ = [
    "CronExpr",
    "Freeze",
    "InvalidPattern",
    "InvalidRange",
    "InvalidSpec",
    "MarkedValue",
    "PlannedChange",
    "SelectionSpec",
    "SemverRange",
    "TagFate",
    "Trace",
    "UpdateWindows",
    "Window",
    "apply_hold",
    "build_trace",
    "compile_pattern",
    "deferred",
    "fate_of",
    "outranks",
    "parse_range",
    "parse_template",
    "refuse",
    "render_trace",
    "select",
    "tag_of",
    "trace_to_dict",
    "validate_spec",
]
