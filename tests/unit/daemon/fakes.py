"""A fake engine for daemon tests: records calls, can block a reconcile mid-way."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

from image_automation.daemon.plan import DaemonConfig
from image_automation.daemon.service import ReconcileResult, ScanResult
from image_automation.errors import ImageAutomationError


class FakeEngine:
    def __init__(self, config: DaemonConfig) -> None:
        self.config = config
        self.loads = 0
        self.scans: list[str] = []
        self.scans_done: list[str] = []
        self.scan_block: asyncio.Event | None = None
        self.selected_after: list[list[str]] = []
        self.reconciles: list[str] = []
        self.finished: list[str] = []
        self.block: asyncio.Event | None = None
        self.in_reconcile = asyncio.Event()
        self.load_error: str | None = None
        self.load_raises: Exception | None = None
        """Raised by the next load (then cleared): an error that is not ours, a bug."""
        self.store_error: str | None = None
        self.result: Callable[[str], ReconcileResult] = lambda a: ReconcileResult()
        self.guards: list[Callable[[], Awaitable[None]] | None] = []
        """The push guard each reconcile was given (None without replicas)."""
        self.checkout: asyncio.Event | None = None
        """Reconciles wait for it first, as the real engine's wait their turn on the one
        checkout of the policy repository (then fetch it: work a replica should not do for a
        repository it gave away meanwhile)."""
        self.fetched: list[str] = []

    async def load(self) -> DaemonConfig:
        self.loads += 1
        if self.load_raises is not None:
            exc, self.load_raises = self.load_raises, None
            raise exc
        if self.load_error:
            raise ImageAutomationError(self.load_error)
        return self.config

    async def scan(self, repository: str) -> ScanResult:
        self.scans.append(repository)
        if self.scan_block is not None:
            await self.scan_block.wait()
        self.scans_done.append(repository)
        return ScanResult(ok=True, tags=3)

    async def reconcile(
        self,
        automation: str,
        on_config: Callable[[DaemonConfig], None],
        before_select: Callable[[], Awaitable[None]],
        guard: Callable[[], Awaitable[None]] | None = None,
    ) -> ReconcileResult | None:
        self.guards.append(guard)
        if self.checkout is not None:
            await self.checkout.wait()
        self.fetched.append(automation)
        config = await self.load()
        on_config(config)
        if automation not in config.automations:
            return None
        await before_select()
        self.selected_after.append(list(self.scans_done))
        self.reconciles.append(automation)
        self.in_reconcile.set()
        if self.block is not None:
            await self.block.wait()
        self.finished.append(automation)
        return self.result(automation)

    async def check(self) -> str | None:
        return self.store_error
