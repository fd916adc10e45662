"""What happened, as a value: the events the engine emits, the store keeps and alerts send.

One model serves three readers: the notification providers (Flux ``Alert``/``Provider``
files filter on ``severity`` and on the involved object), the state store (the events page
and ``status`` read them back), and the daemon's logs. It is pure: the caller passes the
timestamp, and nothing here formats for a particular service.

Metadata is a small mapping of strings (commit sha, pull request URL, old/new versions);
it is kept as a sorted tuple of pairs so an ``Event`` stays hashable and compares by value.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, get_args

EventKind = Literal[
    "commit_pushed",
    "pr_opened",
    "pr_updated",
    "pr_merged",
    "pr_closed",
    "promotion",
    "hold",
    "failure",
    "failure_resolved",
]
EVENT_KINDS: tuple[EventKind, ...] = get_args(EventKind)

Severity = Literal["info", "error"]
SEVERITIES: tuple[Severity, ...] = get_args(Severity)

REASONS: dict[EventKind, str] = {
    "commit_pushed": "CommitPushed",
    "pr_opened": "PullRequestOpened",
    "pr_updated": "PullRequestUpdated",
    "pr_merged": "PullRequestMerged",
    "pr_closed": "PullRequestClosed",
    "promotion": "Promoted",
    "hold": "UpdateHeld",
    "failure": "ReconciliationFailed",
    "failure_resolved": "ReconciliationSucceeded",
}
"""The Flux-style ``reason`` (CamelCase) each kind carries in payloads that have one."""

DEFAULT_SEVERITY: dict[EventKind, Severity] = {
    kind: ("error" if kind == "failure" else "info") for kind in EVENT_KINDS
}

MAX_MESSAGE = 4096
"""Messages are cut to this many characters: an event is a line on a page, not a log."""
MAX_METADATA = 32
MAX_METADATA_VALUE = 1024


class InvalidEvent(ValueError):
    """An event field holds a value no reader could use (unknown kind, empty name, ...)."""


@dataclass(frozen=True, slots=True)
class InvolvedObject:
    """The object an event is about, as Flux names it: kind, namespace, name."""

    kind: str
    namespace: str
    name: str

    def __post_init__(self) -> None:
        for label, value in (("kind", self.kind), ("name", self.name)):
            if not value:
                raise InvalidEvent(f"involved object has an empty {label}")

    @property
    def key(self) -> str:
        """``Kind/namespace/name``, the form plan keys and the state store use."""
        return f"{self.kind}/{self.namespace}/{self.name}"

    @classmethod
    def from_key(cls, key: str) -> InvolvedObject:
        """Parse ``Kind/namespace/name`` (the name may itself hold slashes)."""
        parts = key.split("/", 2)
        if len(parts) != 3:
            raise InvalidEvent(f"not an object key (want Kind/namespace/name): {key!r}")
        return cls(kind=parts[0], namespace=parts[1], name=parts[2])


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _frozen_metadata(metadata: Mapping[str, str]) -> tuple[tuple[str, str], ...]:
    if len(metadata) > MAX_METADATA:
        raise InvalidEvent(f"event metadata has {len(metadata)} entries (at most {MAX_METADATA})")
    items = []
    for key, value in metadata.items():
        if not isinstance(key, str) or not isinstance(value, str) or not key:
            raise InvalidEvent(f"event metadata must map non-empty str to str: {key!r}")
        items.append((key, _clip(value, MAX_METADATA_VALUE)))
    return tuple(sorted(items))


@dataclass(frozen=True, slots=True)
class Event:
    """One thing that happened to one object. Build with :func:`make_event` or directly.

    ``timestamp`` must be timezone-aware. ``metadata_items`` is the sorted tuple form;
    read it through :attr:`metadata`.
    """

    kind: EventKind
    severity: Severity
    involved: InvolvedObject
    message: str
    timestamp: datetime
    metadata_items: tuple[tuple[str, str], ...] = field(default=())

    def __post_init__(self) -> None:
        if self.kind not in EVENT_KINDS:
            raise InvalidEvent(f"unknown event kind {self.kind!r} (want one of {EVENT_KINDS})")
        if self.severity not in SEVERITIES:
            raise InvalidEvent(f"unknown severity {self.severity!r} (want info or error)")
        if self.timestamp.tzinfo is None or self.timestamp.utcoffset() is None:
            raise InvalidEvent("event timestamp must be timezone-aware")

    @property
    def metadata(self) -> dict[str, str]:
        return dict(self.metadata_items)

    @property
    def reason(self) -> str:
        return REASONS[self.kind]


def make_event(
    kind: EventKind,
    *,
    involved: InvolvedObject,
    message: str,
    now: datetime,
    severity: Severity | None = None,
    metadata: Mapping[str, str] | None = None,
) -> Event:
    """An event with the kind's default severity, the message clipped, metadata frozen."""
    return Event(
        kind=kind,
        severity=severity or DEFAULT_SEVERITY.get(kind, "info"),
        involved=involved,
        message=_clip(message, MAX_MESSAGE),
        timestamp=now,
        metadata_items=_frozen_metadata(metadata or {}),
    )


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """An event as the state store returns it: ``id`` grows with every event recorded, so
    a reader pages backwards with ``before=id``."""

    id: int
    event: Event


@dataclass(frozen=True, slots=True)
class EventQuery:
    """Which stored events to read, newest first. Every filter left ``None`` matches all.

    ``involved`` is an object key (``Kind/namespace/name``); ``before`` an event id to page
    from; ``limit`` is capped by :data:`MAX_QUERY_LIMIT`.
    """

    kinds: tuple[EventKind, ...] | None = None
    severity: Severity | None = None
    involved: str | None = None
    since: datetime | None = None
    before: int | None = None
    limit: int = 100

    def __post_init__(self) -> None:
        if not 1 <= self.limit <= MAX_QUERY_LIMIT:
            raise InvalidEvent(f"event query limit {self.limit} not in 1..{MAX_QUERY_LIMIT}")
        for kind in self.kinds or ():
            if kind not in EVENT_KINDS:
                raise InvalidEvent(f"unknown event kind {kind!r} (want one of {EVENT_KINDS})")
        if self.severity is not None and self.severity not in SEVERITIES:
            raise InvalidEvent(f"unknown severity {self.severity!r} (want info or error)")


MAX_QUERY_LIMIT = 1000

EVENTS_KEPT = 10_000
"""How many events a store keeps; older ones are pruned when new ones are recorded."""

__all__ = [
    "DEFAULT_SEVERITY",
    "EVENTS_KEPT",
    "EVENT_KINDS",
    "MAX_MESSAGE",
    "MAX_METADATA",
    "MAX_METADATA_VALUE",
    "MAX_QUERY_LIMIT",
    "REASONS",
    "SEVERITIES",
    "Event",
    "EventKind",
    "EventQuery",
    "InvalidEvent",
    "InvolvedObject",
    "Severity",
    "StoredEvent",
    "make_event",
]
