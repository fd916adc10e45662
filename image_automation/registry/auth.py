"""The registry auth protocol as an ``httpx.Auth`` flow: testable step by step, no sockets.

A registry answers ``401`` with ``WWW-Authenticate``: ``Basic realm=…`` or
``Bearer realm=…,service=…,scope=…``. For Bearer we ask the realm for a token (GET with Basic
credentials, or an OAuth2 POST with an identity token), cache it per host + scope + credential
until ``expires_in`` (default 60 s) and retry once. A host's scheme is remembered, so later requests
carry credentials up front and a steady-state request costs exactly one round trip.

One flow serves one registry host with one credential (repositories on a host may each have
their own). The client gives it only to requests for that host, so an ``Authorization`` header
never follows a redirect to another host.
"""

from __future__ import annotations

import base64
import json
import re
import time
from collections.abc import AsyncGenerator, Callable, Generator
from dataclasses import dataclass, field
from urllib.parse import urlsplit

import httpx

from image_automation.errors import RegistryError
from image_automation.registry.credentials import Credential

DEFAULT_TOKEN_TTL = 60.0
ANONYMOUS = "anonymous"
"""The credential identity of requests sent without credentials."""
_EXPIRY_MARGIN = 5.0
_TOKEN_REQUEST = "image_automation.token_request"

_CHALLENGE_RE = re.compile(r"\s*([A-Za-z][A-Za-z0-9_-]*)\s*")
_PARAM_RE = re.compile(r'\s*([A-Za-z0-9_-]+)\s*=\s*(?:"((?:[^"\\]|\\.)*)"|([^\s,]*))\s*,?')
_REPO_PATH_RE = re.compile(r"^/v2/(.+?)/(?:tags/list|manifests/[^/]+|blobs/[^/]+)$")
_VENDOR_PATHS = (  # push-time APIs served by the registry itself, and the action they need
    (re.compile(r"^/acr/v1/(.+?)/_tags$"), "metadata_read"),
    (re.compile(r"^/gitlab/v1/repositories/(.+?)/tags/list/$"), "pull"),
)


@dataclass(frozen=True, slots=True)
class Challenge:
    """One ``WWW-Authenticate`` challenge; ``scheme`` is lower case."""

    scheme: str
    params: dict[str, str] = field(default_factory=dict)


def parse_challenges(values: list[str]) -> list[Challenge]:
    """Parse ``WWW-Authenticate`` header values (several challenges per value allowed)."""
    out: list[Challenge] = []
    for value in values:
        pos = 0
        while pos < len(value):
            match = _CHALLENGE_RE.match(value, pos)
            if not match:
                break
            scheme = match.group(1).lower()
            pos = match.end()
            params: dict[str, str] = {}
            while pos < len(value):
                param = _PARAM_RE.match(value, pos)
                if not param or param.end() == pos:
                    break
                # A bare token followed by a space is the next challenge's scheme.
                if "=" not in value[pos : param.end()]:
                    break
                quoted, bare = param.group(2), param.group(3)
                params[param.group(1).lower()] = (
                    re.sub(r"\\(.)", r"\1", quoted) if quoted is not None else bare or ""
                )
                pos = param.end()
            out.append(Challenge(scheme, params))
            while pos < len(value) and value[pos] in ", ":
                pos += 1
    return out


def scope_for(url: httpx.URL) -> str | None:
    """``/v2/team/app/tags/list`` → ``repository:team/app:pull`` (ACR's ``/acr/v1/team/app/_tags``
    → ``…:metadata_read``, GitLab's ``/gitlab/v1/repositories/…/tags/list/`` → ``…:pull``);
    other paths → ``None``."""
    match = _REPO_PATH_RE.match(url.path)
    if match:
        return f"repository:{match.group(1)}:pull"
    for pattern, action in _VENDOR_PATHS:
        match = pattern.match(url.path)
        if match:
            return f"repository:{match.group(1)}:{action}"
    return None


class TokenCache:
    """Bearer tokens per (host, scope, credential) until they expire; shared by a client's flows.

    The scope names the repository, and ``identity`` (:func:`credential_identity`) says whose
    credentials fetched the token: a token one repository's secret earned is never sent for
    another secret, even for the same scope.
    """

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._tokens: dict[tuple[str, str, str], tuple[str, float]] = {}

    def get(self, host: str, scope: str, *, identity: str) -> str | None:
        key = (host, scope, identity)
        entry = self._tokens.get(key)
        if entry is None:
            return None
        token, expires = entry
        if self._clock() >= expires:
            del self._tokens[key]
            return None
        return token

    def put(self, host: str, scope: str, token: str, ttl: float, *, identity: str) -> None:
        margin = min(_EXPIRY_MARGIN, ttl / 10)
        self._tokens[(host, scope, identity)] = (token, self._clock() + ttl - margin)

    def drop(self, host: str, scope: str, *, identity: str) -> None:
        self._tokens.pop((host, scope, identity), None)

    @property
    def secrets(self) -> tuple[str, ...]:
        return tuple(token for token, _ in self._tokens.values())


def credential_identity(credential: Credential | None) -> str:
    """The cache identity of ``credential``: its fingerprint, or :data:`ANONYMOUS`."""
    return ANONYMOUS if credential is None else credential.fingerprint


