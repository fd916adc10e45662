"""Forge webhooks through the daemon's real aiohttp app on a real port: a signed pull-request
event queues the reconcile of exactly the automation pushing that branch; a bad one, none."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.running import DaemonSettings, serve
from image_automation.daemon.server import DaemonServer
from image_automation.daemon.service import Daemon
from tests.unit.daemon.fakes import FakeEngine
from tests.unit.daemon.forge_payloads import (
    SECRET,
    Delivery,
    github,
    github_payload,
    gitlab,
    gitlab_payload,
)
from tests.unit.daemon.test_forge_service import RecordingQueue, forge_config
from tests.unit.daemon.test_scheduler import until


def secrets_dir(root: Path) -> Path:
    (root / "forge-hook").mkdir(parents=True)
    (root / "forge-hook" / "token").write_text(SECRET + "\n")
    return root


@dataclass
class Served:
    url: str
    queue: RecordingQueue
    engine: FakeEngine
    metrics: Metrics


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The daemon's server and service as ``serve`` binds them, listening on 127.0.0.1."""
    engine, queue, metrics = FakeEngine(forge_config()), RecordingQueue(), Metrics()
    daemon = Daemon(engine=engine, metrics=metrics, queue=queue,
                    secrets_dir=secrets_dir(tmp_path / "secrets"))  # fmt: skip
    server = DaemonServer(
        metrics=metrics, hooks=lambda: daemon.hooks, on_hook=daemon.on_hook, ready=daemon.ready,
        forge_secret=daemon.forge_secret, on_forge_event=daemon.on_forge_event,
    )  # fmt: skip
    await daemon.refresh()
    host, port = await server.start("127.0.0.1", 0)
    try:
        yield Served(f"http://{host}:{port}", queue, engine, metrics)
    finally:
        await queue.drain(grace=10)
        await server.close()


async def post(url: str, delivery: Delivery) -> tuple[int, str]:
    headers, body = delivery
    async with aiohttp.ClientSession() as session, session.post(
        url, data=body, headers=headers
    ) as response:  # fmt: skip
        return response.status, await response.text()


async def test_signed_closing_events_wake_exactly_the_matching_automations(
    served: Served,
) -> None:
    merged = github(github_payload("closed", merged=True, head="image-updates-apps-app"))
    assert await post(f"{served.url}/hooks/forge/github/forge-hook", merged) == (202, "queued 1\n")
    assert served.queue.submitted == ["reconcile:apps/web"]

    closed = gitlab(gitlab_payload("close", source="api-updates", project="org/fleet"))
    assert await post(f"{served.url}/hooks/forge/gitlab/forge-hook", closed) == (202, "queued 1\n")
    assert served.queue.submitted == ["reconcile:apps/web", "reconcile:apps/api"]

    await served.queue.drain(grace=10)
    assert sorted(served.engine.reconciles) == ["apps/api", "apps/web"]
    assert served.engine.scans == []  # a pull request brings no tags: no scan
    value = served.metrics.registry.get_sample_value
    for provider in ("github", "gitlab"):
        labels = {"provider": provider, "result": "accepted"}
        assert value("image_automation_forge_webhook_requests_total", labels) == 1


@pytest.mark.parametrize(
    ("path", "delivery", "status"),
    [
        ("github/forge-hook", github(github_payload("closed", merged=True), secret="guess"), 401),
        ("gitlab/forge-hook", gitlab(gitlab_payload("close"), token="guess"), 401),
        ("github/forge-hook", (github(github_payload())[0], b'{"action": "closed"}'), 401),
        ("github/other-secret", github(github_payload("closed", merged=True)), 404),
        ("github/forge-hook", github(github_payload("closed", head="main")), 200),
        ("github/forge-hook", github(github_payload("closed", repository="org/other")), 200),
    ],
    ids=[
        "github bad signature",
        "gitlab bad token",
        "tampered body",
        "unknown secret",
        "branch of no automation",
        "repository of no automation",
    ],
)
async def test_a_bad_or_foreign_event_wakes_nothing(
    served: Served, path: str, delivery: Delivery, status: int
) -> None:
    answer, _ = await post(f"{served.url}/hooks/forge/{path}", delivery)
    assert answer == status
    assert served.queue.submitted == []
    await served.queue.drain(grace=10)
    assert served.engine.reconciles == []


async def test_serve_wires_forge_webhooks_to_the_reconciles(tmp_path: Path) -> None:
    engine, stop, bound = FakeEngine(forge_config()), asyncio.Event(), asyncio.Event()
    address: list[str] = []

    def listening(host: str, port: int) -> None:
        address.append(f"http://{host}:{port}")
        bound.set()

    settings = DaemonSettings(port=0, secrets_dir=secrets_dir(tmp_path / "secrets"))
    task = asyncio.create_task(serve(engine, settings, stop=stop, on_listening=listening))
    startup = ["apps/api", "apps/direct", "apps/web"]
    try:
        await bound.wait()
        await until(lambda: sorted(engine.finished) == startup)
        merged = github(github_payload("closed", merged=True))
        url = f"{address[0]}/hooks/forge/github/forge-hook"
        assert await post(url, merged) == (202, "queued 1\n")
    finally:
        stop.set()
        await task  # the stop drains the queue: the woken reconcile has run
    assert sorted(engine.finished) == sorted([*startup, "apps/web"])
