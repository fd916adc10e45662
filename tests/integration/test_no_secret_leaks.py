"""The leak check itself: it must catch a secret, or its silence in every other test means nothing.

Every test in this directory runs under the autouse ``leak_check`` fixture (conftest.py): it
captures all log records (root logger at DEBUG, so httpx/httpcore/aiohttp records too) and the
exception texts and CLI output the tests hand it, and fails the test if any holds a test
password or an issued token.
"""

from __future__ import annotations

import logging

import pytest

from image_automation.errors import RegistryError
from image_automation.registry import RegistryClient, StaticCredentials
from image_automation.registry.credentials import Credential
from tests.integration.conftest import LeakCheck, _Capture, settings_for
from tests.integration.registry_fixtures import PASSWORD, SECRETS, USERNAME, RegistryServer

pytestmark = pytest.mark.integration


def test_the_detector_finds_a_secret_in_a_log_line_and_an_exception() -> None:
    check = LeakCheck(_Capture())
    logger = logging.getLogger("leak-demo")
    logger.propagate = False  # keep the planted secret away from this test's own leak check
    logger.addHandler(check._capture)
    try:
        logger.warning("oops %s", PASSWORD)
    finally:
        logger.removeHandler(check._capture)
        logger.propagate = True
    try:
        raise RegistryError("boom") from ValueError(f"token={PASSWORD}")
    except RegistryError as exc:
        check.record(exc)
    leaks = check.leaks()
    assert len(leaks) == 2
    assert all(PASSWORD not in leak for leak in leaks)  # the report itself stays clean


async def test_issued_tokens_are_known_secrets(
    registry_token: RegistryServer, leak_check: LeakCheck
) -> None:
    assert registry_token.token_server is not None
    token = registry_token.token_server.issue(USERNAME, ["repository:x:pull"])
    assert token in SECRETS.all()


async def test_a_full_auth_run_logs_no_secret(
    registry_token: RegistryServer, leak_check: LeakCheck
) -> None:
    # Debug logging is on (fixture); run a token flow, a refusal and an error end to end.
    creds = StaticCredentials({registry_token.host: Credential(USERNAME, PASSWORD)})
    async with RegistryClient(settings=settings_for(registry_token), credentials=creds) as c:
        with leak_check.raises(RegistryError, match="not found"):
            await c.list_tags(f"{registry_token.host}/leak/missing")
        assert c._http.token_cache.secrets  # a token was issued and cached
    assert leak_check.all_texts()  # records were captured: the grep had input
    assert leak_check.leaks() == []
