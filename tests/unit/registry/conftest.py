"""Unit tests of the registry package also run under the leak check (see integration conftest).

The secrets these tests plant are registered so any log record that carries one fails the test.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator

import pytest

from tests.integration.conftest import LeakCheck, _Capture
from tests.integration.registry_fixtures import SECRETS

# Only distinctive strings: the set is process-wide, and a short word would match innocent text.
UNIT_SECRETS = ("s3cr3t-password", "pw-redirect", "helper-secret", "helper-idt", "refresh-xyz")
for _secret in UNIT_SECRETS:
    SECRETS.add(_secret)


@pytest.fixture(autouse=True)
def leak_check() -> Iterator[LeakCheck]:
    capture = _Capture()
    root = logging.getLogger()
    level = root.level
    root.addHandler(capture)
    root.setLevel(logging.DEBUG)
    check = LeakCheck(capture)
    try:
        yield check
    finally:
        root.removeHandler(capture)
        root.setLevel(level)
    leaks = check.leaks()
    assert not leaks, f"credentials leaked into logs: {leaks}"