def _basic(credential: Credential) -> str:
    raw = f"{credential.username}:{credential.password}".encode()
    return "Basic " + base64.b64encode(raw).decode("ascii")


class RegistryAuth(httpx.Auth):
    """Anonymous, Basic or Bearer-challenge auth for one registry host and one credential."""

    requires_response_body = False  # only token responses are read, see async_auth_flow

    def __init__(
        self,
        host: str,
        *,
        credential: Credential | None,
        tokens: TokenCache,
        user_agent: str = "image-automation",
    ) -> None:
        self.host = host
        self._credential = credential
        self.identity = credential_identity(credential)
        self._tokens = tokens
        self._user_agent = user_agent
        self._known: Challenge | None = None  # the scheme this host asked for last time
        self.settled = False  # an answer came back: the host's scheme (or none) is known

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        scope = scope_for(request.url) or "registry:catalog:*"
        sent = yield from self._authorise_up_front(request, scope)
        response = yield request
        self.settled = True
        if response.status_code != 401:
            return
        challenge = _pick(parse_challenges(response.headers.get_list("www-authenticate")))
        if challenge is None:
            return
        self._known = challenge
        if challenge.scheme == "basic":
            if self._credential is None or self._credential.identity_token or sent == "basic":
                return
            request.headers["Authorization"] = _basic(self._credential)
        else:
            # The one refresh a 401 earns.
            self._tokens.drop(self.host, scope, identity=self.identity)
            token = yield from self._fetch_token(challenge, scope)
            request.headers["Authorization"] = f"Bearer {token}"
        yield request

    def _authorise_up_front(
        self, request: httpx.Request, scope: str
    ) -> Generator[httpx.Request, httpx.Response, str | None]:
        known = self._known
        if known is None:
            return None
        if known.scheme == "basic" and self._credential and not self._credential.identity_token:
            request.headers["Authorization"] = _basic(self._credential)
            return "basic"
        if known.scheme == "bearer":
            token = self._tokens.get(self.host, scope, identity=self.identity)
            if token is None:
                # The remembered challenge names the scope of an earlier request (often
                # another repository); up front, ask for this request's own scope.
                token = yield from self._fetch_token(known, scope, own_scope=True)
            request.headers["Authorization"] = f"Bearer {token}"
            return "bearer"
        return None

    def _fetch_token(
        self, challenge: Challenge, scope: str, *, own_scope: bool = False
    ) -> Generator[httpx.Request, httpx.Response, str]:
        realm = challenge.params.get("realm", "")
        parts = urlsplit(realm)
        if parts.scheme not in {"http", "https"} or not parts.netloc:
            raise RegistryError(f"{self.host}: bearer challenge has no usable realm")
        where = f"{parts.scheme}://{parts.netloc}{parts.path}"
        wanted = scope if own_scope else (challenge.params.get("scope") or scope)
        service = challenge.params.get("service", "")
        cred = self._credential
        headers = {"User-Agent": self._user_agent}
        if cred is not None and cred.identity_token:
            form = {
                "grant_type": "refresh_token",
                "refresh_token": cred.identity_token,
                "service": service,
                "scope": wanted,
                "client_id": "image-automation",
            }
            token_request = httpx.Request("POST", realm, data=form, headers=headers)
        else:
            params = {"scope": wanted, "service": service} if service else {"scope": wanted}
            if cred is not None:
                params["account"] = cred.username
                headers["Authorization"] = _basic(cred)
            token_request = httpx.Request("GET", realm, params=params, headers=headers)
        token_request.extensions[_TOKEN_REQUEST] = True
        response = yield token_request
        if response.status_code != 200:
            raise RegistryError(
                f"{self.host}: token service {where} refused the request "
                f"(HTTP {response.status_code}) for scope {wanted}"
            )
        try:
            data = json.loads(response.content)
            token = data.get("token") or data.get("access_token")
            ttl = float(data.get("expires_in") or DEFAULT_TOKEN_TTL)
        except (ValueError, AttributeError, TypeError):
            raise RegistryError(f"{self.host}: token service {where} sent no JSON") from None
        if not isinstance(token, str) or not token:
            raise RegistryError(f"{self.host}: token service {where} sent no token")
        self._tokens.put(self.host, scope, token, ttl, identity=self.identity)
        return token

    async def async_auth_flow(
        self, request: httpx.Request
    ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        # Like httpx's, but reads only token responses (registry bodies stay streamed).
        flow = self.auth_flow(request)
        next_request = next(flow)
        while True:
            response = yield next_request
            if response.request.extensions.get(_TOKEN_REQUEST):
                await response.aread()
            try:
                next_request = flow.send(response)
            except StopIteration:
                break


def _pick(challenges: list[Challenge]) -> Challenge | None:
    for scheme in ("bearer", "basic"):
        for challenge in challenges:
            if challenge.scheme == scheme:
                return challenge
    return None


__all__ = [
    "ANONYMOUS",
    "Challenge",
    "RegistryAuth",
    "TokenCache",
    "credential_identity",
    "parse_challenges",
    "scope_for",
]
