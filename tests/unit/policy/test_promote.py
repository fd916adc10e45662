"""Promotion semantics: one stage's image against the next, over a test clock."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from image_automation.policy import SelectionSpec
from image_automation.policy._promote import (
    GateResult,
    Held,
    Landing,
    Rules,
    StageView,
    Step,
    gated,
    held_from,
    judge,
    ranker,
    rollbacks,
    rolled_back,
)

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)
SEMVER = ranker(SelectionSpec(name="web", ordering="semver", semver_range=">=0.0.0"))
NEWEST = ranker(SelectionSpec(name="web", ordering="newest_build"))
A, B, C = "sha256:" + "a" * 64, "sha256:" + "b" * 64, "sha256:" + "c" * 64
WEB = "registry.example.com/team/web"


def img(tag: str | None, digest: str | None = None) -> Held:
    return Held(WEB, tag, digest)


def full(tag: str, digest: str | None = None) -> tuple[str, str]:
    return ("", f"{WEB}:{tag}" + (f"@{digest}" if digest else ""))


def at(hours: float) -> datetime:
    return NOW - timedelta(hours=hours)


HELD_FROM = [
    pytest.param([full("1.2.0", A)], img("1.2.0", A), id="whole-reference"),
    pytest.param([("tag", "1.2.0"), ("digest", A), ("name", WEB)], img("1.2.0", A), id="split"),
    pytest.param([full("1.2.0", A), ("tag", "1.2.0")], img("1.2.0", A), id="agreeing-sites"),
    pytest.param([full("1.2.0"), full("1.3.0")], None, id="two-tags-disagree"),
    pytest.param([("digest", A), ("digest", B)], None, id="two-digests-disagree"),
    pytest.param([("", "not a reference!")], None, id="invalid-reference"),
    pytest.param([("tag", "1.2.0")], Held(None, "1.2.0", None), id="tag-alone-has-no-name"),
    pytest.param([("name", "nginx")], Held("docker.io/library/nginx"), id="name-normalised"),
]


@pytest.mark.parametrize(("parts", "expected"), HELD_FROM)
def test_held_from_assembles_one_image_or_refuses_disagreement(
    parts: list[tuple[str, str]], expected: Held | None
) -> None:
    assert held_from(parts) == expected


RANKS = [
    pytest.param(SEMVER, "1.2.0", "1.10.0", True, id="semver-newer"),
    pytest.param(SEMVER, "1.10.0", "1.2.0", False, id="semver-older"),
    pytest.param(SEMVER, "1.2.0", "1.2.0", None, id="equal"),
    pytest.param(SEMVER, "1.2.0", "latest", None, id="a-tag-the-policy-rejects"),
    pytest.param(NEWEST, "1.2.0", "1.3.0", None, id="time-ordering-cannot-tell"),
]


@pytest.mark.parametrize(("rank", "a", "b", "above"), RANKS)
def test_ranker_compares_by_the_policys_own_ordering(rank, a, b, above) -> None:  # type: ignore[no-untyped-def]
    assert rank(a, b) is above


def test_a_pinned_policy_still_ranks_by_its_ordering() -> None:
    rank = ranker(SelectionSpec(name="w", ordering="semver", semver_range="*", pin="1.0.0"))
    assert rank("1.0.0", "2.0.0") is True


def step(sha: str, hours: float, before: list[tuple[str, str]], after: list[tuple[str, str]]):  # type: ignore[no-untyped-def]
    return Step(sha, at(hours), tuple(before), tuple(after))


ROLLBACKS = [
    pytest.param(
        [
            step("s1", 9, [], [full("1.0.0", A)]),
            step("s2", 8, [full("1.0.0", A)], [full("1.1.0", B)]),
            step("s3", 7, [full("1.1.0", B)], [full("1.0.0", A)]),
        ],
        SEMVER,
        [("1.1.0", "1.0.0", "s3")],
        id="revert-to-a-lower-version",
    ),
    pytest.param(
        [
            step("s1", 9, [], [full("1.0.0", A)]),
            step("s2", 8, [full("1.0.0", A)], [full("1.1.0", B)]),
            step("s3", 7, [full("1.1.0", B)], [full("1.0.0", A)]),
            step("s4", 6, [full("1.0.0", A)], [full("1.1.0", B)]),
        ],
        SEMVER,
        [("1.1.0", "1.0.0", "s3")],
        id="a-rebump-is-not-a-rollback-of-the-lower",
    ),
    pytest.param(
        [
            step("s1", 9, [], [full("a", A)]),
            step("s2", 8, [full("a", A)], [full("b", B)]),
            step("s3", 7, [full("b", B)], [full("a", A)]),
        ],
        NEWEST,
        [("b", "a", "s3")],
        id="unrankable-back-to-an-earlier-value",
    ),
    pytest.param(
        [
            step("s1", 9, [], [full("a", A)]),
            step("s2", 8, [full("a", A)], [full("b", B)]),
            step("s3", 7, [full("b", B)], [full("c", C)]),
        ],
        NEWEST,
        [],
        id="unrankable-onwards-is-no-rollback",
    ),
    pytest.param(
        [
            step("s1", 9, [], [full("1.0.0", A)]),
            step("s2", 8, [full("1.0.0", A)], [full("1.0.0", B)]),
        ],
        SEMVER,
        [],
        id="same-tag-rebuilt-is-no-rollback",
    ),
    pytest.param(
        [
            step("s1", 9, [], [("tag", "1.1.0"), ("digest", B)]),
            step("s2", 8, [("tag", "1.1.0"), ("digest", B)], [("tag", "1.0.0"), ("digest", A)]),
        ],
        SEMVER,
        [("1.1.0", "1.0.0", "s2")],
        id="split-markers-one-commit",
    ),
    pytest.param(
        [
            step("s1", 9, [], [full("1.1.0", B)]),
            step("s2", 8, [full("1.1.0", B)], [full("1.0.0", A), full("1.2.0", C)]),
        ],
        SEMVER,
        [],
        id="a-commit-writing-two-values-tells-nothing",
    ),
]


@pytest.mark.parametrize(("steps", "rank", "expected"), ROLLBACKS)
def test_rollbacks_are_steps_back_in_the_stages_history(steps, rank, expected) -> None:  # type: ignore[no-untyped-def]
    found = rollbacks(steps, rank=rank)
    assert [(r.image.tag, r.to.tag, r.sha) for r in found] == expected


def test_a_rolled_back_image_is_refused_by_digest_and_a_rebuild_is_not() -> None:
    (back,) = rollbacks(
        [
            step("s1", 9, [], [full("1.0.0", A)]),
            step("s2", 8, [full("1.0.0", A)], [full("1.1.0", B)]),
            step("s3", 7, [full("1.1.0", B)], [full("1.0.0", A)]),
        ],
        rank=SEMVER,
    )
    assert rolled_back(img("1.1.0", B), [back]) == back
    assert rolled_back(img("1.1.0", C), [back]) is None  # the same tag, other bits
    tag_only = rollbacks(
        [
            step("s1", 9, [], [("tag", "1.1.0")]),
            step("s2", 8, [("tag", "1.1.0")], [("tag", "1.0.0")]),
        ],
        rank=SEMVER,
    )
    assert rolled_back(img("1.1.0", C), tag_only) is not None  # seen on a tag line: the tag


def view(name: str, image: Held | None, hours: float | None = None, **kw) -> StageView:  # type: ignore[no-untyped-def]
    landing = Landing("f" * 40, at(hours)) if hours is not None else None
    return StageView(name, image, landing=landing, **kw)


JUDGE = [
    pytest.param(
        view("dev", None, problem="dev holds no marker of apps:web"),
        view("staging", img("1.0.0", A)),
        False,
        Rules(),
        "held",
        "no marker",
        id="no-image",
    ),
    pytest.param(
        view("dev", img("1.1.0"), 5),
        view("staging", img("1.0.0", A)),
        False,
        Rules(),
        "held",
        "without a digest",
        id="no-digest",
    ),
    pytest.param(
        view("dev", img("1.1.0", B), 5),
        view("staging", img("1.1.0", B)),
        True,
        Rules(),
        "current",
        "staging has 1.1.0",
        id="current",
    ),
    pytest.param(
        view("dev", img("1.1.0", B), 0.5),
        view("staging", img("1.0.0", A)),
        False,
        Rules(soak=timedelta(hours=1)),
        "waiting",
        "soak 1h: dev has had it for 30m (30m to go)",
        id="not-soaked",
    ),
    pytest.param(
        view("dev", img("1.1.0", B), 2),
        view("staging", img("1.0.0", A)),
        False,
        Rules(soak=timedelta(hours=1)),
        "ready",
        "dev has had it for 2h",
        id="soaked",
    ),
    pytest.param(
        view("dev", img("1.1.0", B), 2),
        view("staging", img("1.0.0", A)),
        False,
        Rules(closed="opens Mon 09:00"),
        "waiting",
        "window closed: opens",
        id="window",
    ),
    pytest.param(
        view("dev", img("1.0.0", A), 2),
        view("staging", img("1.1.0", B)),
        False,
        Rules(),
        "held",
        "would move staging back from 1.1.0",
        id="backwards",
    ),
    pytest.param(
        view("dev", img("1.0.0", A), 2),
        view("staging", img("1.1.0", B)),
        False,
        Rules(backwards=True),
        "ready",
        "",
        id="backwards-allowed",
    ),
    pytest.param(
        view("dev", img("1.1.0", B), None),
        view("staging", img("1.0.0", A)),
        False,
        Rules(),
        "waiting",
        "an unknown time",
        id="landing-unknown",
    ),
]


@pytest.mark.parametrize(("source", "target", "current", "rules", "verdict", "reason"), JUDGE)
def test_judge_says_whether_the_image_moves_now_and_why(  # type: ignore[no-untyped-def]
    source, target, current, rules, verdict, reason
) -> None:
    found = judge("apps/web", source=source, target=target, current=current, rules=rules,
                  now=NOW, rank=SEMVER)  # fmt: skip
    assert (found.verdict, reason in found.reason) == (verdict, True), found.reason


def test_judge_refuses_what_the_source_rolled_back_from_even_when_it_came_back() -> None:
    history = [
        step("s1", 9, [], [full("1.0.0", A)]),
        step("s2", 8, [full("1.0.0", A)], [full("1.1.0", B)]),
        step("s3", 7, [full("1.1.0", B)], [full("1.0.0", A)]),
        step("s4", 6, [full("1.0.0", A)], [full("1.1.0", B)]),
    ]
    source = view("dev", img("1.1.0", B), 6, rollbacks=tuple(rollbacks(history, rank=SEMVER)))
    found = judge("apps/web", source=source, target=view("staging", img("1.0.0", A)),
                  current=False, rules=Rules(), now=NOW, rank=SEMVER)  # fmt: skip
    assert found.verdict == "held" and "rolled back from 1.1.0" in found.reason


def test_an_unrankable_move_back_to_an_earlier_value_is_backwards() -> None:
    target = view("staging", img("b", B), earlier=(img("a", A),))
    found = judge("apps/web", source=view("dev", img("a", A), 3), target=target, current=False,
                  rules=Rules(), now=NOW, rank=NEWEST)  # fmt: skip
    assert found.verdict == "held"
    onwards = judge("apps/web", source=view("dev", img("c", C), 3), target=target, current=False,
                    rules=Rules(), now=NOW, rank=NEWEST)  # fmt: skip
    assert onwards.verdict == "ready"


GATES = [
    pytest.param([GateResult("ci/e2e", "success")], "ready", id="green"),
    pytest.param([GateResult("ci/e2e", "failure", "failed on abc")], "held", id="red-holds"),
    pytest.param([GateResult("ci/e2e", "pending")], "waiting", id="pending-waits"),
    pytest.param([GateResult("a", "pending"), GateResult("b", "failure")], "held", id="red-wins"),
    pytest.param([], "ready", id="no-gates"),
]


@pytest.mark.parametrize(("results", "verdict"), GATES)
def test_gates_fold_into_a_ready_judgement(results, verdict) -> None:  # type: ignore[no-untyped-def]
    source, target = view("dev", img("1.1.0", B), 3), view("staging", img("1.0.0", A))
    ready = judge(
        "apps/web", source=source, target=target, current=False, rules=Rules(), now=NOW,
        rank=SEMVER,
    )  # fmt: skip
    folded = gated(ready, results)
    assert folded.verdict == verdict
    failed = [r.name for r in results if r.state == "failure"]
    assert all(name in folded.reason for name in failed)
