"""What happened, newest first: the event log, and what the other records add to it.

Pure. The event log (:mod:`image_automation.domain.events`: pushes, pull requests, holds,
promotions, failures) is the source; a failing scan, which the log does not record, is added
from the scan statuses. A store whose log is empty (written before the log existed) still
tells of its pushes, pull requests and refused versions: those are derived from their records,
under the same kinds. Filters: ``kind``, ``severity``, and ``subject`` (a case-insensitive
substring of the object the event concerns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from image_automation.daemon.status.model import safe_url
from image_automation.domain import redact
from image_automation.domain.events import EVENT_KINDS, SEVERITIES
from image_automation.engine.status_inputs import StatusInputs

SCAN_FAILED = "scan_failed"
KINDS: tuple[str, ...] = (*EVENT_KINDS, SCAN_FAILED)
MAX_EVENTS = 500
_PR_KINDS = {"open": "pr_opened", "merged": "pr_merged", "closed": "pr_closed"}


@dataclass(frozen=True, slots=True)
class EventView:
    at: datetime
    kind: str
    severity: str
    subject: str
    message: str
    url: str | None = None


@dataclass(frozen=True, slots=True)
class EventFilter:
    """Which events to show: empty fields match everything; ``subject`` is a substring."""

    kind: str = ""
    severity: str = ""
    subject: str = ""
    limit: int = 100

    def matches(self, event: EventView) -> bool:
        return (
            (not self.kind or event.kind == self.kind)
            and (not self.severity or event.severity == self.severity)
            and (not self.subject or self.subject.lower() in event.subject.lower())
        )


def events(inputs: StatusInputs, wanted: EventFilter | None = None) -> list[EventView]:
    """The events, newest first, filtered by ``wanted``."""
    wanted = wanted or EventFilter()
    limit = max(0, min(wanted.limit, MAX_EVENTS))
    found = [e for e in (*_logged(inputs), *_scans(inputs)) if wanted.matches(e)]
    if not inputs.events:
        found += [e for e in _derived(inputs) if wanted.matches(e)]
    found.sort(key=lambda e: (e.at, e.kind, e.subject), reverse=True)
    return found[:limit]


def _logged(inputs: StatusInputs) -> Iterable[EventView]:
    for stored in inputs.events:
        event = stored.event
        url = safe_url(event.metadata.get("url"))
        yield EventView(event.timestamp, event.kind, event.severity, event.involved.key,
                        redact(event.message), url)  # fmt: skip


def _scans(inputs: StatusInputs) -> Iterable[EventView]:
    for scan in inputs.scans:
        if scan.last_error and scan.last_attempt:
            yield EventView(scan.last_attempt, SCAN_FAILED, "error", scan.repository,
                            redact(f"scan failed: {scan.last_error}"))  # fmt: skip


def _derived(inputs: StatusInputs) -> Iterable[EventView]:
    for push in inputs.pushes:
        changes = ", ".join(f"{c.setter}: {c.old} → {c.new}" for c in push.changes)
        text = f"pushed {push.commit[:12]}" + (f" ({changes})" if changes else "")
        yield EventView(push.pushed_at, "commit_pushed", "info", push.automation, redact(text))
    for pr in inputs.pull_requests:
        text = f"pull request #{pr.number} {pr.state} ({pr.head} → {pr.base})"
        yield EventView(pr.updated_at, _PR_KINDS[pr.state], "info", pr.automation,
                        redact(text), safe_url(pr.url))  # fmt: skip
    for item in inputs.ignored:
        text = f"{item.setter} {item.value} refused: {item.reason}"
        yield EventView(item.ignored_at, "hold", "info", item.automation, redact(text))


__all__ = ["KINDS", "MAX_EVENTS", "SCAN_FAILED", "SEVERITIES", "EventFilter", "EventView",
           "events"]  # fmt: skip
