"""The daemon's life: start, serve until told to stop, stop cleanly.

SIGTERM or SIGINT sets the stop event: hooks get 503 from then on, the timers stop, scans and
everything else not yet committing are cancelled at once, and a reconcile already selecting,
committing or pushing gets ``grace_period`` seconds to finish. What still runs after that is
cancelled; the git layer lets a running git
step finish before a cancelled run unlocks its work dir, and the next start resets the work
dir to the remote head, so an abandoned run leaves nothing half-done behind. The exit status is
0. A second signal while stopping exits at once with status 130.

The process never sleeps blindly: it waits on the stop event, so a signal ends the wait.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import os
import signal
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path

from image_automation.daemon.google_keys import GOOGLE_CERTS_URL, GoogleKeys
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.replicas import Replicas
from image_automation.daemon.scheduler import WorkQueue
from image_automation.daemon.server import DEFAULT_MAX_BODY, DaemonServer
from image_automation.daemon.service import Daemon, Engine
from image_automation.daemon.status.auth import StatusAuth
from image_automation.daemon.status.source import StatusSource, daemon_reader
from image_automation.daemon.status.web import StatusPages

log = logging.getLogger(__name__)

EXIT_OK = 0
EXIT_FORCED = 130


@dataclass(frozen=True, slots=True)
class DaemonSettings:
    """How the daemon runs. Durations are in seconds."""

    host: str = "127.0.0.1"
    """Address to listen on for probes, metrics and hooks."""
    port: int = 8080
    """Port to listen on; 0 picks a free one (logged at start)."""
    grace_period: float = 30.0
    """How long a stop waits for running jobs before cancelling them."""
    retry_first: float = 1.0
    """First wait before retrying a start-up that could not read the policy files."""
    retry_interval: float = 30.0
    """Longest wait between those retries (the wait doubles from ``retry_first`` up to it)."""
    max_body: int = DEFAULT_MAX_BODY
    """Largest accepted webhook body, in bytes."""
    secrets_dir: Path | None = None
    """Directory of secrets: ``NAME/token`` for each receiver's ``secretRef`` and for each
    forge webhook (``/hooks/forge/<provider>/NAME``)."""
    jitter_fraction: float = 0.1
    """Jitter of each timer as a fraction of its interval (capped at 30 s)."""
    scan_concurrency: int = 8
    """Repositories scanned at once (each registry host also limits itself)."""
    google_certs_url: str = GOOGLE_CERTS_URL
    """Where Google publishes the keys that sign Pub/Sub push tokens (``gcr`` receivers)."""
    status_page: bool = True
    """Serve ``/status`` and ``/api/v1`` (when the engine can feed them)."""
    status_auth: StatusAuth = field(default_factory=StatusAuth)
    """Credentials the status page and its API ask for (none: open, read-only)."""
    lease_duration: float = 30.0
    """How long a replica's lease on a git repository lasts without renewal."""


def _force_exit() -> None:
    os._exit(EXIT_FORCED)


@contextmanager
def handle_signals(
    stop: asyncio.Event, *, force: Callable[[], None] = _force_exit
) -> Iterator[None]:
    """First SIGTERM/SIGINT sets ``stop``; a second one calls ``force`` (exits the process)."""
    loop = asyncio.get_running_loop()

    def on_signal(signum: int) -> None:
        if stop.is_set():
            log.warning("second %s: exiting now", signal.Signals(signum).name)
            force()
            return
        log.info("%s: stopping", signal.Signals(signum).name)
        stop.set()

    installed = []
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, on_signal, signum)
        installed.append(signum)
    try:
        yield
    finally:
        for signum in installed:
            loop.remove_signal_handler(signum)


async def serve(
    engine: Engine,
    settings: DaemonSettings,
    *,
    stop: asyncio.Event,
    metrics: Metrics | None = None,
    on_listening: Callable[[str, int], None] | None = None,
    status: StatusSource | None = None,
    replicas: Replicas | None = None,
) -> int:
    """Run the daemon until ``stop`` is set; returns the exit status. ``status`` feeds the
    status page and its API (not served without one).

    ``replicas``: the leases this process works under (``None``: it holds everything). Their
    rounds go on while a stop lets a push finish; then every lease is given back.
    """
    metrics = metrics or Metrics()
    queue = WorkQueue(on_depth=metrics.queue_depth.set)
    daemon = Daemon(
        engine=engine,
        metrics=metrics,
        queue=queue,
        secrets_dir=settings.secrets_dir,
        jitter_fraction=settings.jitter_fraction,
        scan_concurrency=settings.scan_concurrency,
        replicas=replicas,
    )
    pages = None
    if status is not None and settings.status_page:
        pages = StatusPages(read=daemon_reader(daemon, status), trace=status.status_trace,
                            auth=settings.status_auth)  # fmt: skip
    server = DaemonServer(
        status=pages,
        metrics=metrics,
        hooks=lambda: daemon.hooks,
        on_hook=daemon.on_hook,
        ready=daemon.ready,
        details=replicas.status if replicas else None,
        max_body=settings.max_body,
        forge_secret=daemon.forge_secret,
        on_forge_event=daemon.on_forge_event,
        google_keys=GoogleKeys(settings.google_certs_url),
    )
    drained = asyncio.Event()  # the rounds renew the leases until no push can be running
    rounds = asyncio.create_task(replicas.run(drained), name="lease rounds") if replicas else None
    try:
        host, port = await server.start(settings.host, settings.port)
        log.info("listening on http://%s:%d", host, port)
        if on_listening is not None:
            on_listening(host, port)
        daemon.scheduler.start()
        queue.submit("startup", lambda: _startup(daemon, settings, stop))
        await stop.wait()
    finally:
        server.stop_accepting()
        daemon.scheduler.shutdown()
        finished = await queue.drain(settings.grace_period)
        if not finished:
            log.warning("stopped with a commit/push abandoned; the next start repairs the work dir")
        if rounds is not None and replicas is not None:
            drained.set()
            await rounds
            await replicas.close()
        await server.close()
    log.info("stopped")
    return EXIT_OK


async def sleep_unless(stop: asyncio.Event, seconds: float) -> bool:
    """Sleep ``seconds`` or until ``stop`` is set; True when stopped."""
    with contextlib.suppress(TimeoutError):
        await asyncio.wait_for(stop.wait(), seconds)
    return stop.is_set()


def retry_delays(*, first: float, cap: float) -> Iterator[float]:
    """``first``, doubled each time, never above ``cap``: waits between start-up retries."""
    delay = min(first, cap)
    while True:
        yield delay
        delay = min(delay * 2, cap)


async def _startup(daemon: Daemon, settings: DaemonSettings, stop: asyncio.Event) -> None:
    """Read the policy files (retrying with backoff until they can be read), scan every
    repository once, then reconcile every automation."""
    delays = retry_delays(first=settings.retry_first, cap=settings.retry_interval)
    while (config := await daemon.refresh()) is None:
        delay = next(delays)
        log.info("start-up retry in %.1fs", delay)
        if await sleep_unless(stop, delay):
            return
    if daemon.replicas is not None:  # what this replica holds, before it reconciles anything
        await daemon.replicas.round()
    scans = [daemon.request_scan(r) for r in sorted(config.scans)]
    for task in scans:
        if task is not None:
            await task
    daemon.starting = False
    for automation in sorted(config.automations):
        daemon.request_reconcile(automation)


__all__ = [
    "EXIT_FORCED",
    "EXIT_OK",
    "DaemonSettings",
    "handle_signals",
    "retry_delays",
    "serve",
    "sleep_unless",
]
