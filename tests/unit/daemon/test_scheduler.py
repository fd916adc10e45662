"""The work queue serialises and coalesces; the scheduler keeps one timer per key."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from image_automation.daemon.scheduler import Plan, Scheduler, WorkQueue


async def until(condition: Callable[[], bool], *, limit: float = 10.0) -> None:
    """Poll ``condition`` (bounded); fail if it never holds."""
    for _ in range(int(limit / 0.01)):
        if condition():
            return
        await asyncio.sleep(0.01)
    raise AssertionError("condition never held")


class Recorder:
    def __init__(self) -> None:
        self.running: set[str] = set()
        self.overlaps: list[str] = []
        self.runs: list[str] = []
        self.release = asyncio.Event()

    def job(self, key: str, *, block: bool = False) -> Callable[[], Awaitable[None]]:
        async def run() -> None:
            if key in self.running:
                self.overlaps.append(key)
            self.running.add(key)
            try:
                if block:
                    await self.release.wait()
                else:
                    await asyncio.sleep(0)
                self.runs.append(key)
            finally:
                self.running.discard(key)

        return run


async def test_runs_of_one_key_never_overlap_and_waiting_duplicates_coalesce() -> None:
    queue, rec = WorkQueue(), Recorder()
    first = queue.submit("reconcile:a", rec.job("a", block=True))
    await until(lambda: "a" in rec.running)
    # While "a" runs: one more run is queued, further requests join that waiting one.
    second = queue.submit("reconcile:a", rec.job("a"))
    third = queue.submit("reconcile:a", rec.job("a"))
    assert second is third and second is not first
    rec.release.set()
    assert first is not None and second is not None
    await asyncio.gather(first, second)
    assert rec.runs == ["a", "a"]
    assert rec.overlaps == []


async def test_different_keys_run_concurrently() -> None:
    queue, rec = WorkQueue(), Recorder()
    tasks = [queue.submit(k, rec.job(k, block=True)) for k in ("scan:x", "scan:y")]
    await until(lambda: rec.running == {"scan:x", "scan:y"})
    rec.release.set()
    await asyncio.gather(*(t for t in tasks if t is not None))
    assert sorted(rec.runs) == ["scan:x", "scan:y"]


async def test_a_failing_job_does_not_stop_the_queue() -> None:
    queue, rec = WorkQueue(), Recorder()

    async def boom() -> None:
        raise RuntimeError("broken job")

    failed = queue.submit("k", boom)
    assert failed is not None
    await failed
    ok = queue.submit("k", rec.job("k"))
    assert ok is not None
    await ok
    assert rec.runs == ["k"]


async def test_drain_lets_running_jobs_finish_within_the_grace_period() -> None:
    queue, rec = WorkQueue(), Recorder()
    queue.submit("reconcile:a", protected(queue, rec.job("a", block=True)))
    await until(lambda: "a" in rec.running)
    drained = asyncio.create_task(queue.drain(grace=30))
    await until(lambda: queue.closed)
    assert queue.submit("reconcile:b", rec.job("b")) is None
    rec.release.set()
    assert await drained is True
    assert rec.runs == ["a"]


async def test_drain_cancels_what_outlives_the_grace_period() -> None:
    queue, rec = WorkQueue(), Recorder()
    task = queue.submit("reconcile:a", protected(queue, rec.job("a", block=True)))
    await until(lambda: "a" in rec.running)
    assert await queue.drain(grace=0.01) is False
    assert task is not None and task.cancelled()
    assert rec.runs == [] and rec.running == set()


async def test_drain_cancels_unprotected_jobs_at_once_whatever_the_grace_period() -> None:
    queue, rec = WorkQueue(), Recorder()
    scan = queue.submit("scan:a", rec.job("a", block=True))  # a scan that never ends
    commit = queue.submit("reconcile:b", protected(queue, rec.job("b", block=True)))
    await until(lambda: rec.running == {"a", "b"})
    drained = asyncio.create_task(queue.drain(grace=3600))
    await until(lambda: scan is not None and scan.done())
    assert scan is not None and scan.cancelled()
    assert commit is not None and not commit.done()  # still within its grace period
    rec.release.set()
    # Only the protected job held the stop; bounded, not timed.
    assert await asyncio.wait_for(drained, 20) is True
    assert rec.runs == ["b"]


def protected(
    queue: WorkQueue, job: Callable[[], Awaitable[None]]
) -> Callable[[], Awaitable[None]]:
    """``job`` that first tells the queue it is committing (a stop grants it the grace period)."""

    async def run() -> None:
        queue.protect_current()
        await job()

    return run


async def test_depth_is_reported() -> None:
    depths: list[int] = []
    queue, rec = WorkQueue(on_depth=depths.append), Recorder()
    task = queue.submit("k", rec.job("k"))
    assert task is not None
    await task
    await until(lambda: depths[-1] == 0)
    assert 1 in depths


async def test_apply_keeps_one_job_per_repository_and_automation() -> None:
    fired: list[str] = []
    sched = Scheduler(scan=fired.append, reconcile=fired.append, jitter_fraction=0.1)
    sched.start()
    try:
        sched.apply(Plan(scans={"docker.io/a": 300.0, "ghcr.io/b": 60.0}, reconciles={"x": 600.0}))
        assert sched.jobs() == {"scan:docker.io/a": 300.0, "scan:ghcr.io/b": 60.0,
                                "reconcile:x": 600.0}  # fmt: skip
        sched.apply(Plan(scans={"ghcr.io/b": 120.0}, reconciles={"x": 600.0}))
        assert sched.jobs() == {"scan:ghcr.io/b": 120.0, "reconcile:x": 600.0}
        assert set(sched.next_runs()) == {"scan:ghcr.io/b", "reconcile:x"}
        assert sched.jitter(120.0) == 12.0
        assert sched.jitter(3600.0) == 30.0
    finally:
        sched.shutdown()
    assert fired == []


async def test_timers_fire_the_enqueue_callbacks() -> None:
    scans: list[str] = []
    reconciles: list[str] = []
    sched = Scheduler(scan=scans.append, reconcile=reconciles.append, jitter_fraction=0.0)
    sched.start()
    try:
        sched.apply(Plan(scans={"docker.io/a": 0.05}, reconciles={"auto": 0.05}))
        await until(lambda: len(scans) >= 2 and len(reconciles) >= 2)
    finally:
        sched.shutdown()
    assert set(scans) == {"docker.io/a"}
    assert set(reconciles) == {"auto"}


async def test_withdraw_cancels_the_running_and_waiting_jobs_of_a_key_unless_protected() -> None:
    queue, rec = WorkQueue(), Recorder()
    running = queue.submit("reconcile:a", rec.job("a", block=True))
    await until(lambda: rec.running == {"a"})
    waiting = queue.submit("reconcile:a", rec.job("a"))
    pushing = queue.submit("reconcile:b", protected(queue, rec.job("b", block=True)))
    await until(lambda: rec.running == {"a", "b"})
    assert queue.withdraw("reconcile:a") == 2
    assert queue.withdraw("reconcile:b") == 0  # it is pushing: let it finish
    await until(lambda: running is not None and running.done() and waiting is not None
                and waiting.done())  # fmt: skip
    assert running is not None and running.cancelled()
    rec.release.set()
    await until(lambda: pushing is not None and pushing.done())
    assert rec.runs == ["b"]
    assert queue.withdraw("reconcile:none") == 0
    await queue.drain(grace=5)
