"""Suite-wide guards: a test that leaks asyncio tasks fails; no test reaches a real cloud.

Cloud credential chains probe well-known addresses (169.254.169.254, the instance metadata
services of AWS, Google and Azure) when nothing else answers. Every test process, and the
CLI and daemon subprocesses they start, gets an environment that sends those probes to a
closed port on 127.0.0.1 and clears any real identity, so a test can only ever meet the
local stand-ins it starts itself (tests/integration/cloud_fixtures.py).

google-auth reads ``GCE_METADATA_HOST`` once, when it is imported, so the local metadata
server's address is fixed here: :data:`GCE_METADATA_SOCKET` is bound and listening from the
start (no other process can take the port) and the stand-in serves on it later. Until a
test points ``GCE_METADATA_IP`` (read on every call, for ADC's detection ping) at it,
detection fails and nothing is asked there.
"""

from __future__ import annotations

import asyncio
import os
import socket
import tempfile
from collections.abc import AsyncIterator

import pytest

_CLOSED = "127.0.0.1:9"  # discard port: nothing listens, so a probe is refused at once
_CLOUD_ENV = {
    "AWS_EC2_METADATA_DISABLED": "true",
    "AWS_CONFIG_FILE": os.devnull,
    "AWS_SHARED_CREDENTIALS_FILE": os.devnull,
    "GCE_METADATA_IP": _CLOSED,
    "GCE_METADATA_DETECT_RETRIES": "1",
    "AZURE_POD_IDENTITY_AUTHORITY_HOST": f"http://{_CLOSED}",
}
_CLOUD_PREFIXES = ("AWS_", "AZURE_", "GOOGLE_", "CLOUDSDK_", "GCE_")
_CLOUD_NAMES = {"IDENTITY_ENDPOINT", "IDENTITY_HEADER", "MSI_ENDPOINT", "MSI_SECRET",
                "IMDS_ENDPOINT", "ECS_CONTAINER_METADATA_URI"}  # fmt: skip


GCE_METADATA_SOCKET = socket.create_server(("127.0.0.1", 0))


def pytest_configure(config: pytest.Config) -> None:
    for name in list(os.environ):
        if name.startswith(_CLOUD_PREFIXES) or name in _CLOUD_NAMES:
            del os.environ[name]
    os.environ.update(_CLOUD_ENV)
    os.environ["GCE_METADATA_HOST"] = f"127.0.0.1:{GCE_METADATA_SOCKET.getsockname()[1]}"
    os.environ["CLOUDSDK_CONFIG"] = tempfile.mkdtemp(prefix="no-gcloud-")  # no ADC file


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


def pytest_unconfigure(config: pytest.Config) -> None:
    GCE_METADATA_SOCKET.close()  # no-op when the metadata stand-in already closed it
