"""The status views from state records: policy states, links, traces, redaction."""

from __future__ import annotations

import pytest

from image_automation.daemon.status.model import (
    LiveFacts,
    PromotionView,
    Quota,
    RunRecord,
    commit_url,
    next_run,
    overview,
    policy_detail,
    policy_state,
    safe_url,
    tag_of,
)
from image_automation.domain import Hold, TagInfo
from image_automation.engine.pullrequests import PullRequestOutcome
from image_automation.engine.status_inputs import GitValue
from image_automation.policy import Trace, build_trace
from image_automation.policy._promote import Held, Judgement
from image_automation.state import IgnoredVersion
from tests.unit.daemon.status.records import (
    HOSTILE,
    PROMO_PR,
    SHA_A,
    T0,
    at,
    decision,
    git,
    inputs,
    promotion_run,
)

IGNORED = IgnoredVersion("fleet", "ia/app", "apps:web", "r.test/app:1.2.0", 7, "closed unmerged",
                         T0)  # fmt: skip


@pytest.mark.parametrize(
    ("tag", "values", "skipped", "reasons", "refused", "expected"),
    [
        pytest.param(
            None,
            [],
            {},
            ("nothing in range",),
            {},
            ("blocked", "nothing in range"),
            id="nothing-selected",
        ),
        pytest.param(None, [], {}, (), {}, ("blocked", "no tag qualifies"), id="blocked-no-reason"),
        pytest.param(
            "1.2.0",
            [git("p", "r/app:1.1.0")],
            {},
            (),
            {"1.2.0": IGNORED},
            ("held", "1.2.0 refused: closed unmerged"),
            id="refused-by-a-closed-pr",
        ),
        pytest.param(
            "1.2.0",
            [git("p", "r/app:1.1.0")],
            {},
            (),
            {},
            ("pending", "Git has r/app:1.1.0; 1.2.0 selected"),
            id="git-behind",
        ),
        pytest.param(
            "1.2.0",
            [git("p", "1.1.0", "tag")],
            {},
            (),
            {},
            ("pending", "Git has 1.1.0; 1.2.0 selected"),
            id="tag-field-behind",
        ),
        pytest.param(
            "1.2.0",
            [git("p", "r/app:1.2.0")],
            {},
            ("pinned at 1.2.0",),
            {},
            ("held", "pinned at 1.2.0"),
            id="pinned",
        ),
        pytest.param(
            "1.1.0",
            [git("p", "r/app:1.1.0")],
            {"1.2.0": "younger than minAge 1h (age 5m)", "x": "not semver"},
            (),
            {},
            ("gated", "1.2.0: younger than minAge 1h (age 5m)"),
            id="age-gate",
        ),
        pytest.param(
            "1.1.0",
            [git("p", "r/app:1.1.0@sha256:1"), git("p", "r/app", "name")],
            {"x": "not semver"},
            (),
            {},
            ("current", "Git has 1.1.0"),
            id="current-with-digest-and-name-setter",
        ),
        pytest.param(
            "1.1.0", [], {}, (), {}, ("selected", "what Git has is unknown here"), id="git-unknown"
        ),
        pytest.param(
            "1.2.0",
            [git("p", "r/app:1.1.0")],
            {},
            ("window closed",),
            {},
            ("gated", "1.2.0 waits: closed until Mon 09:00"),
            id="window-closed",
        ),
    ],
)
def test_policy_state_says_why(
    tag: str | None, values: list[GitValue], skipped: dict[str, str], reasons: tuple[str, ...],
    refused: dict[str, IgnoredVersion], expected: tuple[str, str],
) -> None:  # fmt: skip
    window = "closed until Mon 09:00" if "window closed" in reasons else None
    got = policy_state(tag, None, values=values, skipped=skipped, reasons=reasons,
                       refused=refused, window=window)  # fmt: skip
    assert got == expected


@pytest.mark.parametrize(
    ("value", "tag"),
    [
        ("r.test/app:1.0", "1.0"),
        ("r.test:5000/app:1.0@sha256:ab", "1.0"),
        ("1.0", "1.0"),
        ("r.test:5000/app", "r.test:5000/app"),
        ("app", "app"),
    ],
)
def test_tag_of_reads_the_tag_not_a_port(value: str, tag: str) -> None:
    assert tag_of(value) == tag


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://forge.test/o/r/pull/7", "https://forge.test/o/r/pull/7"),
        ("http://127.0.0.1:8/pr/1", "http://127.0.0.1:8/pr/1"),
        ("javascript:alert(1)", None),
        ("data:text/html,<script>", None),
        ("https://user:pass@forge.test/pr/1", None),
        ("//evil.test/x", None),
        ("", None),
        (None, None),
    ],
)
def test_only_plain_http_links_without_credentials_are_shown(
    url: str | None, shown: str | None
) -> None:
    assert safe_url(url) == shown


