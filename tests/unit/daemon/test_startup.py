"""Start-up: a failing first read is retried with backoff, /readyz says why, a stop is prompt."""

from __future__ import annotations

import asyncio

import pytest

from image_automation.daemon.running import EXIT_OK, DaemonSettings, retry_delays
from tests.unit.daemon.fakes import FakeEngine
from tests.unit.daemon.test_running import Running, get
from tests.unit.daemon.test_scheduler import until
from tests.unit.daemon.test_service import config

CLONE_ERROR = (
    "clone failed: fatal: unable to access 'https://alice:S3cret-pw@git.example.test/fleet.git/':"
    " Could not resolve host"
)


@pytest.mark.parametrize(
    ("first", "cap", "expected"),
    [
        (1.0, 30.0, [1.0, 2.0, 4.0, 8.0, 16.0, 30.0, 30.0]),
        (0.5, 0.5, [0.5, 0.5, 0.5, 0.5, 0.5, 0.5, 0.5]),
        (2.0, 1.0, [1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0]),
    ],
)
def test_retry_delays_double_up_to_the_cap(first: float, cap: float, expected: list[float]) -> None:
    delays = retry_delays(first=first, cap=cap)
    assert [next(delays) for _ in expected] == expected


async def test_readyz_names_the_start_up_error_redacted_until_a_retry_succeeds() -> None:
    engine = FakeEngine(config())
    engine.load_error = CLONE_ERROR
    run = Running(engine, DaemonSettings(port=0, retry_first=0.01, retry_interval=0.05))
    await until(lambda: engine.loads >= 3)  # retried, not given up
    status, text = await get(f"{run.url}/readyz")
    assert status == 503
    assert "policies not loaded yet: clone failed: " in text
    assert "Could not resolve host" in text
    assert "S3cret-pw" not in text
    engine.load_error = None
    await until(lambda: engine.reconciles == ["apps/auto"])
    assert await get(f"{run.url}/readyz") == (200, "ready\n")
    run.stop.set()
    assert await run.task == EXIT_OK


async def test_an_unexpected_error_at_start_up_is_retried_not_fatal() -> None:
    engine = FakeEngine(config())
    engine.load_raises = FileNotFoundError(2, "No such file or directory", "data/git/x")
    run = Running(engine, DaemonSettings(port=0, retry_first=0.01, retry_interval=0.05))
    await until(lambda: engine.reconciles == ["apps/auto"])
    assert engine.loads >= 2
    run.stop.set()
    assert await run.task == EXIT_OK


async def test_readyz_explains_an_unexpected_start_up_error() -> None:
    engine = FakeEngine(config())
    engine.load_raises = FileNotFoundError(2, "No such file or directory", "data/git/x")
    engine.load_error = "still failing"  # keep it unready after the first attempt
    run = Running(engine, DaemonSettings(port=0, retry_first=3600, retry_interval=3600))
    await until(lambda: engine.loads == 1)
    status, text = await get(f"{run.url}/readyz")
    assert status == 503 and "FileNotFoundError" in text and "data/git/x" in text
    run.stop.set()
    assert await asyncio.wait_for(run.task, 20) == EXIT_OK


async def test_a_stop_during_a_hung_scan_does_not_wait_for_the_grace_period() -> None:
    engine = FakeEngine(config())
    engine.scan_block = asyncio.Event()  # never set: the registry never answers
    run = Running(engine, DaemonSettings(port=0, grace_period=3600))
    await until(lambda: len(engine.scans) == 2)
    run.stop.set()
    # Waiting out the grace period would sit here for an hour; bounded, not timed.
    assert await asyncio.wait_for(run.task, 20) == EXIT_OK
    assert engine.scans_done == []


async def test_a_stop_still_gives_a_commit_in_flight_its_grace_period() -> None:
    engine = FakeEngine(config())
    engine.block = asyncio.Event()
    run = Running(engine, DaemonSettings(port=0, grace_period=3600))
    await engine.in_reconcile.wait()  # past its scans: selecting, committing, pushing
    run.stop.set()
    await asyncio.sleep(0.05)
    assert not run.task.done()
    engine.block.set()
    assert await asyncio.wait_for(run.task, 20) == EXIT_OK
    assert engine.finished == ["apps/auto"]
