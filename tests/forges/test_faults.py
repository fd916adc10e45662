"""Injected faults on every fake: 429 + Retry-After, 5xx, a stall; then service as usual."""

from __future__ import annotations

import asyncio

import httpx
import pytest

from tests.forges.drivers import DRIVERS, client_for, driver_for
from tests.forges.hooks import Fault
from tests.forges.server import FakeForge

pytestmark = pytest.mark.integration


async def test_a_429_with_retry_after_hits_only_the_named_operation_then_clears(
    fake_forge: FakeForge,
) -> None:
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        await forge.default_branch()
        operation = fake_forge.requests[-1].operation
        fake_forge.inject(Fault("retry_after", operation=operation, times=2, retry_after=3))
        for _ in range(2):
            with pytest.raises(AssertionError, match=r"^429"):
                await forge.default_branch()
        assert await forge.default_branch() == "main"
        assert await forge.find("no-such-branch") is None  # other operations were never hit
    assert fake_forge.count(operation, status=429) == 2
    assert fake_forge.count(operation, status=200) == 2


async def test_a_5xx_fault_answers_that_status_and_changes_nothing(fake_forge: FakeForge) -> None:
    fake_forge.human_push("image-updates", {"deploy/app.yaml": "image: 2\n"}, "bump")
    fake_forge.inject(Fault("status", status=502))
    async with client_for(fake_forge) as client:
        forge = driver_for(fake_forge, client)
        with pytest.raises(AssertionError, match=r"^502"):
            await forge.open("image-updates", "main", "Update", "")
        assert fake_forge.pulls == {}
        assert await forge.open("image-updates", "main", "Update", "") == 1


async def test_a_stalled_request_outlasts_a_client_timeout_until_released(
    fake_forge: FakeForge,
) -> None:
    fake_forge.inject(Fault("stall", seconds=60))
    headers = DRIVERS[fake_forge.provider].headers(fake_forge)
    async with httpx.AsyncClient(
        base_url=fake_forge.api_url, headers=headers, timeout=0.5
    ) as hasty:
        with pytest.raises(httpx.ReadTimeout):
            await driver_for(fake_forge, hasty).default_branch()
    fake_forge.release_stalls()
    async with client_for(fake_forge) as client:
        assert await driver_for(fake_forge, client).default_branch() == "main"
    for _ in range(1000):  # the stalled one is answered (to nobody) once released
        if fake_forge.count() == 2:
            break
        await asyncio.sleep(0.01)
    assert fake_forge.count() == 2
