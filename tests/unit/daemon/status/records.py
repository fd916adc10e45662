"""State records for the status view tests, with hostile names where a user controls them."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from image_automation.daemon.status.model import RunRecord, StageRecord
from image_automation.domain import Decision
from image_automation.engine.pullrequests import PullRequestOutcome
from image_automation.engine.status_inputs import GitValue, GitVersion, StatusInputs
from image_automation.policy._promote import Held, Judgement
from image_automation.state import (
    IgnoredVersion,
    PullRequestRecord,
    PushRecord,
    ScanStatus,
    SetterChange,
    StoredDecision,
)

T0 = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)
HOSTILE = "<script>alert(1)</script>"
SHA_A, SHA_B = "a" * 40, "b" * 40


def at(hours: float) -> datetime:
    return T0 + timedelta(hours=hours)


def decision(key: str, tag: str | None, **kwargs: object) -> StoredDecision:
    return StoredDecision(key, "r.test/app", at(0), Decision(key, tag, **kwargs))  # type: ignore[arg-type]


def git(key: str, value: str, field: str = "") -> GitValue:
    return GitValue(key, field, value, "deploy/app.yaml", 9)


def version(key: str, value: str, hours: float, sha: str = SHA_A) -> GitVersion:
    return GitVersion(key, "", value, "deploy/app.yaml", sha, at(hours), f"set {value}")


def pull_request(number: int = 7, *, url: str = "https://forge.test/o/r/pull/7",
                 state: str = "open") -> PullRequestRecord:  # fmt: skip
    return PullRequestRecord("fleet", "ia/app", "github", number, url, state, "main",  # type: ignore[arg-type]
                             SHA_A, (), at(1), at(2))  # fmt: skip


def inputs(**overrides: object) -> StatusInputs:
    base: dict[str, object] = dict(
        scans=[
            ScanStatus("r.test/app", at(3), at(3), None, 4, 1),
            ScanStatus(f"r.test/{HOSTILE}", at(4), at(1), "401 from r.test token=s3cr3t", 2, 1),
        ],
        decisions=[
            decision(
                "apps/web",
                "1.1.0",
                considered=("1.0.0", "1.1.0"),
                lost={"1.0.0": "older than 1.1.0"},
            )
        ],
        pushes=[PushRecord("fleet", SHA_A, at(2), (SetterChange("apps:web", "1.0.0", "1.1.0"),))],
        pull_requests=[pull_request()],
        git_values=[git("apps/web", "r.test/app:1.1.0")],
        git_history=[  # newest first, as git log reads it
            version("apps/web", "r.test/app:1.1.0", 2),
            version("apps/web", "r.test/app:1.0.0", -48, SHA_B),
        ],
    )
    base.update(overrides)
    return StatusInputs(**base)  # type: ignore[arg-type]


__all__ = [
    "HOSTILE",
    "SHA_A",
    "SHA_B",
    "T0",
    "IgnoredVersion",
    "at",
    "decision",
    "git",
    "inputs",
    "pull_request",
    "version",
]  # fmt: skip


PROMO_PR = PullRequestOutcome("ia/promo-staging", "opened", 9, "https://forge.test/o/r/pull/9")


def promotion_run(
    stage: str = HOSTILE, *, judgements: tuple[Judgement, ...] | None = None,
    pull_requests: tuple[PullRequestOutcome, ...] = (PROMO_PR,),
) -> RunRecord:  # fmt: skip
    """A promotion's run record whose one stage (and an image) has a hostile name."""
    if judgements is None:
        judgements = (Judgement(f"apps/{HOSTILE}", "waiting", f"soak 1d: dev has {HOSTILE}",
                                Held(tag=HOSTILE)),)  # fmt: skip
    stages = (StageRecord(stage, judgements, pull_requests),)
    return RunRecord("Promotion/apps/promo", at(4), at(4), stages=stages)
