"""The decision trace (``explain``): each reason's fate, and golden text and JSON forms.

Goldens live in ``explain_golden/CASE.txt`` and ``CASE.json``; after an intended change of
the forms, ``EXPLAIN_GOLDEN_UPDATE=1 pytest tests/unit/policy/test_explain.py`` rewrites them
(and the diff is reviewed like code).
"""

from __future__ import annotations

import json
import os
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from image_automation.domain import Decision, Hold, TagInfo
from image_automation.policy import (
    MarkedValue,
    PlannedChange,
    SelectionSpec,
    Trace,
    apply_hold,
    build_trace,
    deferred,
    fate_of,
    refuse,
    render_trace,
    select,
    trace_to_dict,
)
from image_automation.policy._explain import FATES

GOLDEN = Path(__file__).parent / "explain_golden"
NOW = datetime(2026, 5, 4, 12, 0, tzinfo=UTC)
SCANNED = NOW - timedelta(minutes=5)
SEMVER = SelectionSpec(name="apps/web", ordering="semver", semver_range=">=1.0.0 <2.0.0")
IMAGE = "registry.local/web"
AT = "deploy/web.yaml"


def git(value: str) -> tuple[MarkedValue, ...]:
    return (MarkedValue("apps/auto", AT, 3, "apps:web", f"{IMAGE}:{value}"),)


def planned(old: str, new: str) -> tuple[PlannedChange, ...]:
    return (PlannedChange("apps/auto", AT, 3, "apps:web", f"{IMAGE}:{old}", f"{IMAGE}:{new}"),)


def infos(*names: str, created: dict[str, datetime] | None = None) -> list[TagInfo]:
    created = created or {}
    return [
        TagInfo(n, digest=f"sha256:{i:064x}", created=created.get(n), first_seen=SCANNED)
        for i, n in enumerate(names, 1)
    ]


HOLD = Hold(
    policy="apps/web", tag="1.1.0", rolled_back_from="1.2.0", commit="3f2a9c1d0b7e" + "0" * 28,
    author="Jane <jane@example.com>", since=NOW - timedelta(hours=1),
)  # fmt: skip
WINDOW = "outside the update windows; opens 2026-05-05T07:00:00+00:00"


@dataclass(frozen=True)
class Case:
    spec: SelectionSpec
    tags: list[TagInfo]
    expect: dict[str, str]
    """tag -> the fate it must have (the golden holds the rest)."""
    gate: Callable[[Decision, list[TagInfo]], Decision] = lambda d, _: d
    git: tuple[MarkedValue, ...] = ()
    planned: tuple[PlannedChange, ...] = ()
    scanned: bool = True
    extra: dict[str, object] = field(default_factory=dict)


def unsigned(decision: Decision, tags: list[TagInfo]) -> Decision:
    """What the signature gate does: the unsigned winner refused, the next one selected."""
    refused = {"1.2.0": "signature: unsigned (no .sig tag, no signature referrer) (sha256:000)"}
    again = select(SEMVER, [t for t in tags if t.name not in refused], now=NOW)
    return refuse(again, refused)


def held(decision: Decision, tags: list[TagInfo]) -> Decision:
    return apply_hold(SEMVER, decision, HOLD, infos=tags, now=NOW)[0]


CASES: dict[str, Case] = {
    "outranked": Case(
        SEMVER, infos("1.0.0", "1.1.0", "1.2.0"), {"1.2.0": "selected", "1.1.0": "outranked"},
        git=git("1.1.0"), planned=planned("1.1.0", "1.2.0"),
    ),
    "excluded": Case(
        replace(SEMVER, exclusion=("^.*-debug$",), deny=("^1\\.0\\.",)),
        infos("1.0.0", "1.1.0", "1.1.1-debug"),
        {"1.1.1-debug": "excluded", "1.0.0": "excluded", "1.1.0": "selected"},
        git=git("1.1.0"),
    ),
    "filtered": Case(
        SelectionSpec(name="apps/web", ordering="alphabetical", filter_pattern="^main-"),
        infos("main-a", "main-b", "dev-c"), {"dev-c": "filtered", "main-a": "outranked"},
    ),
    "semver_skips": Case(
        SEMVER, infos("1.0.0", "1.1.0-rc.1", "2.0.0", "latest", "1.0"),
        {"1.1.0-rc.1": "prerelease", "2.0.0": "out_of_range", "latest": "unparsable",
         "1.0": "unparsable"},
    ),
    "too_young": Case(
        replace(SEMVER, min_age=timedelta(hours=24)),
        infos("1.0.0", "1.1.0", created={"1.0.0": NOW - timedelta(days=3),
                                         "1.1.0": NOW - timedelta(hours=3)}),
        {"1.1.0": "too_young", "1.0.0": "selected"},
    ),
    "no_timestamp": Case(
        replace(SEMVER, min_age=timedelta(hours=1)),
        [TagInfo("1.0.0"), TagInfo("1.1.0", created=NOW - timedelta(days=1))],
        {"1.0.0": "no_timestamp", "1.1.0": "selected"},
    ),
    "unsigned": Case(
        SEMVER, infos("1.1.0", "1.2.0"), {"1.2.0": "unsigned", "1.1.0": "selected"},
        gate=unsigned, git=git("1.1.0"),
    ),
    "held": Case(
        SEMVER, infos("1.1.0", "1.2.0"), {"1.2.0": "held", "1.1.0": "selected"}, gate=held,
        git=git("1.1.0"),
    ),
    "window": Case(
        SEMVER, infos("1.1.0", "1.2.0"), {"1.2.0": "selected"},
        gate=lambda d, _: deferred(d, WINDOW), git=git("1.1.0"),
        planned=planned("1.1.0", "1.2.0"),
    ),
    "pinned": Case(
        replace(SEMVER, pin="1.0.0"), infos("1.0.0", "1.1.0"),
        {"1.0.0": "selected", "1.1.0": "pinned"},
    ),
    "invalid": Case(
        SEMVER, [TagInfo("1.0.0"), TagInfo("-bad")], {"-bad": "invalid", "1.0.0": "selected"},
    ),
    "not_scanned": Case(SEMVER, [], {}, scanned=False),
    "hostile_git_value": Case(
        SEMVER, infos("1.0.0"), {"1.0.0": "selected"},
        git=(MarkedValue("apps/auto", AT, 3, "apps:web", "x\x1b[31m\nINJECTED: yes\r"),),
    ),
}  # fmt: skip


