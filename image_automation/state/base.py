"""The ``StateStore`` protocol: what the engine, the daemon and every backend agree on.

The store remembers, per repository (the normalised image name, ``docker.io/library/nginx``),
the tags of the last good scan with their digests, build/push times and the time our scanner
first saw each tag; the status of the last scan attempt; the last decision of every policy; and
what every automation last pushed; and, for automations delivering through pull requests, the
pull request each head branch has open, the versions a closed pull request refused, and when
pull requests were opened (for the hourly limit); a bounded log of events (pushes,
pull requests, holds, failures) for the status page and ``status``; and forge answers
with their ETags, so a ``reconcile --once`` process makes conditional requests too.
Backends (SQLite, PostgreSQL) implement it.

The store never reads a clock: callers pass ``now``. All datetimes are timezone-aware; backends
keep them in UTC.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from types import TracebackType
from typing import Literal, Protocol, Self, runtime_checkable

from image_automation.domain import Decision, Hold, TagInfo
from image_automation.domain.events import EVENTS_KEPT, Event, EventQuery, StoredEvent


@dataclass(frozen=True, slots=True)
class ScanStatus:
    """The outcome of the latest scans of one repository.

    ``last_attempt`` is when the latest scan finished (well or badly), ``last_success`` when
    the latest good one did; ``last_error`` is the text of the latest failure and ``None`` once
    a scan succeeds again. ``tag_count`` counts the stored (last good) tags; ``requests`` is the
    number of registry requests the latest attempt made.
    """

    repository: str
    last_attempt: datetime | None
    last_success: datetime | None
    last_error: str | None
    tag_count: int
    requests: int

    @property
    def ok(self) -> bool:
        """True when the latest attempt succeeded."""
        return self.last_error is None and self.last_success is not None


@dataclass(frozen=True, slots=True)
class TagDiff:
    """How a stored tag set changed when a scan replaced it (names in sorted order)."""

    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    count: int = 0


@dataclass(frozen=True, slots=True)
class StoredDecision:
    """A policy's latest decision as stored, with the repository it chose from and when."""

    policy: str
    repository: str
    decided_at: datetime
    decision: Decision


@dataclass(frozen=True, slots=True)
class SetterChange:
    """One value an automation rewrote: the setter (marker) and the old and new value."""

    setter: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class PushRecord:
    """What one automation pushed: the commit and the setter changes it carried."""

    automation: str
    commit: str
    pushed_at: datetime
    changes: tuple[SetterChange, ...] = ()


PullRequestState = Literal["open", "closed", "merged"]
PULL_REQUEST_STATES: tuple[PullRequestState, ...] = ("open", "closed", "merged")


@dataclass(frozen=True, slots=True)
class PullRequestRecord:
    """The pull request of one head branch of one automation, as we last saw or made it.

    ``automation`` is the plan key (``Kind/namespace/name``), ``head`` the head branch; there is
    at most one record per (automation, head). ``pushed_sha`` is the last commit *we* pushed
    to ``head`` (``None`` before the first push); ``changes`` the setter changes the pull
    request carries. ``human_sha`` is a head commit that is not ours (we stopped force-pushing
    because of it) and ``notice_posted`` whether the comment saying so is out.
    """

    automation: str
    head: str
    provider: str
    number: int
    url: str
    state: PullRequestState
    base: str
    pushed_sha: str | None
    changes: tuple[SetterChange, ...]
    opened_at: datetime
    updated_at: datetime
    human_sha: str | None = None
    notice_posted: bool = False


@dataclass(frozen=True, slots=True)
class IgnoredVersion:
    """A value refused for a setter: a pull request carrying it was closed unmerged, or its
    "ignore this version" box was ticked. ``number`` is that pull request (``None`` when there
    was none), so reopening it can lift the ignore."""

    automation: str
    head: str
    setter: str
    value: str
    number: int | None
    reason: str
    ignored_at: datetime


@dataclass(frozen=True, slots=True)
class SignatureVerdict:
    """What checking the signatures of one manifest digest against one key set found.

    ``keys`` identifies the key set (a digest of the public keys). ``valid`` verdicts are
    final (a signature over a digest never stops being valid for a key); the others are
    re-checked once ``checked_at`` is old enough, since a signature may be added later.
    """

    digest: str
    keys: str
    valid: bool
    reason: str
    checked_at: datetime


