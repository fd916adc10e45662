"""The Promotion kind as a document: its values, bounds and graph, each problem at its field."""

from __future__ import annotations

from datetime import time, timedelta

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.promotions import Promotion, stage_policies, stage_sources

HEAD = """\
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {name: web, namespace: apps}
spec:
  policies: [web, api]
"""
TWO = "  stages:\n    - {name: dev, path: dev}\n    - {name: prod, path: prod}\n"


def load(text: str) -> tuple[Promotion | None, list[str]]:
    result = load_bytes(text.encode(), file="p.yaml")
    docs = [d.obj for d in result.promotions]
    return (docs[0] if docs else None), [str(e) for e in result.errors]  # type: ignore[return-value]


def test_a_minimal_promotion_has_the_documented_defaults() -> None:
    found, errors = load(HEAD + TWO)
    assert errors == [] and found is not None
    spec = found.spec
    assert (spec.interval, spec.git.branch, spec.pull_request.grouping) == (
        timedelta(minutes=10), "main", "stage",
    )  # fmt: skip
    prod = spec.stages[1]
    assert (prod.soak, prod.backwards, prod.windows, prod.gates.checks) == (
        timedelta(0), False, [], [],
    )  # fmt: skip
    assert stage_sources(spec) == ([None, 0], [])
    assert stage_policies(spec, 1) == ["web", "api"]


def test_a_window_is_built_in_its_time_zone() -> None:
    text = HEAD + TWO.replace(
        "{name: prod, path: prod}",
        "{name: prod, path: prod, windows: [{days: [Mon-Fri], start: '09:00', end: '16:00', "
        "timeZone: Europe/Berlin}, {cron: '0 22 * * 5', duration: 8h}]}",
    )
    found, errors = load(text)
    assert errors == [] and found is not None
    office, night = (w.window() for w in found.spec.stages[1].windows)
    assert (office.timezone, office.start, office.end, sorted(office.days)) == (
        "Europe/Berlin", time(9), time(16), [0, 1, 2, 3, 4],
    )  # fmt: skip
    assert night.cron is not None and night.duration == timedelta(hours=8)


BAD = [
    pytest.param(
        "  stages:\n    - {name: dev}\n",
        "spec.stages: List should have at least 2 items",
        id="one-stage",
    ),
    pytest.param(TWO + "  bogus: 1\n", "spec.bogus: unknown field", id="unknown-field"),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, soak: 400d}"),
        "soak must be between 0 and 366 days",
        id="soak-too-long",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, backwards: 'yes'}"),
        "spec.stages[1].backwards: Input should be a valid boolean",
        id="backwards-string",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, pullRequest: {autoMerge: true}}"),
        "true names no method",
        id="auto-merge-true",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, gates: {http: [{url: 'ftp://x/'}]}}"),
        "must be an https:// (or http://) URL",
        id="gate-scheme",
    ),
    pytest.param(
        TWO.replace(
            "path: prod}", "path: prod, gates: {http: [{url: 'https://h/', timeout: 5m}]}}"
        ),
        "timeout must be above 0 and at most 60s",
        id="gate-timeout",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, windows: [{cron: '* * * *'}]}"),
        "must have five fields",
        id="cron-fields",
    ),
    pytest.param(
        TWO.replace(
            "path: prod}", "path: prod, windows: [{days: [Mon], cron: '0 9 * * *', duration: 1h}]}"
        ),
        "cron windows take no days",
        id="cron-with-days",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, windows: [{start: '25:00'}]}"),
        "is not HH:MM",
        id="bad-clock",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, branch: 'a..b'}"),
        "must not contain '..'",
        id="branch-dots",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, branch: x, repository: {url: u}}"),
        "takes its branch in repository.branch",
        id="branch-and-repository",
    ),
    pytest.param(
        TWO.replace("path: prod}", "path: prod, gates: {checks: [ci, ci]}}"),
        "'ci' is listed twice",
        id="check-twice",
    ),
    pytest.param(
        TWO.replace("path: prod}", 'path: "a\\0b"}'),
        "must be relative and stay inside",
        id="nul-in-path",
    ),
    pytest.param(
        TWO.replace("{name: prod, path: prod}", "{name: '" + "p" * 41 + "', path: b}"),
        "must be 1-40 lower-case letters",
        id="long-stage-name",
    ),
]


@pytest.mark.parametrize(("stages", "expected"), BAD)
def test_a_bad_value_is_an_error_at_its_field(stages: str, expected: str) -> None:
    found, errors = load(HEAD + stages)
    assert found is None
    assert any(expected in e for e in errors), errors


def test_a_huge_policy_list_is_refused_not_walked() -> None:
    names = ", ".join(f"p{i}" for i in range(501))
    found, errors = load(HEAD.replace("[web, api]", f"[{names}]") + TWO)
    assert found is None and any("spec.policies" in e and "at most 500" in e for e in errors)


GRAPHS = [
    pytest.param(
        "    - {name: a}\n    - {name: b, from: c}\n", ["unknown stage 'c'"], id="unknown"
    ),
    pytest.param(
        "    - {name: a}\n    - {name: b, from: b}\n", ["cannot follow itself"], id="self"
    ),
    pytest.param(
        "    - {name: a, from: c}\n    - {name: b, path: b}\n    - {name: c, path: c}\n",
        ["stages form a cycle: a → b → c → a"],
        id="cycle-of-three",
    ),
    pytest.param("    - {name: a}\n    - {name: a, path: b}\n", ["declared twice"], id="twice"),
    pytest.param(
        "    - {name: a, policies: [web]}\n    - {name: b, path: b}\n",
        ["stage 'a' does not carry api"],
        id="source-does-not-carry",
    ),
    pytest.param(
        "    - {name: a}\n    - {name: b, path: b, from: a}\n    - {name: c, from: a, path: c}\n",
        [],
        id="fan-out",
    ),
]


@pytest.mark.parametrize(("stages", "problems"), GRAPHS)
def test_the_stages_graph_is_checked(stages: str, problems: list[str]) -> None:
    found, errors = load(HEAD + "  stages:\n" + stages)
    assert errors == [] and found is not None
    _, found_problems = stage_sources(found.spec)
    messages = [message for _, message in found_problems]
    assert len(messages) == len(problems), messages
    for expected, message in zip(problems, messages, strict=True):
        assert expected in message
