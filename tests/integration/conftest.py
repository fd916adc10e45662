"""Fixtures for tests against real components (see ``registry_fixtures.py`` for the parts).

Registries (session-scoped, started once, failing loudly if they cannot start):
``registry_anonymous``, ``registry_basic``, ``registry_tls``, ``registry_token``, and
``any_registry`` parametrised over those four; ``registry_mtls`` (TLS that also wants a client
certificate). ``registry_client_for(server)`` builds a ``RegistryClient`` configured (TLS,
plain HTTP, credentials) for a server.

PostgreSQL: ``postgres_server`` (session-scoped, see ``postgres_server.py``), and
``postgres_database`` (a fresh database per test, dropped afterwards).

Per test: ``fault_proxy`` (a :class:`FaultProxy` in front of the anonymous registry),
``sink`` (another host for redirects), and ``leak_check`` — autouse, it captures every log
record of the test and every exception text passed to ``leak_check.record`` (or caught with
``leak_check.raises``) and fails the test if any contains a test password or token.
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Callable, Iterator
from typing import Any

import pytest

from image_automation.registry import (
    Credential,
    RegistryClient,
    RegistrySettings,
    StaticCredentials,
)
from tests.integration.fault_proxy import FaultProxy, Sink
from tests.integration.postgres_server import PostgresServer, start_postgres
from tests.integration.registry_fixtures import (
    PASSWORD,
    SECRETS,
    USERNAME,
    RegistryServer,
    Setup,
    start_registry,
)

SETUPS: tuple[Setup, ...] = ("anonymous", "basic", "tls", "token")


def _registry(setup: Setup) -> Iterator[RegistryServer]:
    server = start_registry(setup)  # raises FixtureError: the tests error, never skip
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="session")
def registry_anonymous() -> Iterator[RegistryServer]:
    yield from _registry("anonymous")


@pytest.fixture(scope="session")
def registry_basic() -> Iterator[RegistryServer]:
    yield from _registry("basic")


@pytest.fixture(scope="session")
def registry_tls() -> Iterator[RegistryServer]:
    yield from _registry("tls")


@pytest.fixture(scope="session")
def registry_token() -> Iterator[RegistryServer]:
    yield from _registry("token")


@pytest.fixture(scope="session")
def registry_mtls() -> Iterator[RegistryServer]:
    """TLS that demands a client certificate (``server.ca.client_cert_file``/``_key_file``)."""
    yield from _registry("mtls")


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    server = start_postgres()  # raises FixtureError: the tests error, never skip
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def postgres_database(postgres_server: PostgresServer) -> Iterator[str]:
    """The name of a new empty database on :func:`postgres_server`, dropped afterwards."""
    name = postgres_server.create_database()
    try:
        yield name
    finally:
        postgres_server.drop_database(name)


@pytest.fixture(params=SETUPS)
def any_registry(request: pytest.FixtureRequest) -> RegistryServer:
    server: RegistryServer = request.getfixturevalue(f"registry_{request.param}")
    return server


def settings_for(server: RegistryServer, base: RegistrySettings | None = None) -> RegistrySettings:
    """Client settings that reach ``server``: plain HTTP, or TLS trusting its CA."""
    settings = base or RegistrySettings()
    if server.ca is not None:
        return settings.with_host(server.host, ca_file=server.ca.ca_file)
    return settings.with_host(server.host, insecure=True)


@pytest.fixture
def registry_client_for() -> Callable[..., RegistryClient]:
    """``registry_client_for(server, credential=True, settings=None, **client_kwargs)``."""

    def build(
        server: RegistryServer,
        *,
        credential: bool = True,
        settings: RegistrySettings | None = None,
        **kwargs: Any,
    ) -> RegistryClient:
        creds = None
        if credential and server.username:
            creds = StaticCredentials({server.host: Credential(USERNAME, PASSWORD)})
        return RegistryClient(settings=settings_for(server, settings), credentials=creds, **kwargs)

    return build


@pytest.fixture
async def sink() -> AsyncIterator[Sink]:
    server = await Sink().start()
    yield server
    await server.stop()


@pytest.fixture
async def fault_proxy(registry_anonymous: RegistryServer) -> AsyncIterator[FaultProxy]:
    proxy = await FaultProxy(registry_anonymous.url).start()
    yield proxy
    await proxy.stop()


class _Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        text = record.getMessage()
        if record.exc_info and record.exc_info[1] is not None:
            text += "\n" + exception_text(record.exc_info[1])
        self.lines.append(text)


def exception_text(exc: BaseException) -> str:
    """``str`` and ``repr`` of ``exc`` and of every cause/context in its chain."""
    parts: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        parts += [str(current), repr(current)]
        current = current.__cause__ or current.__context__
    return "\n".join(parts)


class LeakCheck:
    """Collects the texts a test produced; the fixture greps them for known secrets."""

    def __init__(self, capture: _Capture) -> None:
        self._capture = capture
        self.texts: list[str] = []

    def record(self, text_or_exc: str | BaseException) -> None:
        if isinstance(text_or_exc, BaseException):
            text_or_exc = exception_text(text_or_exc)
        self.texts.append(text_or_exc)

    @contextlib.contextmanager
    def raises(self, kind: type[BaseException], match: str | None = None) -> Iterator[Any]:
        """``pytest.raises`` that also records the exception's full text for the leak check."""
        with pytest.raises(kind, match=match) as info:
            yield info
        self.record(info.value)

    def all_texts(self) -> list[str]:
        return self._capture.lines + self.texts

    def leaks(self) -> list[str]:
        return [
            f"text #{i}: {hits}"
            for i, t in enumerate(self.all_texts())
            if (hits := SECRETS.find_in(t))
        ]


@contextlib.contextmanager
def checking_leaks(what: str) -> Iterator[LeakCheck]:
    """Capture every log record at DEBUG while the block runs; fail if any carries a secret."""
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
    assert not leaks, f"credentials leaked into {what}: {leaks}"


@pytest.fixture(autouse=True)
def leak_check() -> Iterator[LeakCheck]:
    with checking_leaks("logs or errors") as check:
        yield check