@pytest.mark.parametrize(
    ("repo", "commit", "link"),
    [
        ("https://forge.test/o/r.git", SHA_A, f"https://forge.test/o/r/commit/{SHA_A}"),
        ("https://forge.test/o/r/", SHA_A, f"https://forge.test/o/r/commit/{SHA_A}"),
        ("file:///srv/r.git", SHA_A, None),
        ("ssh://git@forge.test/o/r.git", SHA_A, None),
        ("https://forge.test/o/r", "../../x", None),
        (None, SHA_A, None),
    ],
)
def test_commit_links_only_for_https_remotes(
    repo: str | None, commit: str, link: str | None
) -> None:
    assert commit_url(repo, commit) == link


def test_overview_joins_scans_decisions_pushes_and_pull_requests() -> None:
    live = LiveFacts(
        policies={"apps/web": "r.test/app", "apps/new": "r.test/new"},
        automations=["fleet", "idle"],
        runs={"fleet": RunRecord("fleet", at(2), at(2), None, SHA_A)},
        quotas={"r.test": Quota("r.test", 76, 100, at(2))},
        repo_urls={"fleet": "https://forge.test/o/fleet.git"},
        problems=["clusters/x.yaml:3: spec.policy: password=hunter2 is not a policy"],
    )
    view = overview(inputs(), live, now=at(5))
    repos = {r.name: r for r in view.repositories}
    assert repos["r.test/app"].state == "ok" and repos["r.test/app"].quota == "76/100"
    assert repos["r.test/new"].state == "never"
    failing = repos[f"r.test/{HOSTILE}"]
    assert failing.state == "failing"
    assert failing.error == "401 from r.test token=***"
    policies = {p.key: p for p in view.policies}
    assert (policies["apps/web"].state, policies["apps/web"].in_git) == (
        "current", ("r.test/app:1.1.0",))  # fmt: skip
    assert policies["apps/new"].state == "unknown"
    fleet, idle = view.automations
    assert fleet.commit_url == f"https://forge.test/o/fleet/commit/{SHA_A}"
    assert [pr.number for pr in fleet.open_pull_requests] == [7]
    assert (idle.name, idle.last_commit, idle.open_pull_requests) == ("idle", None, ())
    assert view.problems == ("clusters/x.yaml:3: spec.policy: password=*** is not a policy",)


def test_overview_without_the_daemon_shows_what_the_store_has() -> None:
    view = overview(inputs(), now=at(5))
    assert [p.key for p in view.policies] == ["apps/web"]
    assert [a.name for a in view.automations] == ["fleet"]
    assert view.automations[0].commit_url is None
    assert all(r.quota is None for r in view.repositories)


def test_closed_pull_requests_are_not_listed_as_open() -> None:
    from tests.unit.daemon.status.records import pull_request

    view = overview(inputs(pull_requests=[pull_request(state="merged")]), now=at(5))
    assert view.automations[0].open_pull_requests == ()


def trace_of(key: str, **kwargs: object) -> Trace:
    stored = decision(key, **kwargs)  # type: ignore[arg-type]
    tags = [TagInfo(t) for t in [*stored.decision.lost, *stored.decision.skipped]]
    if stored.decision.tag:
        tags.append(TagInfo(stored.decision.tag))
    return build_trace(policy=key, image="r.test/app", source="state", now=at(5), tags=tags,
                       decision=stored.decision, scanned_at=at(3))  # fmt: skip


def test_policy_detail_has_explains_trace_and_the_versions_oldest_first() -> None:
    trace = trace_of("apps/web", tag="1.1.0", lost={"1.0.0": "older than 1.1.0"},
                     skipped={"x": "not semver: token=s3cr3t"})  # fmt: skip
    detail = policy_detail(inputs(), "apps/web", trace=trace)
    assert detail.explain is not None
    assert [(t["tag"], t["fate"]) for t in detail.explain["tags"]] == [
        ("1.1.0", "selected"), ("1.0.0", "outranked"), ("x", "unparsable")]  # fmt: skip
    assert detail.explain["tags"][2]["reason"] == "not semver: token=***"
    assert [v.value for v in detail.versions] == ["r.test/app:1.0.0", "r.test/app:1.1.0"]
    assert policy_detail(inputs(), "apps/web").explain is None
    with pytest.raises(KeyError):
        policy_detail(inputs(), "apps/none")


