"""What a policy asks for (:class:`SelectionSpec`), how it is checked, and its compiled form.

The config loader builds a :class:`SelectionSpec` from native and Flux policy files and calls
:func:`validate_spec` to report every problem at once, each message naming the field. Selection
compiles the spec once per call (:func:`compile_spec`) so that each tag only meets prepared
predicates and bounds.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Literal, get_args

from image_automation.errors import PolicyError
from image_automation.policy._patterns import (
    InvalidPattern,
    Matcher,
    Template,
    compile_pattern,
    parse_template,
)
from image_automation.policy._ranges import InvalidRange, SemverRange, parse_range

Ordering = Literal["semver", "alphabetical", "numerical", "newest_build", "follow"]
ORDERINGS: tuple[str, ...] = get_args(Ordering)
DEFAULT_EXCLUSION: tuple[str, ...] = (r"^.*\.sig$",)


@dataclass(frozen=True, slots=True)
class SelectionSpec:
    """A declarative tag-selection policy. See ``docs/selection.md`` for every rule.

    ``order`` follows Flux: ``asc`` selects the last tag in ascending order (the highest),
    ``desc`` the lowest. ``exclusion``, ``filter_pattern``, ``allow`` and ``deny`` are RE2
    patterns searched anywhere in the tag. ``extract`` is a Go ``Expand`` template applied to the
    filter match; the extracted text is what gets ordered. ``suffix`` must end the ordered text
    and is stripped before parsing. ``min_age`` skips tags younger than it (by ``created``, else
    ``pushed``, else ``first_seen``). ``pin`` and ``follow_tag`` name one exact tag.
    """

    name: str
    ordering: Ordering
    semver_range: str | None = None
    order: Literal["asc", "desc"] = "asc"
    exclusion: tuple[str, ...] = DEFAULT_EXCLUSION
    filter_pattern: str | None = None
    extract: str | None = None
    strict_semver: bool = True
    prereleases: bool = False
    suffix: str | None = None
    allow: tuple[str, ...] = ()
    deny: tuple[str, ...] = ()
    pin: str | None = None
    min_age: timedelta | None = None
    follow_tag: str | None = None

    @property
    def needs_tag_info(self) -> bool:
        """Selection reads digests or timestamps, not only tag names."""
        return self.min_age is not None or self.ordering in ("newest_build", "follow")


class InvalidSpec(PolicyError, ValueError):
    """A spec :func:`validate_spec` finds problems with; ``problems`` lists them all."""

    def __init__(self, problems: list[str]) -> None:
        super().__init__("; ".join(problems))
        self.problems = problems


def validate_spec(spec: SelectionSpec) -> list[str]:
    """Every problem with ``spec`` as ``"policy.<field>: <why>"``; ``[]`` when it is valid."""
    problems: list[str] = []
    if spec.ordering not in ORDERINGS:
        problems.append(f"policy.ordering: must be one of {', '.join(ORDERINGS)}")
    if spec.order not in ("asc", "desc"):
        problems.append("policy.order: must be asc or desc")
    if spec.ordering == "semver":
        if spec.semver_range is None:
            problems.append("policy.semver.range: required for semver ordering")
        else:
            try:
                parse_range(spec.semver_range)
            except InvalidRange as exc:
                problems.append(f"policy.semver.range: {exc}")
    elif spec.semver_range is not None:
        problems.append(f"policy.semver.range: only used by semver ordering, not {spec.ordering}")
    if spec.ordering == "follow" and not spec.follow_tag:
        problems.append("policy.follow.tag: required for follow ordering")
    if spec.ordering != "follow" and spec.follow_tag is not None:
        problems.append(f"policy.follow.tag: only used by follow ordering, not {spec.ordering}")
    for field, patterns in (
        ("exclusion", spec.exclusion),
        ("allow", spec.allow),
        ("deny", spec.deny),
    ):
        for i, pattern in enumerate(patterns):
            problems.extend(_pattern_problems(f"policy.{field}[{i}]", pattern))
    problems.extend(_filter_problems(spec))
    if spec.suffix is not None and not spec.suffix:
        problems.append("policy.suffix: must not be empty")
    if spec.pin is not None and not spec.pin:
        problems.append("policy.pin: must not be empty")
    if spec.min_age is not None and spec.min_age < timedelta(0):
        problems.append("policy.minAge: must not be negative")
    return problems


def _pattern_problems(field: str, pattern: str) -> list[str]:
    try:
        compile_pattern(pattern)
    except InvalidPattern as exc:
        return [f"{field}: {exc}"]
    return []


def _filter_problems(spec: SelectionSpec) -> list[str]:
    if spec.filter_pattern is None:
        if spec.extract:
            return ["policy.filterTags.extract: needs policy.filterTags.pattern"]
        return []
    try:
        compiled = compile_pattern(spec.filter_pattern)
    except InvalidPattern as exc:
        return [f"policy.filterTags.pattern: {exc}"]
    if not spec.extract:
        return []
    template = parse_template(spec.extract, groups=compiled.groups, names=compiled.groupindex)
    return [
        f"policy.filterTags.extract: {name!r} names no group of the pattern"
        for name in template.unknown
    ]


@dataclass(frozen=True, slots=True)
class CompiledSpec:
    """A valid spec with its patterns compiled and its range parsed."""

    spec: SelectionSpec
    exclusion: tuple[Matcher, ...]
    allow: tuple[Matcher, ...]
    deny: tuple[Matcher, ...]
    filter_search: Callable[[bytes], Any] | None
    template: Template | None
    semver_range: SemverRange | None


@functools.lru_cache(maxsize=1024)
def compile_spec(spec: SelectionSpec) -> CompiledSpec:
    """Compile ``spec``; raises :class:`InvalidSpec` listing every problem.

    Cached by spec (frozen, hashable; the compiled matchers hold no state): the daemon and
    ``reconcile`` select with the same specs on every run, and validating and compiling each
    range and pattern again was most of a small selection's cost.
    """
    problems = validate_spec(spec)
    if problems:
        raise InvalidSpec(problems)
    filter_search = None
    template = None
    if spec.filter_pattern is not None:
        compiled = compile_pattern(spec.filter_pattern)
        filter_search = compiled.search
        if spec.extract:  # Flux: an empty template means "no extraction"
            template = parse_template(
                spec.extract, groups=compiled.groups, names=compiled.groupindex
            )
    return CompiledSpec(
        spec=spec,
        exclusion=tuple(Matcher(p) for p in spec.exclusion),
        allow=tuple(Matcher(p) for p in spec.allow),
        deny=tuple(Matcher(p) for p in spec.deny),
        filter_search=filter_search,
        template=template,
        semver_range=parse_range(spec.semver_range) if spec.semver_range is not None else None,
    )
