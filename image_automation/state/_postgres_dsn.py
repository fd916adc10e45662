"""From a ``--state postgresql://…`` URL to libpq connection parameters, our pool settings,
and a description of the database that is safe to show.

Why a module of its own: the URL is the one place a password may sit, so everything that
reads it is here. Our own settings ride in the query string (``pool_max_size=8``) and are
taken out before libpq sees it (libpq refuses parameters it does not know); the rest (TLS
``sslmode``/``sslrootcert``…, ``options``, ``application_name``, ``host`` for a socket
directory) passes through to libpq unchanged. Messages name the database by host, port,
database and user, never by the URL, which may hold the password.
"""

from __future__ import annotations

import math
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, TypeVar
from urllib.parse import unquote

import psycopg
from psycopg.conninfo import conninfo_to_dict, make_conninfo

from image_automation.errors import StateError

SCHEMES = ("postgresql", "postgres")

N = TypeVar("N", int, float)


@dataclass(frozen=True, slots=True)
class PostgresSettings:
    """Pool sizing and timeouts, from the URL's query (``?pool_max_size=8&connect_timeout=5``).

    Defaults suit one process: a scan runs a handful of store calls at a time.
    """

    min_size: int = 1
    """``pool_min_size``: connections kept open while idle (0 or more)."""
    max_size: int = 4
    """``pool_max_size``: most connections this process opens at once (1 to 100)."""
    pool_timeout: float = 30.0
    """``pool_timeout``: seconds a call waits for a free connection before it fails."""
    connect_timeout: int = 10
    """``connect_timeout`` (libpq's own parameter): seconds to wait for the server to answer
    when connecting; also how long opening the store waits for the pool to fill."""


@dataclass(frozen=True, slots=True)
class Target:
    """Where to connect, how, and how to name it in messages."""

    conninfo: str = field(repr=False)  # holds the password: never shown
    settings: PostgresSettings
    description: str
    secrets: frozenset[str] = field(default=frozenset(), repr=False)


_OURS = {"pool_min_size", "pool_max_size", "pool_timeout"}
_DEFAULTS = {"application_name": "image-automation"}


def parse_url(url: str, environ: Mapping[str, str] | None = None) -> Target:
    """The :class:`Target` of a ``postgresql://`` or ``postgres://`` URL.

    Raises :class:`StateError` for a malformed URL or setting; the message never quotes
    the URL (libpq's own parse errors do, password included, so they are withheld).
    """
    env = os.environ if environ is None else environ
    base, _, query = url.partition("?")
    passed, ours = _split_query(query)
    secrets = _secrets_of(url)
    libpq_url = base + ("?" + "&".join(passed) if passed else "")
    params, reason = _libpq_params(libpq_url)
    if params is None:
        if "@" in url or "password" in url.lower() or any(s in reason for s in secrets):
            reason = "libpq cannot parse it (details withheld: the URL may hold a password)"
        # Raised outside the except block, so neither chained nor carried as __context__:
        # libpq's message quotes the URL, password and all.
        raise StateError(f"malformed PostgreSQL state URL: {reason}")
    settings = _settings(ours, params)
    params["connect_timeout"] = str(settings.connect_timeout)
    for key, value in _DEFAULTS.items():
        params.setdefault(key, value)
    if params.get("password"):
        secrets |= {str(params["password"])}
    return Target(
        conninfo=make_conninfo("", **params),
        settings=settings,
        description=describe(params, env),
        secrets=frozenset(s for s in secrets if s),
    )


def _libpq_params(url: str) -> tuple[dict[str, Any] | None, str]:
    """libpq's parse of ``url``, or ``None`` and the first line of its complaint."""
    try:
        return conninfo_to_dict(url), ""
    except psycopg.Error as exc:
        lines = str(exc).strip().splitlines()
        return None, lines[0] if lines else type(exc).__name__


def describe(params: Mapping[str, Any], env: Mapping[str, str]) -> str:
    """``PostgreSQL database "ia" at 127.0.0.1:5432 as ia``: what libpq will connect to,
    from the URL, else the ``PG*`` environment, else libpq's defaults."""
    host = str(params.get("host") or env.get("PGHOST") or "the local socket")
    port = str(params.get("port") or env.get("PGPORT") or "5432")
    user = str(params.get("user") or env.get("PGUSER") or "the login user")
    dbname = str(params.get("dbname") or env.get("PGDATABASE") or user)
    return f'PostgreSQL database "{dbname}" at {host}:{port} as {user}'


def _split_query(query: str) -> tuple[list[str], dict[str, str]]:
    """The raw ``k=v`` items libpq gets, and our settings (decoded) taken out."""
    passed: list[str] = []
    ours: dict[str, str] = {}
    for item in query.split("&") if query else []:
        key, _, value = item.partition("=")
        name = unquote(key)
        if name not in _OURS:
            passed.append(item)
            continue
        if name in ours:
            raise StateError(f"PostgreSQL state URL: {name} is given twice")
        ours[name] = unquote(value)
    return passed, ours


def _secrets_of(url: str) -> set[str]:
    """Every spelling of a password the URL may hold (raw and decoded), for masking."""
    found: set[str] = set()
    authority = url.partition("://")[2].partition("/")[0]
    userinfo = authority.rpartition("@")[0]
    if ":" in userinfo:
        raw = userinfo.partition(":")[2]
        found |= {raw, unquote(raw)}
    for item in url.partition("?")[2].split("&"):
        key, _, value = item.partition("=")
        if unquote(key).lower() == "password":
            found |= {value, unquote(value)}
    return {s for s in found if s}


def _settings(ours: Mapping[str, str], params: Mapping[str, Any]) -> PostgresSettings:
    defaults = PostgresSettings()
    min_size = _number(ours, "pool_min_size", int, defaults.min_size, low=0, high=100)
    max_size = _number(ours, "pool_max_size", int, defaults.max_size, low=1, high=100)
    if min_size > max_size:
        raise StateError(
            f"PostgreSQL state URL: pool_min_size ({min_size}) exceeds pool_max_size ({max_size})"
        )
    libpq = {k: str(v) for k, v in params.items() if k == "connect_timeout"}
    return PostgresSettings(
        min_size=min_size,
        max_size=max_size,
        pool_timeout=_number(
            ours, "pool_timeout", float, defaults.pool_timeout, low=0.1, high=3600.0
        ),
        connect_timeout=_number(
            libpq, "connect_timeout", int, defaults.connect_timeout, low=1, high=3600
        ),
    )


def _number(
    source: Mapping[str, str], name: str, kind: type[N], default: N, *, low: N, high: N
) -> N:
    text = source.get(name)
    if text is None:
        return default
    try:
        value = kind(text)
    except ValueError:
        value = None
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        raise StateError(f"PostgreSQL state URL: {name} must be a number, got {text[:40]!r}")
    if not low <= value <= high:
        raise StateError(f"PostgreSQL state URL: {name} must be {low} to {high}, got {value}")
    return value
