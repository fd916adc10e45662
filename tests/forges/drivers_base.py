"""The base of the self-tests' raw-httpx drivers (see :mod:`tests.forges.drivers`)."""

from __future__ import annotations

from typing import Any

import httpx

from tests.forges.server import FakeForge


def ok(response: httpx.Response) -> Any:
    assert response.status_code < 300, f"{response.status_code}: {response.text[:500]}"
    return response.json() if response.content else None


class Driver:
    """One forge's spelling of: open, find, update, labels, comment, checks, merge, close."""

    def __init__(self, fake: FakeForge, client: httpx.AsyncClient) -> None:
        self.fake, self.c = fake, client

    @staticmethod
    def headers(fake: FakeForge) -> dict[str, str]:
        return {"Authorization": f"Bearer {fake.token}"}
