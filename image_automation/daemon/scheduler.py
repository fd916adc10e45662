"""When work runs: apscheduler timers feed a queue that serialises and coalesces the work.

apscheduler 3.x (``AsyncIOScheduler``) owns the timing only: one interval job per repository
(scan) and one per automation (reconcile), each with jitter so that many repositories with the
same interval do not hit registries in the same second. A firing job does not do the work; it
submits it to the :class:`WorkQueue`, which the daemon owns and can drain on shutdown.

The queue runs at most one job per key at a time (a second reconcile of an automation waits for
the first, so two never push at once) and coalesces: while a job for a key is *waiting*, more
requests for that key join it instead of queueing again. A request arriving while a job
*runs* queues one more run, because it may carry news the running job did not see. On a stop
it cancels every job at once except those that said they are committing or pushing
(:meth:`WorkQueue.protect_current`); those get the grace period.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC

from apscheduler.schedulers.asyncio import AsyncIOScheduler

from image_automation.daemon.logs import log_context

log = logging.getLogger(__name__)

Job = Callable[[], Awaitable[None]]


class WorkQueue:
    """Runs submitted jobs as tasks, one at a time per key, coalescing waiting duplicates."""

    def __init__(self, *, on_depth: Callable[[int], None] | None = None) -> None:
        self._locks: dict[str, asyncio.Lock] = {}
        self._waiting: dict[str, asyncio.Task[None]] = {}
        self._running: dict[str, asyncio.Task[None]] = {}
        self._tasks: set[asyncio.Task[None]] = set()
        self._protected: set[asyncio.Task[None]] = set()
        """Jobs committing or pushing: a stop waits the grace period for these only."""
        self._closed = False
        self._on_depth = on_depth

    @property
    def closed(self) -> bool:
        return self._closed

    def submit(self, key: str, job: Job) -> asyncio.Task[None] | None:
        """Queue ``job`` under ``key``; returns its task (or the waiting one it joined).

        Returns ``None`` once the queue is closed.
        """
        if self._closed:
            return None
        waiting = self._waiting.get(key)
        if waiting is not None:
            return waiting
        task = asyncio.create_task(self._run(key, job), name=f"job {key}")
        self._waiting[key] = task
        self._tasks.add(task)
        task.add_done_callback(self._done)
        self._report()
        return task

    def protect_current(self) -> None:
        """Called by a running job entering work a stop should let finish (commit, push)."""
        task = asyncio.current_task()
        if task in self._tasks:
            self._protected.add(task)

    def withdraw(self, key: str) -> int:
        """Cancel the jobs of ``key`` that have not started work a stop would let finish
        (:meth:`protect_current`), as :meth:`drain` would; how many were cancelled."""
        cancelled = [t for t in self.active(key) if t not in self._protected and not t.done()]
        for task in cancelled:
            task.cancel()
        return len(cancelled)

    def active(self, key: str) -> list[asyncio.Task[None]]:
        """The running and the waiting job of ``key`` (none, one or two tasks)."""
        return [t for t in (self._running.get(key), self._waiting.get(key)) if t is not None]

    async def _run(self, key: str, job: Job) -> None:
        lock = self._locks.setdefault(key, asyncio.Lock())
        async with lock:
            me = asyncio.current_task()
            assert me is not None
            if self._waiting.get(key) is me:
                del self._waiting[key]
            self._running[key] = me
            try:
                await job()
            except Exception:  # a job reports its own errors; this is the last guard
                log.exception("job %s failed", key)
            finally:
                del self._running[key]

    def _done(self, task: asyncio.Task[None]) -> None:
        self._tasks.discard(task)
        self._protected.discard(task)
        for key, waiting in list(self._waiting.items()):
            if waiting is task:
                del self._waiting[key]
        self._report()

    def _report(self) -> None:
        if self._on_depth is not None:
            self._on_depth(len(self._tasks))

    async def drain(self, grace: float) -> bool:
        """Close the queue; give protected jobs up to ``grace`` seconds, cancel the rest at once.

        Only a job that said it commits or pushes (:meth:`protect_current`) is waited for: a
        scan or fetch stopped half-way loses nothing, so a hung registry never holds a stop.
        Returns True when no protected job had to be cut short.
        """
        self._closed = True
        for task in self._waiting.values():
            task.cancel()
        pending = set(self._tasks)
        if not pending:
            return True
        protected = pending & self._protected
        for task in pending - protected:
            task.cancel()
        done, still = await asyncio.wait(protected, timeout=grace) if protected else (set(), set())
        for task in still:
            task.cancel()
        await asyncio.wait(pending)
        return not still and not any(t.cancelled() for t in done)


@dataclass(frozen=True, slots=True)
class Plan:
    """What to run on a timer: repository → scan interval, automation → reconcile interval."""

    scans: Mapping[str, float] = field(default_factory=dict)
    reconciles: Mapping[str, float] = field(default_factory=dict)


class Scheduler:
    """Keeps one apscheduler interval job per repository and per automation in line with a Plan.

    ``scan`` and ``reconcile`` are called when a timer fires; they should only enqueue work.
    """

    def __init__(
        self,
        *,
        scan: Callable[[str], object],
        reconcile: Callable[[str], object],
        jitter_fraction: float = 0.1,
        max_jitter: float = 30.0,
    ) -> None:
        self._scan = scan
        self._reconcile = reconcile
        self._jitter_fraction = jitter_fraction
        self._max_jitter = max_jitter
        self._intervals: dict[str, float] = {}
        self._scheduler = AsyncIOScheduler(timezone=UTC)

    def start(self) -> None:
        """Start the timers on the running event loop."""
        self._scheduler.start()

    def shutdown(self) -> None:
        """Stop firing; work already submitted is the queue's business."""
        if self._scheduler.running:
            self._scheduler.shutdown(wait=False)

    def jitter(self, interval: float) -> float:
        return min(interval * self._jitter_fraction, self._max_jitter)

    def apply(self, plan: Plan) -> None:
        """Add, re-time or remove jobs so they match ``plan``. Idempotent."""
        wanted: dict[str, tuple[float, Callable[[str], object], str]] = {}
        for repository, interval in plan.scans.items():
            wanted[f"scan:{repository}"] = (interval, self._scan, repository)
        for automation, interval in plan.reconciles.items():
            wanted[f"reconcile:{automation}"] = (interval, self._reconcile, automation)
        for job_id in set(self._intervals) - set(wanted):
            self._scheduler.remove_job(job_id)
            del self._intervals[job_id]
        for job_id, (interval, fire, key) in wanted.items():
            if self._intervals.get(job_id) == interval:
                continue
            self._scheduler.add_job(
                _fire,
                "interval",
                args=(fire, key),
                seconds=interval,
                jitter=self.jitter(interval),
                id=job_id,
                replace_existing=True,
                coalesce=True,
                max_instances=1,
            )
            self._intervals[job_id] = interval

    def jobs(self) -> dict[str, float]:
        """Job id → interval in seconds (what is scheduled now)."""
        return dict(self._intervals)

    def next_runs(self) -> dict[str, object]:
        return {job.id: job.next_run_time for job in self._scheduler.get_jobs()}


async def _fire(fire: Callable[[str], object], key: str) -> None:
    with log_context(job=key):
        fire(key)


__all__ = ["Job", "Plan", "Scheduler", "WorkQueue"]
