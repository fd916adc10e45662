"""Google's signing keys: fetched from a real local server, cached per Cache-Control, fetched
again for an unknown key id at most once a minute, kept when a fetch fails (test clock)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
from aiohttp import web

from image_automation.config.loading import load_bytes
from image_automation.daemon.google_keys import GoogleKeys, KeysUnavailable
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.plan import build_config
from image_automation.daemon.server import DaemonServer, Hook
from image_automation.daemon.service import build_hooks
from tests.integration.fault_proxy import _Server

pytestmark = pytest.mark.integration


class KeySet(_Server):
    def __init__(self) -> None:
        super().__init__()
        self.kids = ["k1"]
        self.status = 200
        self.max_age: str | None = "max-age=600"
        self.body: bytes | None = None

    async def start(self) -> KeySet:
        await self._start(self.answer)
        return self

    async def answer(self, request: web.Request) -> web.Response:
        self._record(request)
        keys = [{"kid": kid, "kty": "RSA", "n": "AQAB", "e": "AQAB", "alg": "RS256"}
                for kid in self.kids]  # fmt: skip
        headers = {"Cache-Control": f"public, {self.max_age}"} if self.max_age else {}
        body = self.body if self.body is not None else json.dumps({"keys": keys}).encode()
        return web.Response(body=body, status=self.status, headers=headers)


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
async def keyset() -> AsyncIterator[KeySet]:
    server = await KeySet().start()
    yield server
    await server.stop()


async def test_keys_are_cached_for_max_age_then_fetched_again(keyset: KeySet) -> None:
    clock = Clock()
    keys = GoogleKeys(keyset.url, clock=clock)
    assert list(await keys.for_kid("k1")) == ["k1"]
    clock.now += 599
    keyset.kids = ["k2"]
    assert list(await keys.for_kid("k1")) == ["k1"]  # still fresh: no request
    assert len(keyset.seen) == 1
    clock.now += 2
    assert list(await keys.for_kid(None)) == ["k2"]
    assert len(keyset.seen) == 2


async def test_an_unknown_key_id_fetches_again_at_most_once_a_minute(keyset: KeySet) -> None:
    clock = Clock()
    keys = GoogleKeys(keyset.url, clock=clock)
    await keys.for_kid("k1")
    keyset.kids = ["k1", "k-new"]  # Google rotated before our cache expired
    clock.now += 61
    assert "k-new" in await keys.for_kid("k-new")
    for _ in range(20):  # made-up key ids: no request storm
        await keys.for_kid("made-up")
    assert len(keyset.seen) == 2


@pytest.mark.parametrize(
    ("status", "body"),
    [(500, None), (200, b"<html>"), (200, b'{"keys": []}'), (200, b"x" * 70_000)],
    ids=["5xx", "not json", "no keys", "too large"],
)
async def test_a_failed_fetch_keeps_the_keys_we_had_and_without_any_is_unavailable(
    keyset: KeySet, status: int, body: bytes | None
) -> None:
    clock = Clock()
    keys = GoogleKeys(keyset.url, clock=clock)
    await keys.for_kid("k1")
    keyset.status, keyset.body = status, body
    clock.now += 10_000
    assert list(await keys.for_kid("k1")) == ["k1"]
    with pytest.raises(KeysUnavailable, match="cannot fetch Google's keys"):
        await GoogleKeys(keyset.url, clock=clock).for_kid("k1")


async def test_without_keys_a_gcr_hook_answers_503_and_queues_nothing(keyset: KeySet) -> None:
    keyset.status = 503
    queued: list[Hook] = []
    hook = Hook("/hook/g", "apps/gar", "gcr", "tok", (), ("europe-west1-docker.pkg.dev/p/r/a",),
                secret={"email": "e@x", "audience": "a"})  # fmt: skip
    metrics = Metrics()

    async def ready() -> str | None:
        return None

    server = DaemonServer(metrics=metrics, hooks=lambda: {hook.path: hook},
                          on_hook=queued.append, ready=ready,
                          google_keys=GoogleKeys(keyset.url))  # fmt: skip
    host, port = await server.start("127.0.0.1", 0)
    try:
        import aiohttp

        async with aiohttp.ClientSession() as session, session.post(
            f"http://{host}:{port}/hook/g", data=b"{}",
            headers={"Authorization": "Bearer a.b.c"},
        ) as response:  # fmt: skip
            assert response.status == 503
    finally:
        await server.close()
    assert queued == []
    labels = {"receiver": "apps/gar", "result": "unverifiable"}
    assert metrics.registry.get_sample_value("image_automation_webhook_requests_total", labels) == 1


GCR_FILES = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: europe-west1-docker.pkg.dev/p/r/app, interval: 1h}
---
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: gar, namespace: apps}
spec:
  type: gcr
  secretRef: {name: gar-hook}
  resources: [{kind: ImageRepository, name: app}]
"""


@pytest.mark.parametrize("present", [("token",), ("token", "email"), ("token", "audience")])
def test_a_gcr_receiver_without_email_and_audience_is_not_served(
    tmp_path: Path, present: tuple[str, ...]
) -> None:
    (tmp_path / "gar-hook").mkdir()
    for key in present:
        (tmp_path / "gar-hook" / key).write_text(f"{key}-value\n")
    loaded = load_bytes(GCR_FILES.encode(), file="f.yaml")
    hooks, problems = build_hooks(build_config(loaded, plans=[], default_interval=60),
                                  secrets_dir=tmp_path)  # fmt: skip
    assert hooks == {}
    [problem] = problems
    assert problem.startswith("receiver apps/gar: secret 'gar-hook': cannot read")


def test_a_gcr_receiver_reads_email_and_audience_beside_its_token(tmp_path: Path) -> None:
    (tmp_path / "gar-hook").mkdir()
    values: dict[str, Any] = {"token": "t0k", "email": "e@x", "audience": "https://h/hook/1"}
    for key, value in values.items():
        (tmp_path / "gar-hook" / key).write_text(value + "\n")
    loaded = load_bytes(GCR_FILES.encode(), file="f.yaml")
    hooks, problems = build_hooks(build_config(loaded, plans=[], default_interval=60),
                                  secrets_dir=tmp_path)  # fmt: skip
    assert problems == []
    [hook] = hooks.values()
    assert hook.secret == {"email": "e@x", "audience": "https://h/hook/1"}
    assert "e@x" not in repr(hook)
