"""Alert semantics: severity, event sources (kind, namespace, name glob, labels), kinds,
inclusion and exclusion lists (RE2)."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from image_automation.domain.events import InvolvedObject, make_event
from image_automation.notify import CompiledRule, Rule, Source, route
from image_automation.notify.routing import name_matches
from image_automation.policy import InvalidPattern

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
APPS = InvolvedObject(kind="ImageUpdateAutomation", namespace="flux-system", name="apps-prod")
ALL = (Source("ImageUpdateAutomation", "*", "flux-system"),)
PROD = (Source("ImageUpdateAutomation", "apps-*", "flux-system"),)
STAGING = (Source("ImageUpdateAutomation", "*-staging", "flux-system"),)


def ev(kind: str = "commit_pushed", message: str = "pushed 1.2.0", obj: InvolvedObject = APPS):
    return make_event(kind, involved=obj, message=message, now=T0)  # type: ignore[arg-type]


def matches(rule: Rule, event: object, labels: dict[str, str] | None = None) -> bool:
    return CompiledRule.of(rule).matches(event, labels or {})  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("rule", "event", "expected"),
    [
        (Rule("r", "p", "info", ALL), ev(), True),
        (Rule("r", "p", "error", ALL), ev(), False),
        (Rule("r", "p", "error", ALL), ev("failure", "boom"), True),
        (Rule("r", "p", sources=(Source("ImagePolicy", "*", "flux-system"),)), ev(), False),
        (Rule("r", "p", sources=(Source("ImageUpdateAutomation", "*", "other"),)), ev(), False),
        (Rule("r", "p", sources=PROD), ev(), True),
        (Rule("r", "p", sources=STAGING), ev(), False),
        (Rule("r", "p", sources=ALL, kinds=frozenset({"failure"})), ev(), False),
        (Rule("r", "p", sources=ALL, include=("1\\.2\\.",)), ev(), True),
        (Rule("r", "p", sources=ALL, include=("^nothing$",)), ev(), False),
        (Rule("r", "p", sources=ALL, exclude=("1\\.2\\.0",)), ev(), False),
        (Rule("r", "p", sources=ALL, include=("pushed",), exclude=("1\\.2",)), ev(), False),
    ],
    ids=["info-takes-info", "error-drops-info", "error-takes-error", "other-kind",
         "other-namespace", "glob-prefix", "glob-suffix-miss", "kinds", "include-hit",
         "include-miss", "exclude", "exclude-wins"],
)  # fmt: skip
def test_an_alert_takes_only_what_its_filters_allow(
    rule: Rule, event: object, expected: bool
) -> None:
    assert matches(rule, event) is expected


def test_match_labels_need_every_label_of_the_object() -> None:
    rule = Rule("r", "p", sources=(Source("*", "*", "*", labels={"team": "a", "tier": "1"}),))
    assert matches(rule, ev(), {"team": "a", "tier": "1", "x": "y"})
    assert not matches(rule, ev(), {"team": "a"})


@pytest.mark.parametrize(
    ("pattern", "name", "expected"),
    [("*", "", True), ("a*b*c", "aXbYc", True), ("a*b*c", "acb", False), ("ab*ba", "aba", False),
     ("exact", "exact", True), ("exact", "exactly", False), ("**", "x", True)],
)  # fmt: skip
def test_name_globs(pattern: str, name: str, expected: bool) -> None:
    assert name_matches(pattern, name) is expected


def test_one_provider_gets_an_event_once_even_with_two_alerts() -> None:
    rules = [CompiledRule.of(Rule(f"r{i}", "p", sources=ALL)) for i in range(2)]
    rules.append(CompiledRule.of(Rule("r3", "q", sources=ALL)))
    assert [c.rule.key for c in route(rules, ev(), {})] == ["r0", "r3"]


def test_a_backreference_is_refused_like_flux_refuses_it() -> None:
    with pytest.raises(InvalidPattern):
        CompiledRule.of(Rule("r", "p", include=("(a)\\1",)))


def test_a_catastrophic_pattern_on_a_huge_message_runs_in_linear_time() -> None:
    rule = Rule("r", "p", sources=ALL, include=("(a+)+$",))
    assert not matches(rule, ev(message="a" * 100_000 + "!"))