OPENED_LOG_KEPT = timedelta(days=1)
"""How long :meth:`StateStore.record_pull_request_opened` entries are kept: counts over
a longer window than this are not answered."""


@dataclass(frozen=True, slots=True)
class ForgeResponse:
    """A forge API answer kept for conditional requests: the ``ETag`` a GET was answered with
    and that answer's body, so a later process can send ``If-None-Match`` and take a 304.

    ``scope`` names one forge client (provider, API root, repository), ``key`` the request
    below it (path and query). Neither holds a credential, and neither does a body: tokens
    travel in headers, which are never stored.
    """

    scope: str
    key: str
    etag: str
    body: bytes
    saved_at: datetime


FORGE_RESPONSES_KEPT = 256
"""Responses kept per scope; saving one more drops the least recently saved."""
FORGE_RESPONSE_MAX_BYTES = 1024 * 1024
"""A larger body is not kept (and an older one under its key is dropped)."""
FORGE_RESPONSE_MAX_KEY = 4096
"""Longest ``scope`` or ``key``, and (``/4``) ``etag``, in characters; longer is not kept."""


def keeps_forge_response(scope: str, key: str, etag: str, body: bytes) -> bool:
    """Whether a store keeps this response at all (the bounds above)."""
    return (
        0 < len(scope) <= FORGE_RESPONSE_MAX_KEY
        and 0 < len(key) <= FORGE_RESPONSE_MAX_KEY
        and 0 < len(etag) <= FORGE_RESPONSE_MAX_KEY // 4
        and len(body) <= FORGE_RESPONSE_MAX_BYTES
    )


