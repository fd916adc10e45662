"""The in-engine event bus: reconciles emit, subscribers (the state store, alerts) consume.

Why a bus and not calls: a reconcile must never wait for a slow webhook or a busy database,
nor fail because one did. :meth:`EventBus.emit` is synchronous and never blocks or raises:
each subscriber has its own bounded queue and worker task; a full queue drops the event for
that subscriber only (counted), and a subscriber that raises is logged and carries on. The
daemon (and ``reconcile --once``) decide who subscribes; the engine only emits.

:class:`FailureTracker` turns per-run outcomes into the two alert-worthy edges: ``failure``
after N consecutive failed runs of one object, ``failure_resolved`` on its first good run
after that. It can be restored from the stored events so an open alert survives a restart.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from types import TracebackType
from typing import Protocol, Self

from image_automation.domain.events import Event, EventQuery, InvolvedObject, make_event
from image_automation.state import StateStore

log = logging.getLogger(__name__)

Handler = Callable[[Event], Awaitable[None]]

DEFAULT_QUEUE = 1000
DEFAULT_DRAIN_S = 10.0
FAILURES_BEFORE_ALERT = 3


class EventSink(Protocol):
    """Anything the engine can emit to. ``emit`` must neither block nor raise."""

    def emit(self, event: Event) -> None: ...


class NullSink:
    """Emits nowhere: the default when nobody listens."""

    def emit(self, event: Event) -> None:
        return None


@dataclass(slots=True)
class _Subscriber:
    name: str
    handler: Handler
    queue: asyncio.Queue[Event]
    task: asyncio.Task[None] | None = None
    dropped: int = 0


@dataclass(slots=True)
class BusCounts:
    """How many events each subscriber dropped (queue full) or failed to handle."""

    dropped: dict[str, int] = field(default_factory=dict)
    failed: dict[str, int] = field(default_factory=dict)


class EventBus:
    """Fan-out of events to subscribers, each behind its own bounded queue.

    Use as ``async with EventBus() as bus``; :meth:`subscribe` before or after entering.
    Leaving drains every queue for at most ``drain_s`` seconds, then cancels what is left.
    ``on_drop(subscriber)`` is called for each event dropped (a metric's hook).
    """

    def __init__(
        self,
        *,
        queue_size: int = DEFAULT_QUEUE,
        drain_s: float = DEFAULT_DRAIN_S,
        on_drop: Callable[[str], None] | None = None,
    ) -> None:
        self._size = queue_size
        self._drain_s = drain_s
        self._on_drop = on_drop
        self._subs: list[_Subscriber] = []
        self._running = False
        self.counts = BusCounts()

    def subscribe(self, name: str, handler: Handler) -> None:
        sub = _Subscriber(name, handler, asyncio.Queue(self._size))
        self._subs.append(sub)
        if self._running:
            self._start(sub)

    def emit(self, event: Event) -> None:
        for sub in self._subs:
            try:
                sub.queue.put_nowait(event)
            except asyncio.QueueFull:
                self.counts.dropped[sub.name] = self.counts.dropped.get(sub.name, 0) + 1
                log.warning("event queue of %s is full: dropped a %s event", sub.name, event.kind)
                if self._on_drop is not None:
                    self._on_drop(sub.name)

    async def __aenter__(self) -> Self:
        self._running = True
        for sub in self._subs:
            self._start(sub)
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        """Drain (bounded by ``drain_s``), then stop every worker. Idempotent."""
        self._running = False
        waits = [sub.queue.join() for sub in self._subs if sub.task is not None]
        if waits:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(asyncio.gather(*waits), self._drain_s)
        for sub in self._subs:
            task, sub.task = sub.task, None
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    def _start(self, sub: _Subscriber) -> None:
        if sub.task is None:
            sub.task = asyncio.create_task(self._work(sub), name=f"events-{sub.name}")

    async def _work(self, sub: _Subscriber) -> None:
        while True:
            event = await sub.queue.get()
            try:
                await sub.handler(event)
            except Exception as exc:  # one subscriber's failure must not stop the others
                self.counts.failed[sub.name] = self.counts.failed.get(sub.name, 0) + 1
                log.warning(
                    "event subscriber %s failed on a %s event: %s",
                    sub.name,
                    event.kind,
                    type(exc).__name__,
                )
            finally:
                sub.queue.task_done()


def store_recorder(store: StateStore) -> Handler:
    """A subscriber that appends every event to ``store``'s event log."""

    async def record(event: Event) -> None:
        await store.record_event(event)

    return record


class FailureTracker:
    """Consecutive failures per object; the ``failure``/``failure_resolved`` edges.

    ``threshold`` failed runs in a row emit one ``failure``; runs after that stay quiet until
    a good one emits ``failure_resolved``. Not thread-safe; one per process.
    """

    def __init__(self, *, threshold: int = FAILURES_BEFORE_ALERT) -> None:
        if threshold < 1:
            raise ValueError(f"failure threshold must be at least 1, not {threshold}")
        self.threshold = threshold
        self._streak: dict[str, int] = {}
        self._open: set[str] = set()

    async def restore(self, store: StateStore) -> None:
        """Mark the objects whose newest stored failure event is an unresolved ``failure``."""
        query = EventQuery(kinds=("failure", "failure_resolved"), limit=1000)
        seen: set[str] = set()
        for stored in await store.events(query):  # newest first: the first per object wins
            key = stored.event.involved.key
            if key not in seen:
                seen.add(key)
                if stored.event.kind == "failure":
                    self._open.add(key)
                    self._streak[key] = self.threshold

    def observe(
        self, involved: InvolvedObject, *, error: str | None, now: datetime
    ) -> Event | None:
        """Record one run of ``involved`` (``error`` is ``None`` when it went well)."""
        key = involved.key
        if error is None:
            self._streak.pop(key, None)
            if key in self._open:
                self._open.discard(key)
                return make_event(
                    "failure_resolved", involved=involved, message="recovered", now=now
                )
            return None
        streak = self._streak.get(key, 0) + 1
        self._streak[key] = streak
        if streak >= self.threshold and key not in self._open:
            self._open.add(key)
            return make_event(
                "failure",
                involved=involved,
                message=f"failed {streak} times in a row: {error}",
                now=now,
                metadata={"failures": str(streak)},
            )
        return None


__all__ = [
    "FAILURES_BEFORE_ALERT",
    "BusCounts",
    "EventBus",
    "EventSink",
    "FailureTracker",
    "Handler",
    "NullSink",
    "store_recorder",
]
