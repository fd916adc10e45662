"""Why a request got no answer: transport errors read for their real cause, in one place.

The libraries under the client hide the cause a user needs. aiohttp keeps the OS or TLS error
in attributes (``os_error``, ``certificate_error``) instead of chaining it, and httpx-aiohttp
labels every aiohttp connection error ``ConnectTimeout``, so a refused connection and a TLS
handshake answered in plain HTTP both read as a timeout. Walking the whole cause chain tells
them apart: a problem no retry can fix (untrusted certificate, plain HTTP, a refused
handshake) or the honest name of a temporary one ("connection refused").
"""

from __future__ import annotations

import errno
import ssl
from collections.abc import Iterator

import httpx

# What OpenSSL says when the answer to our ClientHello is not TLS at all (an HTTP server
# answering "HTTP/1.1 400"): 1.1 to 3.1 call it a wrong version number, 3.2+ a record layer
# failure; LibreSSL an unknown protocol.
_NOT_TLS = ("WRONG_VERSION_NUMBER", "RECORD_LAYER_FAILURE", "UNKNOWN_PROTOCOL")


def causes(exc: BaseException) -> Iterator[BaseException]:
    """``exc``, then every cause and context behind it, aiohttp's attributes included."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        yield current
        for name in ("certificate_error", "os_error"):
            inner = getattr(current, name, None)
            if isinstance(inner, BaseException) and id(inner) not in seen:
                seen.add(id(inner))
                yield inner
        current = current.__cause__ or current.__context__


def _reason(error: ssl.SSLError) -> str:
    # aiohttp's ClientConnectorSSLError is an SSLError without OpenSSL's attributes.
    return str(getattr(error, "reason", None) or error)


def _speaks_plain_http(error: ssl.SSLError) -> bool:
    words = f"{_reason(error)} {error}".upper().replace(" ", "_")
    return any(word in words for word in _NOT_TLS)


def permanent_problem(exc: BaseException, host: str) -> str | None:
    """Why the request can never succeed as configured (a TLS problem), else ``None``."""
    for cause in causes(exc):
        if isinstance(cause, ssl.SSLCertVerificationError):
            return f"the TLS certificate of {host} is not trusted (set caFile, or --ca-file)"
        if isinstance(cause, ssl.SSLError) and _speaks_plain_http(cause):
            return (
                f"{host} speaks plain HTTP; set `insecure: true` on the ImageRepository "
                "(or --insecure)"
            )
        if isinstance(cause, ssl.SSLError) and "ALERT" in str(cause).upper():
            return (
                f"the TLS handshake with {host} was refused ({_reason(cause)}): "
                "a client certificate may be required (certFile/keyFile)"
            )
    return None


def unreachable_reason(exc: httpx.TransportError) -> str:
    """A short honest name for a temporary transport failure, for "unreachable (…)"."""
    chain = list(causes(exc))
    for cause in chain:
        if isinstance(cause, ConnectionRefusedError) or (
            isinstance(cause, OSError) and cause.errno == errno.ECONNREFUSED
        ):
            return "connection refused"
    inner = exc.__cause__
    if (
        isinstance(exc, httpx.TimeoutException)
        and inner is not None
        and not any(isinstance(cause, TimeoutError) for cause in chain[1:])
    ):
        return f"{type(inner).__name__}: {inner}"  # a mislabelled connection error
    return f"{type(exc).__name__}: {exc}"


__all__ = ["causes", "permanent_problem", "unreachable_reason"]
