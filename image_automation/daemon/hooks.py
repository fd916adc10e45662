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
gcr                     ``Authorization: Bearer <Google ID token>`` for the secret's
                        ``audience`` and ``email`` (Pub/Sub push authentication, as Flux)
ecr-eventbridge         ``X-Api-Key`` equals the token (an EventBridge API destination's
                        API-key connection); a successful ECR ``PUSH`` event
distribution            ``Authorization`` equals the token (a registry notification
                        endpoint's header); manifest ``push`` events
======================  =====================================================================

The last three, and ``github`` for ``package`` events, also say which repository the event is
about (:mod:`image_automation.daemon.registry_events`): ``Check.subjects`` narrows what the
receiver wakes to the named repositories the event concerns. Comparisons are constant-time
(:func:`hmac.compare_digest`).
"""

from __future__ import annotations

import enum
import hashlib
import hmac
import json
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any

from image_automation.daemon._payloads import Malformed
from image_automation.daemon.google_jwt import check_google_token
from image_automation.daemon.registry_events import (
    NotAPush,
    Subject,
    distribution_subjects,
    ecr_subjects,
    github_package_subjects,
    pubsub_subjects,
)

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
    subjects: tuple[Subject, ...] | None = None
    """The repositories the event is about; ``None``: it does not say (wake all named)."""


@dataclass(frozen=True, slots=True)
class _Call:
    """What a rule sees of one request, and of the receiver it reached."""

    token: str = field(repr=False)
    events: Collection[str]
    headers: Mapping[str, str]
    body: bytes
    secret: Mapping[str, str] = field(repr=False)
    google_keys: Mapping[str, Mapping[str, Any]] | None
    now: float | None


def verify(
    kind: str,
    *,
    token: str,
    events: Collection[str],
    headers: Mapping[str, str],
    body: bytes,
    secret: Mapping[str, str] | None = None,
    google_keys: Mapping[str, Mapping[str, Any]] | None = None,
    now: float | None = None,
) -> Check:
    """Apply ``kind``'s rule. ``headers`` must look up names case-insensitively.

    ``secret`` holds the receiver secret's other keys (``gcr``: ``email``, ``audience``);
    ``google_keys`` Google's signing keys by key id and ``now`` the Unix time (``gcr``).
    """
    rule = _RULES.get(kind)
    if rule is None:
        return Check(Verdict.UNAUTHORIZED, f"unsupported receiver type {kind!r}")
    call = _Call(token, events, headers, body, secret or {}, google_keys, now)
    return rule(call)


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


def _generic(call: _Call) -> Check:
    return Check(Verdict.ACCEPTED)


def _generic_hmac(call: _Call) -> Check:
    header = call.headers.get("X-Signature")
    if header is None:
        return Check(Verdict.UNAUTHORIZED, "missing X-Signature header")
    if not _signature_matches(call.token, call.body, header, allowed=_HMAC_DIGESTS):
        return Check(Verdict.UNAUTHORIZED, "X-Signature does not match")
    return Check(Verdict.ACCEPTED)


def _event_filter(event: str | None, events: Collection[str]) -> Check:
    if events and event not in events:
        return Check(Verdict.IGNORED, f"event {event!r} is not in spec.events")
    return Check(Verdict.ACCEPTED)


def _github(call: _Call) -> Check:
    headers, token, body = call.headers, call.token, call.body
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
    check = _event_filter(event, call.events)
    if check.verdict is Verdict.ACCEPTED and event in _PACKAGE_EVENTS:
        return _about(github_package_subjects, body)  # GHCR: which package was published
    return check


_PACKAGE_EVENTS = frozenset({"package", "registry_package"})


def _gitlab(call: _Call) -> Check:
    if not _same(call.token, call.headers.get("X-Gitlab-Token")):
        return Check(Verdict.UNAUTHORIZED, "X-Gitlab-Token does not match")
    return _event_filter(call.headers.get("X-Gitlab-Event"), call.events)


def _harbor(call: _Call) -> Check:
    if not _same(call.token, call.headers.get("Authorization")):
        return Check(Verdict.UNAUTHORIZED, "Authorization does not match")
    return Check(Verdict.ACCEPTED)


def _distribution(call: _Call) -> Check:
    if not _same(call.token, call.headers.get("Authorization")):
        return Check(Verdict.UNAUTHORIZED, "Authorization does not match")
    return _about(distribution_subjects, call.body)


def _ecr_eventbridge(call: _Call) -> Check:
    if not _same(call.token, call.headers.get("X-Api-Key")):
        return Check(Verdict.UNAUTHORIZED, "X-Api-Key does not match")
    return _about(lambda body: ecr_subjects(call.headers, body), call.body)


def _gcr(call: _Call) -> Check:
    audience, email = call.secret.get("audience", ""), call.secret.get("email", "")
    if not audience or not email or call.google_keys is None or call.now is None:
        return Check(Verdict.UNAUTHORIZED, "gcr receiver without email/audience or keys")
    problem = check_google_token(
        call.headers.get("Authorization"),
        keys=call.google_keys,
        audience=audience,
        email=email,
        now=call.now,
    )
    if problem is not None:
        return Check(Verdict.UNAUTHORIZED, problem)
    return _about(pubsub_subjects, call.body)


def _about(parse: Callable[[bytes], tuple[Subject, ...]], body: bytes) -> Check:
    """A verified event's subjects, or why it wakes nothing."""
    try:
        return Check(Verdict.ACCEPTED, subjects=parse(body))
    except NotAPush as exc:
        return Check(Verdict.IGNORED, str(exc))
    except Malformed as exc:
        return Check(Verdict.MALFORMED, str(exc))


def _json_object(call: _Call) -> Check:
    try:
        payload = json.loads(call.body)
    except ValueError:
        return Check(Verdict.MALFORMED, "body is not JSON")
    if not isinstance(payload, dict):
        return Check(Verdict.MALFORMED, "body is not a JSON object")
    return Check(Verdict.ACCEPTED)


_RULES: dict[str, Callable[[_Call], Check]] = {
    "generic": _generic,
    "generic-hmac": _generic_hmac,
    "github": _github,
    "gitlab": _gitlab,
    "harbor": _harbor,
    "dockerhub": _json_object,
    "quay": _json_object,
    "acr": _json_object,
    "gcr": _gcr,
    "ecr-eventbridge": _ecr_eventbridge,
    "distribution": _distribution,
}

__all__ = ["Check", "Verdict", "hmac_hex", "same_text", "verify"]
