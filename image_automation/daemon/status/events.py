"""What happened, newest first: commits pushed, pull requests, failing scans, refusals.

Pure: built from the state records in :class:`StatusInputs` (the push log, pull-request
records, scan statuses, refused versions), then filtered. Each event has a ``kind``
(``commit``, ``pull-request``, ``scan``, ``hold``), a ``severity`` (``info`` or ``error``)
and a ``subject`` (the automation, repository or policy it concerns).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from image_automation.daemon.status.model import safe_url
from image_automation.domain import redact
from image_automation.engine.status_inputs import StatusInputs

KINDS = ("commit", "pull-request", "scan", "hold")
SEVERITIES = ("info", "error")
MAX_EVENTS = 500


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
    """The events the records tell of, newest first, filtered by ``wanted``."""
    wanted = wanted or EventFilter()
    limit = max(0, min(wanted.limit, MAX_EVENTS))
    found = [e for e in _all(inputs) if wanted.matches(e)]
    found.sort(key=lambda e: (e.at, e.kind, e.subject), reverse=True)
    return found[:limit]


def _all(inputs: StatusInputs) -> Iterable[EventView]:
    for push in inputs.pushes:
        changes = ", ".join(f"{c.setter}: {c.old} → {c.new}" for c in push.changes)
        text = f"pushed {push.commit[:12]}" + (f" ({changes})" if changes else "")
        yield EventView(push.pushed_at, "commit", "info", push.automation, redact(text))
    for pr in inputs.pull_requests:
        text = f"pull request #{pr.number} {pr.state} ({pr.head} → {pr.base})"
        yield EventView(pr.updated_at, "pull-request", "info", pr.automation, redact(text),
                        safe_url(pr.url))  # fmt: skip
    for scan in inputs.scans:
        if scan.last_error and scan.last_attempt:
            yield EventView(scan.last_attempt, "scan", "error", scan.repository,
                            redact(f"scan failed: {scan.last_error}"))  # fmt: skip
    for item in inputs.ignored:
        text = f"{item.setter} {item.value} refused: {item.reason}"
        yield EventView(item.ignored_at, "hold", "info", item.automation, redact(text))


__all__ = ["KINDS", "MAX_EVENTS", "SEVERITIES", "EventFilter", "EventView", "events"]
