"""The HTTP server: probes, metrics, and hooks that verify, count and only enqueue."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator

import pytest
from aiohttp.test_utils import TestClient, TestServer
from prometheus_client.parser import text_string_to_metric_families

from image_automation.config.receivers import webhook_path
from image_automation.daemon.hooks import hmac_hex
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.server import DaemonServer, Hook

TOKEN = "hook-Secr3t-token"
HMAC_PATH = webhook_path(TOKEN, name="hmac", namespace="apps")
HUB_PATH = webhook_path(TOKEN, name="hub", namespace="apps")
BODY = json.dumps({"push_data": {"tag": "9.9.9"}, "repository": {"repo_name": "evil/x"}}).encode()


class Harness:
    def __init__(self) -> None:
        self.metrics = Metrics()
        self.queued: list[Hook] = []
        self.not_ready: str | None = None
        self.hooks = {
            HMAC_PATH: Hook(HMAC_PATH, "apps/hmac", "generic-hmac", TOKEN, (), ("registry/app",)),
            HUB_PATH: Hook(HUB_PATH, "apps/hub", "dockerhub", TOKEN, (), ("docker.io/team/app",)),
        }
        self.server = DaemonServer(
            metrics=self.metrics,
            hooks=lambda: self.hooks,
            on_hook=self.queued.append,
            ready=self.ready,
            max_body=1024,
        )

    async def ready(self) -> str | None:
        return self.not_ready

    def sample(self, name: str, **labels: str) -> float | None:
        return self.metrics.registry.get_sample_value(name, labels)


@pytest.fixture
async def harness() -> AsyncIterator[tuple[Harness, TestClient[object, object]]]:
    h = Harness()
    client: TestClient[object, object] = TestClient(TestServer(h.server.app))
    await client.start_server()
    yield h, client
    await client.close()


Client = tuple[Harness, "TestClient[object, object]"]


async def test_healthz_answers(harness: Client) -> None:
    _, client = harness
    response = await client.get("/healthz")
    assert (response.status, await response.text()) == (200, "ok\n")


async def test_readyz_reports_the_reason_it_is_not_ready(harness: Client) -> None:
    h, client = harness
    assert (await client.get("/readyz")).status == 200
    h.not_ready = "state store: locked"
    response = await client.get("/readyz")
    assert response.status == 503
    assert "state store: locked" in await response.text()


async def test_signed_hook_enqueues_the_named_repositories(harness: Client) -> None:
    h, client = harness
    headers = {"X-Signature": f"sha256={hmac_hex(TOKEN, BODY)}"}
    response = await client.post(HMAC_PATH, data=BODY, headers=headers)
    assert response.status == 202
    assert [hook.repositories for hook in h.queued] == [("registry/app",)]
    assert h.sample("image_automation_webhook_requests_total", receiver="apps/hmac",
                    result="accepted") == 1  # fmt: skip


async def test_bad_signature_is_401_counted_and_enqueues_nothing(harness: Client) -> None:
    h, client = harness
    headers = {"X-Signature": f"sha256={hmac_hex('wrong-token', BODY)}"}
    response = await client.post(HMAC_PATH, data=BODY, headers=headers)
    assert response.status == 401
    assert h.queued == []
    assert h.sample("image_automation_webhook_requests_total", receiver="apps/hmac",
                    result="unauthorized") == 1  # fmt: skip


async def test_unknown_path_is_404_counted_without_the_path(harness: Client) -> None:
    h, client = harness
    response = await client.post(webhook_path("guess", name="hub", namespace="apps"), data=BODY)
    assert response.status == 404
    assert h.queued == []
    assert h.sample("image_automation_webhook_requests_total", receiver="unknown",
                    result="not_found") == 1  # fmt: skip
    assert "guess" not in h.metrics.render().decode()


async def test_dockerhub_payload_is_not_used_as_data(harness: Client) -> None:
    h, client = harness
    response = await client.post(HUB_PATH, data=BODY)
    assert response.status == 202
    # The payload names evil/x at 9.9.9; only the configured repository is queued.
    assert [hook.repositories for hook in h.queued] == [("docker.io/team/app",)]


async def test_malformed_dockerhub_payload_is_400(harness: Client) -> None:
    h, client = harness
    response = await client.post(HUB_PATH, data=b"not json")
    assert response.status == 400
    assert h.queued == []


@pytest.mark.parametrize("chunked", [False, True])
async def test_oversized_body_is_413(harness: Client, chunked: bool) -> None:
    h, client = harness
    big = b"{" + b" " * 2048 + b"}"

    async def stream() -> AsyncIterator[bytes]:
        for start in range(0, len(big), 100):
            yield big[start : start + 100]

    response = await client.post(HUB_PATH, data=stream() if chunked else big)
    assert response.status == 413
    assert h.queued == []
    assert h.sample("image_automation_webhook_requests_total", receiver="apps/hub",
                    result="too_large") == 1  # fmt: skip


async def test_hooks_are_refused_once_stopping(harness: Client) -> None:
    h, client = harness
    h.server.stop_accepting()
    response = await client.post(HUB_PATH, data=BODY)
    assert response.status == 503
    assert h.queued == []


async def test_get_on_a_hook_path_does_nothing(harness: Client) -> None:
    h, client = harness
    response = await client.get(HUB_PATH)
    assert response.status == 405
    assert h.queued == []


async def test_metrics_page_parses_with_prometheus_parser(harness: Client) -> None:
    h, client = harness
    h.metrics.scans.labels(repository="docker.io/team/app").inc()
    h.metrics.scan_duration.labels(repository="docker.io/team/app").observe(0.2)
    h.metrics.commits.labels(automation="apps/auto").inc()
    h.metrics.registry_requests.labels(host="registry.local", status="200").inc(3)
    h.metrics.record_selection("apps/app", image="docker.io/team/app", tag="1.2.3")
    response = await client.get("/metrics")
    assert response.status == 200
    assert response.headers["Content-Type"].startswith("text/plain")
    families = {f.name: f for f in text_string_to_metric_families(await response.text())}
    scans = families["image_automation_scans"]
    assert scans.type == "counter"
    assert [(s.labels, s.value) for s in scans.samples if s.name.endswith("_total")] == [
        ({"repository": "docker.io/team/app"}, 1.0)
    ]
    assert families["image_automation_scan_duration_seconds"].type == "histogram"
    # The text format carries an Info as a gauge of value 1 named ..._info.
    info = families["image_automation_policy_selected_info"]
    assert info.samples[0].value == 1
    assert info.samples[0].labels == {"policy": "apps/app", "image": "docker.io/team/app",
                                      "tag": "1.2.3"}  # fmt: skip
    requests = families["image_automation_registry_requests"].samples[0]
    assert (requests.labels, requests.value) == ({"host": "registry.local", "status": "200"}, 3)


async def raw_post(client: TestClient[object, object], path: str, header: bytes) -> bytes:
    """A POST with one header sent as raw bytes (HTTP clients refuse non-ASCII values)."""
    server = client.server
    reader, writer = await asyncio.open_connection(server.host, server.port)
    writer.write(
        b"POST " + path.encode() + b" HTTP/1.1\r\nHost: test\r\nConnection: close\r\n"
        + header + b"\r\nContent-Length: " + str(len(BODY)).encode() + b"\r\n\r\n" + BODY
    )  # fmt: skip
    await writer.drain()
    answer = await reader.read()
    writer.close()
    await writer.wait_closed()
    return answer


async def test_a_signature_header_of_undecodable_bytes_is_401_not_a_crash(
    harness: Client,
) -> None:
    h, client = harness
    answer = await raw_post(client, HMAC_PATH, b"X-Signature: sha256=\xc3\xa9\xff")
    assert answer.startswith(b"HTTP/1.1 401 "), answer[:200]
    assert h.queued == []