@runtime_checkable
class StateStore(Protocol):
    """Persistent state of scans, decisions and pushes. Every method may raise ``StateError``.

    Implementations must make :meth:`replace_tags` atomic: a reader sees the old tag set or
    the new one, never a mix; several processes may share one store.
    """

    async def replace_tags(
        self,
        repository: str,
        tags: Sequence[TagInfo],
        *,
        now: datetime,
        requests: int = 0,
    ) -> TagDiff:
        """Record a successful scan: ``tags`` become the repository's tag set.

        A tag already stored keeps its ``first_seen``; a new one gets ``now`` (the
        ``first_seen`` of the argument is ignored). Tags not in ``tags`` are removed, so a tag
        that disappears and comes back is new again. Digest and timestamps are taken from
        ``tags`` as given. Clears ``last_error`` and sets ``last_attempt`` and
        ``last_success`` to ``now``.
        """
        ...

    async def record_failure(
        self, repository: str, error: str, *, now: datetime, requests: int = 0
    ) -> None:
        """Record a failed scan: keep the stored tags, set ``last_error`` and ``last_attempt``.

        ``error`` must already be free of credentials.
        """
        ...

    async def tags(self, repository: str) -> list[TagInfo]:
        """The stored tags of ``repository`` sorted by name; empty when none are stored."""
        ...

    async def scan_status(self, repository: str) -> ScanStatus | None:
        """The scan status of ``repository``, or ``None`` if it was never scanned."""
        ...

    async def scan_statuses(self) -> list[ScanStatus]:
        """The scan status of every repository ever scanned, sorted by repository."""
        ...

    async def save_decision(
        self, policy: str, decision: Decision, *, repository: str, now: datetime
    ) -> None:
        """Store ``decision`` as the latest of ``policy`` (replacing the previous one)."""
        ...

    async def decision(self, policy: str) -> StoredDecision | None:
        """The latest decision of ``policy``, or ``None``."""
        ...

    async def decisions(self) -> list[StoredDecision]:
        """The latest decision of every policy, sorted by policy."""
        ...

    async def record_push(self, record: PushRecord) -> None:
        """Remember that ``record.automation`` pushed ``record.commit``."""
        ...

    async def last_push(self, automation: str) -> PushRecord | None:
        """The most recent push of ``automation``, or ``None``."""
        ...

    async def recent_pushes(self, *, limit: int = 100) -> list[PushRecord]:
        """The latest ``limit`` pushes of every automation, newest first (the status page's
        history of what was changed when)."""
        ...

    async def pushes(self, automation: str, *, limit: int = 100) -> list[PushRecord]:
        """The latest ``limit`` pushes of ``automation``, newest first (what we wrote, per
        setter and commit: the rollback gate reads it)."""
        ...

    # -- gates ------------------------------------------------------------------------------

    async def save_hold(self, hold: Hold) -> None:
        """Store ``hold`` as the hold of ``hold.policy`` (replacing one there was)."""
        ...

    async def hold(self, policy: str) -> Hold | None:
        """The hold of ``policy`` (in force or released), or ``None``."""
        ...

    async def holds(self) -> list[Hold]:
        """Every hold, released ones too, sorted by policy."""
        ...

    async def release_hold(self, policy: str, *, now: datetime) -> Hold | None:
        """Release the hold of ``policy`` in force (its ``released_at`` becomes ``now``); the
        released hold, or ``None`` when none was in force."""
        ...

    async def signature_verdict(self, digest: str, keys: str) -> SignatureVerdict | None:
        """The stored verdict on ``digest`` for the key set ``keys``, or ``None``."""
        ...

    async def save_signature_verdict(self, verdict: SignatureVerdict) -> None:
        """Store ``verdict``, replacing the one for the same (digest, keys)."""
        ...

    # -- pull requests --------------------------------------------------------------------

    async def pull_request(self, automation: str, head: str) -> PullRequestRecord | None:
        """The record of ``head``'s pull request in ``automation``, or ``None``."""
        ...

    async def pull_requests(self, automation: str | None = None) -> list[PullRequestRecord]:
        """The records of ``automation`` (of every automation for ``None``), sorted by
        automation, then head."""
        ...

    async def save_pull_request(self, record: PullRequestRecord) -> None:
        """Store ``record``, replacing the one of the same (automation, head) whole."""
        ...

    async def forget_pull_request(self, automation: str, head: str) -> None:
        """Drop the record of (automation, head); a no-op when there is none. Ignored versions
        and the opened log are kept: they outlive the pull request on purpose."""
        ...

    async def ignore_versions(
        self,
        automation: str,
        head: str,
        changes: Sequence[SetterChange],
        *,
        number: int | None,
        reason: str,
        now: datetime,
    ) -> None:
        """Refuse the ``new`` value of every change for ``head`` of ``automation``.

        Idempotent: a (automation, head, setter, value) already ignored keeps its first
        ``number``, ``reason`` and ``ignored_at``.
        """
        ...

    async def ignored_versions(self, automation: str) -> list[IgnoredVersion]:
        """The versions ``automation`` refuses, sorted by head, setter, value."""
        ...

    async def unignore_pull_request(self, automation: str, number: int) -> None:
        """Lift the ignores pull request ``number`` recorded (it was reopened)."""
        ...

    async def record_pull_request_opened(
        self, automation: str, number: int, *, now: datetime
    ) -> None:
        """Log that ``automation`` opened pull request ``number`` at ``now``; logging the same
        number again is a no-op. Entries older than :data:`OPENED_LOG_KEPT` before ``now``
        are pruned on the way."""
        ...

    async def pull_requests_opened_since(self, automation: str, since: datetime) -> int:
        """How many logged openings of ``automation`` are at or after ``since``."""
        ...

    # -- events ---------------------------------------------------------------------------

    async def record_event(self, event: Event, *, keep: int = EVENTS_KEPT) -> int:
        """Append ``event`` and return its id (ids grow). Only the newest ``keep`` events are
        kept: older ones are pruned in the same transaction."""
        ...

    async def events(self, query: EventQuery | None = None) -> list[StoredEvent]:
        """The stored events matching ``query`` (all, for ``None``), newest first."""
        ...

    async def forge_response(self, scope: str, key: str) -> ForgeResponse | None:
        """The response kept for ``key`` in ``scope``, if any."""
        ...

    async def save_forge_response(
        self, scope: str, key: str, *, etag: str, body: bytes, now: datetime
    ) -> None:
        """Keep (or replace) the response for ``key`` in ``scope``, saved at ``now``. Bounded:
        at most :data:`FORGE_RESPONSES_KEPT` per scope (the least recently saved go first);
        a response outside :func:`keeps_forge_response` is not kept, and an older one under
        the same key is dropped, since it no longer matches the forge."""
        ...

    async def close(self) -> None:
        """Release connections and threads; the store is unusable afterwards. Idempotent."""
        ...

    async def __aenter__(self) -> Self: ...

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None: ...