def test_an_active_hold_in_the_store_holds_the_policy() -> None:
    hold = Hold("apps/web", "1.0.0", "1.1.0", SHA_A, "alice", at(1))
    view = overview(inputs(holds=[hold]), now=at(5))
    assert (view.policies[0].state, view.policies[0].reason) == ("held", hold.reason)
    released = Hold("apps/web", "1.0.0", "1.1.0", SHA_A, "alice", at(1), released_at=at(2))
    assert overview(inputs(holds=[released]), now=at(5)).policies[0].state == "current"


@pytest.mark.parametrize(
    ("error", "commit", "expected"),
    [
        (None, "c" * 40, RunRecord("a", at(9), at(9), None, "c" * 40)),
        (None, None, RunRecord("a", at(9), at(9), None, SHA_A)),
        ("push rejected", None, RunRecord("a", at(9), at(1), "push rejected", SHA_A)),
    ],
)
def test_a_run_record_keeps_the_last_success_and_commit(
    error: str | None, commit: str | None, expected: RunRecord
) -> None:
    previous = RunRecord("a", at(1), at(1), None, SHA_A)
    assert next_run(previous, "a", error=error, commit=commit, now=at(9)) == expected


IMAGE = Held("r.test/app", "1.1.0", "sha256:" + "c" * 64)
PROMO = "Promotion/apps/promo"


@pytest.mark.parametrize(
    ("judgement", "pull_requests", "expected"),
    [
        pytest.param(
            Judgement("apps/web", "ready", "dev has had it for 2h", IMAGE),
            (PROMO_PR,),
            PromotionView(PROMO, HOSTILE, "apps/web", "1.1.0@sha256:cccccccccccc", "moves",
                          "dev has had it for 2h", 9, "https://forge.test/o/r/pull/9", "opened"),
            id="moves-with-its-pull-request",
        ),
        pytest.param(
            Judgement(f"apps/{HOSTILE}", "waiting", f"soak 1d: dev has {HOSTILE}",
                      Held(tag=HOSTILE)),
            (),
            PromotionView(PROMO, HOSTILE, f"apps/{HOSTILE}", HOSTILE, "waits",
                          f"soak 1d: dev has {HOSTILE}", None, None, ""),
            id="waits-hostile-names-no-pull-request",
        ),
        pytest.param(
            Judgement("apps/api", "held", "dev rolled back: token=s3cr3t"),
            (PullRequestOutcome("h", "deferred", detail="limit"),
             PullRequestOutcome("h", "updated", 4, "javascript:alert(1)")),
            PromotionView(PROMO, HOSTILE, "apps/api", "", "held", "dev rolled back: token=***",
                          4, None, "updated"),
            id="held-redacted-numbered-pr-first-unsafe-link-dropped",
        ),
        pytest.param(
            Judgement("apps/web", "current", "staging has 1.1.0", IMAGE),
            (PullRequestOutcome("h", "unchanged"),),
            PromotionView(PROMO, HOSTILE, "apps/web", "1.1.0@sha256:cccccccccccc", "current",
                          "staging has 1.1.0", None, None, "unchanged"),
            id="current",
        ),
    ],
)  # fmt: skip
def test_overview_shows_each_promoted_image_and_its_stage_pull_request(
    judgement: Judgement, pull_requests: tuple[PullRequestOutcome, ...], expected: PromotionView
) -> None:
    run = promotion_run(judgements=(judgement,), pull_requests=pull_requests)
    view = overview(inputs(), LiveFacts(runs={PROMO: run}), now=at(5))
    assert view.promotions == (expected,)


def test_a_failed_promotion_run_keeps_the_last_evaluation() -> None:
    previous = promotion_run()
    failed = next_run(previous, PROMO, error="forge down", commit=None, now=at(9))
    assert failed.stages == previous.stages and failed.last_error == "forge down"
    assert next_run(failed, PROMO, error=None, commit=None, now=at(10)).stages == ()