def trace_of(case: Case) -> Trace:
    decision = case.gate(select(case.spec, case.tags, now=NOW), case.tags)
    return build_trace(
        policy="apps/web", image=IMAGE, source="state", now=NOW, tags=case.tags,
        decision=decision if case.scanned else None,
        scanned_at=SCANNED if case.scanned else None, git=case.git, planned=case.planned,
    )  # fmt: skip


def golden(name: str, text: str) -> str:
    path = GOLDEN / name
    if os.environ.get("EXPLAIN_GOLDEN_UPDATE"):
        path.write_text(text)
    return path.read_text()


@pytest.mark.parametrize("name", sorted(CASES))
def test_each_tag_has_the_fate_its_reason_says(name: str) -> None:
    trace = trace_of(CASES[name])
    fates = {t.tag: t.fate for t in trace.tags}
    for tag, fate in CASES[name].expect.items():
        assert fates[tag] == fate, (tag, trace.tags)
    assert len(trace.tags) == len(CASES[name].tags)  # every tag once
    assert all(t.fate in FATES for t in trace.tags)


@pytest.mark.parametrize("name", sorted(CASES))
def test_text_form_matches_golden(name: str) -> None:
    text = render_trace(trace_of(CASES[name]))
    assert text == golden(f"{name}.txt", text)


@pytest.mark.parametrize("name", sorted(CASES))
def test_json_form_matches_golden_and_is_plain_json(name: str) -> None:
    data = trace_to_dict(trace_of(CASES[name]))
    text = json.dumps(data, indent=2) + "\n"
    assert json.loads(text) == data
    assert text == golden(f"{name}.json", text)


@pytest.mark.parametrize(
    ("reason", "fate", "by"),
    [
        ("older than 1.4.0", "outranked", "1.4.0"),
        ("ties with 1.4.0, which wins as the greater tag", "outranked", "1.4.0"),
        ("built before main-3", "outranked", "main-3"),
        ("excluded by ^.*\\.sig$", "excluded", "^.*\\.sig$"),
        ("denied by ^1\\.0", "excluded", "^1\\.0"),
        ("not allowed (matches none of: ^v)", "excluded", None),
        ('outside range ">=1.0.0 <2.0.0"', "out_of_range", ">=1.0.0"),
        ("younger than minAge 24h (age 3h)", "too_young", None),
        ("held back: held at 1.1.0: rolled back from 1.2.0 by J", "held", None),
        ("signature check failed: registry down", "unsigned", None),
        ("pinned at 1.0.0", "pinned", "1.0.0"),
        ("something new", "other", None),
        ("", "other", None),
        ("older than ", "outranked", None),
    ],
)
def test_fate_of_reads_the_reason(reason: str, fate: str, by: str | None) -> None:
    assert fate_of(reason) == (fate, by)


def test_text_form_lists_at_most_limit_tags_and_says_how_many_more() -> None:
    trace = trace_of(replace(CASES["outranked"], tags=infos(*(f"1.0.{i}" for i in range(500)))))
    text = render_trace(trace, limit=3)
    assert text.count("  outranked  ") == 2 and "... 497 more (--limit 0 shows all)" in text
    assert render_trace(trace, limit=0).count("  outranked  ") == 499


def test_a_held_policy_that_releases_next_says_so() -> None:
    trace = replace(trace_of(CASES["held"]), hold_releases=True)
    assert "the next reconcile releases it" in render_trace(trace)
    assert trace_to_dict(trace)["hold"]["releases_next"] is True
