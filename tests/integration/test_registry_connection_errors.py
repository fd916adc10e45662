"""A registry that cannot be reached says why: plain HTTP, refused, or hung past the deadline.

Real components only: the local registry (plain HTTP) asked over https, a port nobody listens
on, and the fault proxy's ``hang`` mode (accepts the request, never answers). No timing is
asserted: a short deadline against a hang, then the error and the number of tries.
"""

from __future__ import annotations

import socket
import uuid
from datetime import UTC, datetime
from pathlib import Path

import pytest

from image_automation.domain import ImageRef
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import ScanTarget, scan_repositories
from image_automation.errors import PermanentError, RegistryError, RegistryUnavailable
from image_automation.registry import RegistryClient, RegistrySettings
from image_automation.state.sqlite import SqliteStore
from tests.integration.conftest import LeakCheck
from tests.integration.fault_proxy import Fault, FaultProxy
from tests.integration.registry_fixtures import RegistryServer, push_image

pytestmark = pytest.mark.integration
NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _no_backoff(**retry: object) -> RegistrySettings:
    return RegistrySettings.model_validate({"retry": {"baseDelay": 0, **retry}})


def _unused_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="module")
def repo(registry_anonymous: RegistryServer) -> str:
    name = f"reach/{uuid.uuid4().hex[:8]}"
    with registry_anonymous.push_client() as push:
        push_image(push, registry_anonymous.url, name, ["1.0.0", "1.1.0"])
    return name


async def test_a_plain_http_registry_asked_over_https_fails_at_once_with_the_insecure_hint(
    registry_anonymous: RegistryServer, repo: str, leak_check: LeakCheck
) -> None:
    async with RegistryClient(settings=_no_backoff(attempts=4)) as client:
        with leak_check.raises(RegistryError) as info:
            await client.list_tags(f"{registry_anonymous.host}/{repo}")
        requests = client.requests
    message = str(info.value)
    assert isinstance(info.value, PermanentError)
    assert f"{registry_anonymous.host} speaks plain HTTP" in message
    assert "set `insecure: true` on the ImageRepository (or --insecure)" in message
    assert requests == 1  # no retry: the same handshake would fail the same way


async def test_connection_refused_is_named_so_and_retried(leak_check: LeakCheck) -> None:
    host = f"127.0.0.1:{_unused_port()}"
    settings = _no_backoff(attempts=3).with_host(host, insecure=True)
    async with RegistryClient(settings=settings) as client:
        with leak_check.raises(RegistryUnavailable) as info:
            await client.list_tags(f"{host}/team/app")
        requests = client.requests
    message = str(info.value)
    assert f"{host} unreachable after 3 tries (connection refused)" in message
    assert "Timeout" not in message
    assert requests == 3


@pytest.mark.parametrize("source", ["scanTimeout", "spec.timeout"])
async def test_a_hung_registry_fails_its_scan_at_the_deadline_and_the_others_finish(
    registry_anonymous: RegistryServer,
    fault_proxy: FaultProxy,
    repo: str,
    tmp_path: Path,
    source: str,
) -> None:
    fault_proxy.add(Fault("hang", times=100))
    # Each request may take 20 s and is tried twice: only the 1 s deadline ends the scan soon.
    proxy_host: dict[str, object] = {"insecure": True, "timeout": 20}
    if source == "scanTimeout":
        proxy_host["scanTimeout"] = 1
    settings = RegistrySettings.model_validate(
        {
            "retry": {"attempts": 2, "baseDelay": 0},
            "hosts": {fault_proxy.host: proxy_host, registry_anonymous.host: {"insecure": True}},
        }
    )
    hung = ScanTarget(
        ImageRef.parse(f"{fault_proxy.host}/{repo}"),
        timeout=1.0 if source == "spec.timeout" else None,
    )
    good = ScanTarget(ImageRef.parse(f"{registry_anonymous.host}/{repo}"))
    store = await SqliteStore.open(tmp_path / "state.db")
    async with store, open_registry_lister([hung, good], settings=settings) as lister:
        reports = await scan_repositories(
            [hung, good], lister=lister, store=store, clock=lambda: NOW
        )
    by_name = {report.repository: report for report in reports}
    assert by_name[good.repository].ok
    assert by_name[good.repository].tag_count == 2
    failed = by_name[hung.repository]
    assert not failed.ok
    assert failed.error is not None
    assert failed.error.startswith(f"scan of {hung.repository} exceeded its deadline of 1s")
    # The deadline ended the scan inside its first try: no retry was started after it.
    assert [seen.path for seen in fault_proxy.seen] == [f"/v2/{repo}/tags/list?n=1000"]
