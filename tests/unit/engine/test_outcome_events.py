"""Which events one automation run produces: pushes, pull requests, holds told once."""

from __future__ import annotations

from datetime import UTC, datetime

from image_automation.domain import Change
from image_automation.domain.events import Event
from image_automation.engine._pr_outcome import PullRequestOutcome, Settled
from image_automation.engine._promo_run import StageOutcome
from image_automation.engine.eventing import FailureTracker
from image_automation.engine.outcome_events import OutcomeEvents, changes_text
from image_automation.engine.promotion import PromotionOutcome
from image_automation.engine.reconcile import AutomationOutcome
from image_automation.policy._promote import Held, Judgement

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
KEY = "ImageUpdateAutomation/flux-system/apps"
WEB = Change("apps/web.yaml", 3, "apps/v1", "Deployment", "apps", "web", "flux-system:web",
             "ghcr.io/x/web:1.0.0", "ghcr.io/x/web:1.1.0")  # fmt: skip


class Collect:
    def __init__(self) -> None:
        self.events: list[Event] = []

    def emit(self, event: Event) -> None:
        self.events.append(event)


def run(*outcomes: AutomationOutcome, threshold: int = 3) -> list[Event]:
    sink = Collect()
    reporter = OutcomeEvents(sink, tracker=FailureTracker(threshold=threshold))
    for outcome in outcomes:
        reporter.report(outcome, now=T0)
    return sink.events


def test_a_pushed_commit_is_one_commit_pushed_event_with_flux_revision() -> None:
    [event] = run(
        AutomationOutcome(
            key=KEY,
            repo="https://git.example/r (main)",
            commit="c" * 40,
            changes=(WEB,),
            refs=("refs/heads/main",),
        )
    )
    assert event.kind == "commit_pushed" and event.severity == "info"
    assert event.involved.key == KEY
    assert event.metadata["revision"] == "main@sha1:" + "c" * 40
    assert "flux-system:web ghcr.io/x/web:1.0.0 → ghcr.io/x/web:1.1.0" in event.message


def test_nothing_changed_and_skipped_runs_say_nothing() -> None:
    assert run(AutomationOutcome(key=KEY), AutomationOutcome(key=KEY, skipped="suspended")) == []


def test_pull_request_actions_map_to_their_events() -> None:
    prs = [
        PullRequestOutcome("ia/a", "opened", number=1, url="https://f/pr/1", changes=(WEB,)),
        PullRequestOutcome("ia/b", "updated", number=2, url="https://f/pr/2"),
        PullRequestOutcome("ia/c", "closed", number=3),
        PullRequestOutcome("ia/d", "unchanged", number=4),
        PullRequestOutcome("ia/e", "opened", number=6, settled=[Settled("merged", 5, "u5")]),
    ]
    events = run(AutomationOutcome(key=KEY, pull_requests=prs, mode="pull-request"))
    kinds = [(e.kind, e.metadata.get("number")) for e in events]
    assert kinds == [
        ("pr_opened", "1"), ("pr_updated", "2"), ("pr_closed", "3"),
        ("pr_merged", "5"), ("pr_opened", "6"),
    ]  # fmt: skip
    assert events[0].metadata["url"] == "https://f/pr/1"


def test_a_hold_is_told_once_until_its_reason_changes() -> None:
    def held(detail: str) -> AutomationOutcome:
        pr = PullRequestOutcome("ia/a", "held", number=1, detail=detail)
        return AutomationOutcome(key=KEY, pull_requests=[pr])

    unheld = AutomationOutcome(key=KEY, pull_requests=[PullRequestOutcome("ia/a", "unchanged")])
    events = run(held("human commits"), held("human commits"), held("other"), unheld,
                 held("other"))  # fmt: skip
    assert [(e.kind, e.message.rsplit(": ", 1)[-1]) for e in events] == [
        ("hold", "human commits"),
        ("hold", "other"),
        ("hold", "other"),
    ]


def test_repeated_failures_alert_once_and_recovery_resolves() -> None:
    bad = AutomationOutcome(key=KEY, errors=["push rejected"])
    events = run(bad, bad, bad, bad, AutomationOutcome(key=KEY), threshold=2)
    assert [e.kind for e in events] == ["failure", "failure_resolved"]
    assert events[0].severity == "error" and "push rejected" in events[0].message


def test_an_outcome_whose_key_is_not_an_object_is_skipped_not_raised() -> None:
    assert run(AutomationOutcome(key="default", commit="c" * 40)) == []


def test_changes_text_lists_each_setter_once_and_caps_the_list() -> None:
    many = [Change("f", i, "v1", "K", "ns", "n", f"ns:p{i}", "1", "2") for i in range(15)]
    text = changes_text([WEB, WEB, *many])
    assert text.count("flux-system:web") == 1 and text.endswith("and 6 more")


def test_a_promotion_that_opens_or_updates_a_stage_pull_request_is_a_promotion_event() -> None:
    moving = Held("ghcr.io/x/web", "1.1.0", "sha256:" + "d" * 64)
    staging = StageOutcome(
        "staging", "dev",
        judgements=[Judgement("flux-system/web", "ready", "dev has had it for 2h", moving),
                    Judgement("flux-system/api", "waiting", "soak 1d")],
        pull_requests=[PullRequestOutcome("ia/promo-staging", "opened", number=9,
                                          url="https://f/pr/9", changes=(WEB,))],
    )  # fmt: skip
    prod = StageOutcome("prod", "staging", pull_requests=[
        PullRequestOutcome("ia/promo-prod", "updated", number=10),
        PullRequestOutcome("ia/promo-prod", "unchanged", number=10),
        PullRequestOutcome("ia/promo-prod", "deferred", detail="limit"),
    ])  # fmt: skip
    sink = Collect()
    OutcomeEvents(sink).report_promotion(
        PromotionOutcome("Promotion/flux-system/web", stages=[staging, prod]), now=T0
    )
    opened, updated = sink.events
    assert (opened.kind, opened.severity, opened.reason) == ("promotion", "info", "Promoted")
    assert opened.involved.key == "Promotion/flux-system/web"
    assert opened.metadata == {"stage": "staging", "source": "dev", "head": "ia/promo-staging",
                               "number": "9", "url": "https://f/pr/9",
                               "changes": changes_text((WEB,))}  # fmt: skip
    assert opened.message == ("promotion dev → staging: pull request #9 opened: "
                              "flux-system/web 1.1.0@sha256:dddddddddddd")  # fmt: skip
    assert (updated.metadata["stage"], updated.message) == (
        "prod", "promotion staging → prod: pull request #10 updated")  # fmt: skip


def test_a_promotion_with_a_key_that_is_not_an_object_is_skipped_not_raised() -> None:
    sink = Collect()
    stage = StageOutcome("s", "d", pull_requests=[PullRequestOutcome("h", "opened", number=1)])
    OutcomeEvents(sink).report_promotion(PromotionOutcome("bad", stages=[stage]), now=T0)
    assert sink.events == []
