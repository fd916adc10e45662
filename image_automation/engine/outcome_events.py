"""Automation outcomes → events: the one place that decides what a run is worth telling.

``reconcile --once`` and the daemon both finish an automation with an
:class:`~image_automation.engine.reconcile.AutomationOutcome`; :class:`OutcomeEvents` turns it
into ``commit_pushed``, ``pr_opened``/``pr_updated``/``pr_closed``/``pr_merged``, ``hold``
and (through the :class:`~image_automation.engine.eventing.FailureTracker`) ``failure`` /
``failure_resolved`` events on a sink. A hold is told once per head and reason, not on every
run it lasts. A promotion's evaluation is a ``promotion`` event for each stage whose pull
request it opened or updated (nothing when it only looked).
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from datetime import datetime
from typing import TYPE_CHECKING

from image_automation.domain import Change
from image_automation.domain.events import (
    Event,
    EventKind,
    InvalidEvent,
    InvolvedObject,
    make_event,
)
from image_automation.engine._pr_outcome import PullRequestOutcome
from image_automation.engine.eventing import EventSink, FailureTracker, NullSink

if TYPE_CHECKING:
    from image_automation.engine._promo_run import StageOutcome
    from image_automation.engine.promotion import PromotionOutcome
    from image_automation.engine.reconcile import AutomationOutcome

log = logging.getLogger(__name__)

_PR_KINDS: dict[str, EventKind] = {
    "opened": "pr_opened",
    "updated": "pr_updated",
    "closed": "pr_closed",
}
_MAX_CHANGES_LISTED = 10


def changes_text(changes: Sequence[Change]) -> str:
    """``ns:web 1.0.0 → 1.1.0, ns:api 2.0 → 2.1`` (each setter once, at most ten)."""
    seen: dict[str, str] = {}
    for change in changes:
        seen.setdefault(change.setter, f"{change.setter} {change.old} → {change.new}")
    listed = list(seen.values())
    more = len(listed) - _MAX_CHANGES_LISTED
    text = ", ".join(listed[:_MAX_CHANGES_LISTED])
    return f"{text} and {more} more" if more > 0 else text


class OutcomeEvents:
    """Reports outcomes to ``sink``; holds the per-process memory (failure streaks, holds)."""

    def __init__(
        self, sink: EventSink | None = None, *, tracker: FailureTracker | None = None
    ) -> None:
        self.sink: EventSink = sink or NullSink()
        self.tracker = tracker or FailureTracker()
        self._holds: dict[tuple[str, str], str] = {}

    def report(self, outcome: AutomationOutcome, *, now: datetime) -> None:
        """Emit the events of one finished automation run. Never raises."""
        try:
            involved = InvolvedObject.from_key(outcome.key)
        except InvalidEvent:
            log.warning("no events for %r: not an object key", outcome.key)
            return
        for event in self._events(outcome, involved, now=now):
            self.sink.emit(event)

    def report_promotion(self, outcome: PromotionOutcome, *, now: datetime) -> None:
        """Emit a ``promotion`` event per stage pull request opened or updated. Never raises."""
        try:
            involved = InvolvedObject.from_key(outcome.key)
        except InvalidEvent:
            log.warning("no events for %r: not an object key", outcome.key)
            return
        for stage in outcome.stages:
            for pr in stage.pull_requests:
                if pr.action in ("opened", "updated"):
                    self.sink.emit(_promotion_event(stage, pr, involved, now=now))

    def _events(
        self, outcome: AutomationOutcome, involved: InvolvedObject, *, now: datetime
    ) -> list[Event]:
        if outcome.skipped:
            return []
        events: list[Event] = []
        if outcome.commit is not None:
            events.append(_pushed(outcome, involved, now=now))
        for pr in outcome.pull_requests:
            events.extend(self._pull_request(pr, involved, now=now))
        error = "; ".join(outcome.errors) or None
        edge = self.tracker.observe(involved, error=error, now=now)
        if edge is not None:
            events.append(edge)
        return events

    def _pull_request(
        self, pr: PullRequestOutcome, involved: InvolvedObject, *, now: datetime
    ) -> list[Event]:
        events = [
            make_event(
                "pr_merged" if s.state == "merged" else "pr_closed",
                involved=involved,
                message=f"pull request #{s.number} was {s.state}",
                now=now,
                metadata=_pr_metadata(pr.head, s.number, s.url),
            )
            for s in pr.settled
        ]
        hold_key = (involved.key, pr.head)
        if pr.action == "held":
            if self._holds.get(hold_key) != pr.detail:
                self._holds[hold_key] = pr.detail
                events.append(_pr_event("hold", pr, involved, now=now))
            return events
        self._holds.pop(hold_key, None)
        kind = _PR_KINDS.get(pr.action)
        if kind is not None:
            events.append(_pr_event(kind, pr, involved, now=now))
        return events


def _pushed(outcome: AutomationOutcome, involved: InvolvedObject, *, now: datetime) -> Event:
    assert outcome.commit is not None
    short = outcome.commit[:12]
    listed = changes_text(outcome.changes)
    metadata = {"commit": outcome.commit, "repository": outcome.repo}
    if outcome.refs:  # Flux's revision form, ``main@sha1:<sha>``
        branch = outcome.refs[0].removeprefix("refs/heads/")
        metadata["revision"] = f"{branch}@sha1:{outcome.commit}"
    if listed:
        metadata["changes"] = listed
    where = f" to {', '.join(outcome.refs)}" if outcome.refs else ""
    return make_event(
        "commit_pushed",
        involved=involved,
        message=f"pushed {short}{where}: {listed or 'no setter changes'}",
        now=now,
        metadata=metadata,
    )


def _pr_metadata(head: str, number: int | None, url: str) -> dict[str, str]:
    metadata = {"head": head}
    if number is not None:
        metadata["number"] = str(number)
    if url:
        metadata["url"] = url
    return metadata


def _pr_event(
    kind: EventKind, pr: PullRequestOutcome, involved: InvolvedObject, *, now: datetime
) -> Event:
    metadata = _pr_metadata(pr.head, pr.number, pr.url)
    listed = changes_text(pr.changes)
    if listed:
        metadata["changes"] = listed
    number = f" #{pr.number}" if pr.number is not None else ""
    verb = {"pr_opened": "opened", "pr_updated": "updated", "pr_closed": "closed"}.get(kind)
    head = f"pull request{number} ({pr.head})"
    text = f"{head} {verb}" if verb else f"{head} held"
    if pr.detail:
        text += f": {pr.detail}"
    elif listed:
        text += f": {listed}"
    return make_event(kind, involved=involved, message=text, now=now, metadata=metadata)


def _promotion_event(
    stage: StageOutcome, pr: PullRequestOutcome, involved: InvolvedObject, *, now: datetime
) -> Event:
    metadata = {"stage": stage.stage, "source": stage.source,
                **_pr_metadata(pr.head, pr.number, pr.url)}  # fmt: skip
    listed = changes_text(pr.changes)
    if listed:
        metadata["changes"] = listed
    number = f" #{pr.number}" if pr.number is not None else ""
    text = f"promotion {stage.source} → {stage.stage}: pull request{number} {pr.action}"
    moving = [f"{j.policy} {j.image.short()}" for j in stage.judgements
              if j.verdict == "ready" and j.image is not None]  # fmt: skip
    if moving:
        text += ": " + ", ".join(moving)
    return make_event("promotion", involved=involved, message=text, now=now, metadata=metadata)


__all__ = ["OutcomeEvents", "changes_text"]
