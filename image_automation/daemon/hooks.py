"""How each Flux ``Receiver`` type verifies a webhook request (facts from Flux's receiver docs).

A request reaching a receiver's secret path is checked by its type's rule before anything
happens; the body is never used as data (no tag, no image is read from it), a valid request
only wakes the repositories the receiver names.

======================  =====================================================================
type                    rule
======================  =====================================================================
generic                 none beyond the secret path
generic-hmac            ``X-Signature: <sha1|sha256|sha512>=<hex HMAC of the body>``
github                  ``X-Hub-Signature-256: sha256=<hex HMAC>`` (else ``X-Hub-Signature``
                        with sha1); ``X-GitHub-Event`` filtered by ``spec.events``; ``ping`` is
                        acknowledged and does nothing
gitlab                  ``X-Gitlab-Token`` equals the token; ``X-Gitlab-Event`` filtered
harbor                  ``Authorization`` equals the token
dockerhub, quay, acr    the body must be a JSON object (Flux only unmarshals the payload)
======================  =====================================================================

Comparisons are constant-time (:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Collection, Mapping
from dataclasses import dataclass

_HMAC_DIGESTS = {"sha1": hashlib.sha1, "sha256": hashlib.sha256, "sha512": hashlib.sha512}


class Verdict(enum.Enum):
    """What the server does with a request. ``value`` is the metric label."""

    ACCEPTED = "accepted"
    """Verified: enqueue work for the named repositories."""
    IGNORED = "ignored"
    """Verified, but an event the receiver does not act on (or a ping): 200, no work."""
    UNAUTHORIZED = "unauthorized"
    """Missing or wrong signature/token: 401, nothing happens."""
    MALFORMED = "malformed"
    """Payload is not what the type sends: 400, nothing happens."""


@dataclass(frozen=True, slots=True)
class Check:
    verdict: Verdict
    reason: str = ""


def verify(
    kind: str,
    *,
    token: str,
    events: Collection[str],
    headers: Mapping[str, str],
    body: bytes,
) -> Check:
    """Apply ``kind``'s rule. ``headers`` must look up names case-insensitively."""
    rule = _RULES.get(kind)
    if rule is None:
        return Check(Verdict.UNAUTHORIZED, f"unsupported receiver type {kind!r}")
    return rule(token, events, headers, body)


def hmac_hex(token: str, body: bytes, algorithm: str = "sha256") -> str:
    """Hex HMAC of ``body`` keyed by ``token``: what a sender puts in its signature header."""
    return hmac.new(token.encode(), body, _HMAC_DIGESTS[algorithm]).hexdigest()


def same_text(expected: str, given: str) -> bool:
    """Constant-time equality of two texts. Header values may hold any character (aiohttp
    passes undecodable bytes through as surrogates), so both are compared as bytes."""
    return hmac.compare_digest(
        expected.encode("utf-8", "surrogatepass"), given.encode("utf-8", "surrogatepass")
    )


def _signature_matches(token: str, body: bytes, header: str, *, allowed: Collection[str]) -> bool:
    algorithm, sep, given = header.strip().partition("=")
    algorithm = algorithm.lower()
    if not sep or algorithm not in allowed:
        return False
    return same_text(hmac_hex(token, body, algorithm), given.strip().lower())


def _same(secret: str, given: str | None) -> bool:
    return given is not None and same_text(secret, given)


def _generic(token: str, events: Collection[str], headers: Mapping[str, str], body: bytes) -> Check:
    return Check(Verdict.ACCEPTED)


def _generic_hmac(
    token: str, events: Collection[str], headers: Mapping[str, str], body: bytes
) -> Check:
    header = headers.get("X-Signature")
    if header is None:
        return Check(Verdict.UNAUTHORIZED, "missing X-Signature header")
    if not _signature_matches(token, body, header, allowed=_HMAC_DIGESTS):
        return Check(Verdict.UNAUTHORIZED, "X-Signature does not match")
    return Check(Verdict.ACCEPTED)


def _event_filter(event: str | None, events: Collection[str]) -> Check:
    if events and event not in events:
        return Check(Verdict.IGNORED, f"event {event!r} is not in spec.events")
    return Check(Verdict.ACCEPTED)


def _github(token: str, events: Collection[str], headers: Mapping[str, str], body: bytes) -> Check:
    strong, weak = headers.get("X-Hub-Signature-256"), headers.get("X-Hub-Signature")
    if strong is not None:
        ok = _signature_matches(token, body, strong, allowed=("sha256",))
    elif weak is not None:
        ok = _signature_matches(token, body, weak, allowed=("sha1",))
    else:
        return Check(Verdict.UNAUTHORIZED, "missing X-Hub-Signature-256 header")
    if not ok:
        return Check(Verdict.UNAUTHORIZED, "X-Hub-Signature does not match")
    event = headers.get("X-GitHub-Event")
    if event == "ping":
        return Check(Verdict.IGNORED, "ping")
    return _event_filter(event, events)


def _gitlab(token: str, events: Collection[str], headers: Mapping[str, str], body: bytes) -> Check:
    if not _same(token, headers.get("X-Gitlab-Token")):
        return Check(Verdict.UNAUTHORIZED, "X-Gitlab-Token does not match")
    return _event_filter(headers.get("X-Gitlab-Event"), events)


def _harbor(token: str, events: Collection[str], headers: Mapping[str, str], body: bytes) -> Check:
    if not _same(token, headers.get("Authorization")):
        return Check(Verdict.UNAUTHORIZED, "Authorization does not match")
    return Check(Verdict.ACCEPTED)


def _json_object(
    token: str, events: Collection[str], headers: Mapping[str, str], body: bytes
) -> Check:
    try:
        payload = json.loads(body)
    except ValueError:
        return Check(Verdict.MALFORMED, "body is not JSON")
    if not isinstance(payload, dict):
        return Check(Verdict.MALFORMED, "body is not a JSON object")
    return Check(Verdict.ACCEPTED)


_RULES = {
    "generic": _generic,
    "generic-hmac": _generic_hmac,
    "github": _github,
    "gitlab": _gitlab,
    "harbor": _harbor,
    "dockerhub": _json_object,
    "quay": _json_object,
    "acr": _json_object,
}

__all__ = ["Check", "Verdict", "hmac_hex", "same_text", "verify"]
