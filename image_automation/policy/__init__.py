"""Pure selection: semver ranges, orderings, tag filters, exclusion, gates -> Decision.

No I/O and no clock: :func:`select` takes the tags and ``now`` and returns a
:class:`~image_automation.domain.Decision` that says why every tag was or was not chosen.
The rules, tie-breaks and examples are in ``docs/selection.md``.
"""

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
    "SelectionSpec",
    "SemverRange",
    "UpdateWindows",
    "Window",
    "compile_pattern",
    "parse_range",
    "parse_template",
    "select",
    "validate_spec",
]
