"""Which rules an event matches: Flux ``Alert`` semantics, pure.

An ``Alert`` with ``eventSeverity: info`` takes every event, ``error`` only errors; an event
source matches on kind, namespace and name (``*`` matches any run of characters), and on
``matchLabels`` against the object's labels when it sets them; ``inclusionList`` (when not
empty) must match the message and ``exclusionList`` must not. Patterns are RE2, compiled
once per rule, so a hostile pattern or message costs linear time.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from image_automation.domain.events import Event
from image_automation.notify.settings import Rule, Source
from image_automation.policy import compile_pattern

Labels = Callable[[Event], Mapping[str, str]]


def name_matches(pattern: str, name: str) -> bool:
    """Glob with ``*`` only (no ``?``/``[]``: Kubernetes names never need them)."""
    parts = pattern.split("*")
    if len(parts) == 1:
        return pattern == name
    if not name.startswith(parts[0]) or not name.endswith(parts[-1]):
        return False
    at, end = len(parts[0]), len(name) - len(parts[-1])
    if at > end:
        return False
    for part in parts[1:-1]:
        found = name.find(part, at, end)
        if found < 0:
            return False
        at = found + len(part)
    return True


def source_matches(source: Source, event: Event, labels: Mapping[str, str]) -> bool:
    obj = event.involved
    if source.kind not in ("*", obj.kind) or source.namespace not in ("*", obj.namespace):
        return False
    if not name_matches(source.name, obj.name):
        return False
    if source.labels:
        return all(labels.get(k) == v for k, v in source.labels.items())
    return True


@dataclass(frozen=True, slots=True)
class CompiledRule:
    rule: Rule
    include: tuple[Any, ...]
    exclude: tuple[Any, ...]

    @classmethod
    def of(cls, rule: Rule) -> CompiledRule:
        return cls(
            rule,
            tuple(compile_pattern(p) for p in rule.include),
            tuple(compile_pattern(p) for p in rule.exclude),
        )

    def matches(self, event: Event, labels: Mapping[str, str]) -> bool:
        rule = self.rule
        if rule.severity == "error" and event.severity != "error":
            return False
        if rule.kinds and event.kind not in rule.kinds:
            return False
        if rule.sources and not any(source_matches(s, event, labels) for s in rule.sources):
            return False
        message = event.message
        if self.include and not any(p.search(message) for p in self.include):
            return False
        return not any(p.search(message) for p in self.exclude)


def route(
    rules: Sequence[CompiledRule], event: Event, labels: Mapping[str, str]
) -> list[CompiledRule]:
    """The rules ``event`` matches, in order; one provider is listed once (first rule wins),
    so two alerts on one provider do not send the same event twice."""
    seen: set[str] = set()
    out = []
    for compiled in rules:
        provider = compiled.rule.provider
        if provider not in seen and compiled.matches(event, labels):
            seen.add(provider)
            out.append(compiled)
    return out


__all__ = ["CompiledRule", "Labels", "name_matches", "route", "source_matches"]
