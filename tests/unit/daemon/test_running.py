"""Lifecycle: start, serve, stop on a signal; in-flight work finishes or is cancelled."""

from __future__ import annotations

import asyncio
import os
import signal
from pathlib import Path

import aiohttp

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.running import EXIT_OK, DaemonSettings, handle_signals, serve
from tests.unit.daemon.fakes import FakeEngine
from tests.unit.daemon.test_scheduler import until
from tests.unit.daemon.test_service import config


class Running:
    """``serve`` in a task with a fake engine; ``url`` once it listens."""

    def __init__(self, engine: FakeEngine, settings: DaemonSettings) -> None:
        self.engine = engine
        self.stop = asyncio.Event()
        self.metrics = Metrics()
        self.url = ""
        self.task = asyncio.create_task(
            serve(engine, settings, stop=self.stop, metrics=self.metrics, on_listening=self._bound)
        )

    def _bound(self, host: str, port: int) -> None:
        self.url = f"http://{host}:{port}"


SETTINGS = DaemonSettings(port=0, grace_period=30)


async def get(url: str) -> tuple[int, str]:
    async with aiohttp.ClientSession() as session, session.get(url) as response:
        return response.status, await response.text()


async def test_startup_scans_each_repository_once_then_reconciles() -> None:
    engine = FakeEngine(config())
    run = Running(engine, SETTINGS)
    await until(lambda: engine.finished == ["apps/auto"])
    assert sorted(engine.scans) == ["registry.local/team/app", "registry.local/team/other"]
    assert await get(f"{run.url}/readyz") == (200, "ready\n")
    status, text = await get(f"{run.url}/metrics")
    assert status == 200 and "image_automation_scans_total" in text
    run.stop.set()
    assert await run.task == EXIT_OK


async def test_stop_lets_an_in_flight_reconcile_finish() -> None:
    engine = FakeEngine(config())
    engine.block = asyncio.Event()
    run = Running(engine, SETTINGS)
    await engine.in_reconcile.wait()
    run.stop.set()
    await asyncio.sleep(0.05)  # give the stop a chance; the reconcile must still be running
    assert not run.task.done()
    engine.block.set()
    assert await run.task == EXIT_OK
    assert engine.finished == ["apps/auto"]


async def test_work_outliving_the_grace_period_is_abandoned_and_exit_is_clean() -> None:
    engine = FakeEngine(config())
    engine.block = asyncio.Event()
    run = Running(engine, DaemonSettings(port=0, grace_period=0.05))
    await engine.in_reconcile.wait()
    run.stop.set()
    assert await run.task == EXIT_OK
    assert engine.finished == []


async def test_unreadable_policies_leave_the_daemon_alive_but_not_ready() -> None:
    engine = FakeEngine(config())
    engine.load_error = "cannot fetch"
    run = Running(engine, DaemonSettings(port=0, retry_interval=0.05))
    await until(lambda: engine.loads >= 2)  # retried on the timer
    assert (await get(f"{run.url}/healthz"))[0] == 200
    status, text = await get(f"{run.url}/readyz")
    assert status == 503 and "policies not loaded" in text
    engine.load_error = None
    await until(lambda: engine.reconciles == ["apps/auto"])
    run.stop.set()
    assert await run.task == EXIT_OK


async def test_sigterm_stops_and_a_second_signal_forces() -> None:
    stop = asyncio.Event()
    forced: list[bool] = []
    with handle_signals(stop, force=lambda: forced.append(True)):
        os.kill(os.getpid(), signal.SIGTERM)
        await asyncio.wait_for(stop.wait(), 10)
        assert forced == []
        os.kill(os.getpid(), signal.SIGINT)
        await until(lambda: forced == [True])


async def test_hooks_are_served_from_the_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "hub-token").mkdir()
    (tmp_path / "hub-token" / "token").write_text("hub-Secr3t-value")
    engine = FakeEngine(config())
    run = Running(engine, DaemonSettings(port=0, secrets_dir=tmp_path))
    await until(lambda: engine.finished == ["apps/auto"])
    from image_automation.config.receivers import webhook_path

    path = webhook_path("hub-Secr3t-value", name="hub", namespace="apps")
    async with aiohttp.ClientSession() as session:
        async with session.post(f"{run.url}{path}", data=b'{"push_data": {}}') as response:
            assert response.status == 202
        await until(lambda: engine.finished == ["apps/auto", "apps/auto"])
        assert engine.scans.count("registry.local/team/app") == 2
        assert engine.scans.count("registry.local/team/other") == 1
        run.stop.set()
        assert await run.task == EXIT_OK


async def test_a_stop_interrupts_the_wait_between_retries() -> None:
    engine = FakeEngine(config())
    engine.load_error = "cannot fetch"
    run = Running(engine, DaemonSettings(port=0, retry_interval=3600, grace_period=3600))
    await until(lambda: engine.loads == 1)
    run.stop.set()
    # Without an interruptible wait this would sit out the hour; bounded here, not timed.
    assert await asyncio.wait_for(run.task, 20) == EXIT_OK
