"""Unit tests of the registry package also run under the leak check (see integration conftest).

The secrets these tests plant are registered so any log record that carries one fails the test.
"""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.integration.conftest import LeakCheck, checking_leaks
from tests.integration.registry_fixtures import SECRETS

# Only distinctive strings: the set is process-wide, and a short word would match innocent text.
UNIT_SECRETS = ("s3cr3t-password", "pw-redirect", "helper-secret", "helper-idt", "refresh-xyz")
for _secret in UNIT_SECRETS:
    SECRETS.add(_secret)


@pytest.fixture(autouse=True)
def leak_check() -> Iterator[LeakCheck]:
    with checking_leaks("logs") as check:
        yield check
