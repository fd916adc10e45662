"""Suite-wide guards: a test that leaks asyncio tasks fails."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest


@pytest.fixture(autouse=True)
async def _no_leaked_tasks() -> AsyncIterator[None]:
    before = asyncio.all_tasks()
    yield
    leaked = [t for t in asyncio.all_tasks() - before if not t.done()]
    leaked = [t for t in leaked if t is not asyncio.current_task()]
    if leaked:
        for task in leaked:
            task.cancel()
        pytest.fail(f"test leaked asyncio tasks: {leaked!r}")
