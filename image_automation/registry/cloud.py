"""Registry credentials from a cloud's own identity: ECR, Artifact Registry / GCR, ACR.

A repository with ``provider: aws|gcp|azure`` (Flux's ``ImageRepository.spec.provider``, a
TrackedImage's ``scan.provider``) logs in with the identity the workload already has (an IAM
role, a Google service account, an Entra ID managed identity) instead of a pull secret; with
no provider set, the host says which cloud it is (:func:`detect_provider`). Each cloud lives in
its own module, named in :data:`PROVIDERS` as ``"module:attr"`` and imported only when a
repository needs it, so its vendor library is an optional extra (``image-automation[aws]``).

:class:`CloudCache` keeps each login until its expiry minus a margin (the clock is passed in),
one login at a time per cloud and registry; it is process-wide by default
(:func:`shared_cloud_cache`), so the daemon's scans share one 12-hour ECR token.
:class:`CloudCredentials` is the :class:`CredentialSource` over it; its ``forget`` drops a
credential a registry refused, so the next ask logs in anew (the one refresh a 401 earns).
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import importlib
import json
import logging
import re
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, cast

from image_automation.errors import NoCloudCredentials, RegistryError
from image_automation.registry.credentials import Credential, normalise_server
from image_automation.registry.settings import HostSettings, RegistrySettings

log = logging.getLogger(__name__)

PROVIDERS: dict[str, str] = {
    "aws": "image_automation.registry._cloud_aws:EcrLogin",
    "gcp": "image_automation.registry._cloud_gcp:GoogleLogin",
    "azure": "image_automation.registry._cloud_azure:AcrLogin",
}
"""Provider name → ``"module:attr"`` of its login class, imported on first use."""

LIBRARIES = {"aws": "boto3", "gcp": "google-auth", "azure": "azure-identity"}
"""The vendor library each provider's extra installs (named in the missing-extra error)."""

MAX_MARGIN = timedelta(minutes=30)
DEFAULT_LIFETIME = timedelta(minutes=5)
"""How long a login whose expiry is unknown is kept."""
NEGATIVE_LIFETIME = timedelta(minutes=10)
"""How long "this detected host has no cloud identity here" is remembered: probing a metadata
server off-cloud costs seconds, and a daemon scans every few minutes."""

_ECR_HOST = re.compile(
    r"^(?P<account>\d{12})\.dkr[.-]ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)"
    r"\.(?:amazonaws\.com(?:\.cn)?|on\.aws)$"
)
ECR_PUBLIC = "public.ecr.aws"
_GCP_HOST = re.compile(r"^(?:[a-z0-9-]+\.)?gcr\.io$|^[a-z0-9-]+-docker\.pkg\.dev$")
_ACR_HOST = re.compile(r"^[a-z0-9-]+\.azurecr\.(?:io|cn|us|de)$")


@dataclass(frozen=True, slots=True)
class EcrHost:
    """What an ECR registry host names: ``123456789012.dkr.ecr.eu-west-1.amazonaws.com``."""

    account: str
    region: str


def parse_ecr_host(registry: str) -> EcrHost | None:
    """The account and region of a private ECR host; ``None`` for any other host."""
    match = _ECR_HOST.match(registry.lower())
    return EcrHost(match["account"], match["region"]) if match else None


def detect_provider(registry: str) -> str | None:
    """The cloud a registry host belongs to (``aws``, ``gcp``, ``azure``), else ``None``.

    ``*.dkr.ecr.*.amazonaws.com`` (and ``.com.cn``, FIPS, dual-stack ``*.on.aws``) and
    ``public.ecr.aws``; ``gcr.io``, ``*.gcr.io`` and ``*-docker.pkg.dev``; ``*.azurecr.io``
    (and the sovereign clouds' ``.cn``, ``.us``, ``.de``). A port means none of them.
    """
    host = registry.lower()
    if parse_ecr_host(host) is not None or host == ECR_PUBLIC:
        return "aws"
    if _GCP_HOST.match(host):
        return "gcp"
    if _ACR_HOST.match(host):
        return "azure"
    return None


def jwt_claims(token: str) -> dict[str, Any]:
    """The payload of a JWT, *unverified* (only to read ``exp`` or ``tid`` of a token we were
    given over TLS; never to trust it); ``{}`` when ``token`` is no JWT."""
    parts = token.split(".")
    if len(parts) != 3:
        return {}
    try:
        payload = base64.urlsafe_b64decode(parts[1] + "=" * (-len(parts[1]) % 4))
        claims = json.loads(payload)
    except (binascii.Error, ValueError):
        return {}
    return claims if isinstance(claims, dict) else {}


@dataclass(frozen=True, slots=True)
class CloudLogin:
    """A provider's answer: the registry credential (``None``: read anonymously, as ECR
    Public is) and when it expires (aware UTC; ``None``: unknown). ``source`` says where it
    came from for log lines ("ECR GetAuthorizationToken, eu-west-1"): never a secret."""

    credential: Credential | None
    expires_at: datetime | None
    source: str


class CloudProvider(Protocol):
    """One cloud's login; blocking (vendor libraries are synchronous), run in a thread.

    Raises :class:`NoCloudCredentials` when its identity chain finds nothing,
    :class:`RegistryError` when the cloud refuses, :class:`RegistryUnavailable` when it
    cannot be reached. No message may carry a token.
    """

    def login(self, registry: str, *, site: HostSettings) -> CloudLogin: ...


def load_provider(name: str) -> CloudProvider:
    """Import ``name``'s module from :data:`PROVIDERS`; a missing vendor library is a
    :class:`RegistryError` naming the extra that installs it."""
    module_name, _, attr = PROVIDERS[name].partition(":")
    try:
        module = importlib.import_module(module_name)
    except ImportError as exc:
        raise RegistryError(
            f"provider {name} needs the {LIBRARIES[name]} library (cannot import "
            f"{exc.name or 'it'}): pip install 'image-automation[{name}]'"
        ) from exc
    return cast(CloudProvider, getattr(module, attr)())


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(slots=True)
class _Entry:
    login: CloudLogin | None  # None: no identity here (a detected host only)
    valid_until: datetime


def _valid_until(login: CloudLogin, fetched: datetime) -> datetime:
    """Expiry minus a tenth of the token's lifetime, at most :data:`MAX_MARGIN`."""
    if login.expires_at is None:
        return fetched + DEFAULT_LIFETIME
    lifetime = max(login.expires_at - fetched, timedelta(0))
    return login.expires_at - min(lifetime / 10, MAX_MARGIN)


class CloudCache:
    """Cloud logins per (provider, registry) until they are due for renewal.

    ``now`` is the wall clock (expiry times are absolute). ``providers`` replaces the lazy
    import of :data:`PROVIDERS` (tests). Safe across event loops: the per-key locks are
    kept per loop, so a process-wide cache serves successive ``asyncio.run`` calls.
    """

    def __init__(
        self,
        *,
        now: Callable[[], datetime] = _utcnow,
        providers: dict[str, CloudProvider] | None = None,
    ) -> None:
        self._now = now
        self._providers: dict[str, CloudProvider] = dict(providers or {})
        self._entries: dict[tuple[str, str], _Entry] = {}
        self._issued: dict[tuple[str, str], set[str]] = {}  # fingerprints handed out
        self._locks: weakref.WeakKeyDictionary[
            asyncio.AbstractEventLoop, dict[tuple[str, str], asyncio.Lock]
        ] = weakref.WeakKeyDictionary()
        self._warned: set[str] = set()
        self.logins = 0
        """Logins made (each a round trip to the cloud): for tests and debugging."""

    def _lock(self, key: tuple[str, str]) -> asyncio.Lock:
        per_loop = self._locks.setdefault(asyncio.get_running_loop(), {})
        return per_loop.setdefault(key, asyncio.Lock())

    def _provider(self, name: str) -> CloudProvider:
        found = self._providers.get(name)
        if found is None:
            found = self._providers[name] = load_provider(name)
        return found

    async def credential(
        self, provider: str, registry: str, *, site: HostSettings, detected: bool
    ) -> Credential | None:
        """The cached credential, else a fresh login. ``detected``: the provider was only
        guessed from the host, so no identity (or no library) means anonymous, not an error."""
        key = (provider, registry)
        async with self._lock(key):
            entry = self._entries.get(key)
            if entry is not None and self._now() < entry.valid_until:
                return entry.login.credential if entry.login else None
            try:
                implementation = self._provider(provider)
            except RegistryError as exc:  # the extra is not installed
                if not detected:
                    raise
                if provider not in self._warned:
                    self._warned.add(provider)
                    log.warning("%s: reading it anonymously: %s", registry, exc)
                self._nothing(key)
                return None
            try:
                self.logins += 1
                login = await asyncio.to_thread(implementation.login, registry, site=site)
            except NoCloudCredentials as exc:
                if not detected:
                    raise
                log.info("%s: no %s identity here, reading it anonymously (%s)", registry,
                         provider, exc)  # fmt: skip
                self._nothing(key)
                return None
            return self._keep(key, login)

    def _nothing(self, key: tuple[str, str]) -> None:
        self._entries[key] = _Entry(None, self._now() + NEGATIVE_LIFETIME)

    def _keep(self, key: tuple[str, str], login: CloudLogin) -> Credential | None:
        fetched = self._now()
        until = _valid_until(login, fetched)
        self._entries[key] = _Entry(login, until)
        if login.credential is not None:
            self._issued.setdefault(key, set()).add(login.credential.fingerprint)
        log.debug("%s: %s credential from %s, renewed after %s", key[1], key[0], login.source,
                  until.isoformat(timespec="seconds"))  # fmt: skip
        return login.credential

    def forget(self, provider: str, registry: str, credential: Credential) -> bool:
        """Drop ``credential`` (a registry refused it); True when this cache issued it, so
        asking again is worth it (a newer one may already be in place)."""
        key = (provider, registry)
        if credential.fingerprint not in self._issued.get(key, set()):
            return False
        entry = self._entries.get(key)
        if entry is not None and entry.login is not None and entry.login.credential == credential:
            del self._entries[key]
        return True

    @property
    def secrets(self) -> tuple[str, ...]:
        """Every secret held now (for leak checks in tests)."""
        return tuple(
            secret
            for entry in self._entries.values()
            if entry.login is not None and entry.login.credential is not None
            for secret in entry.login.credential.secrets
        )


_shared: CloudCache | None = None


def shared_cloud_cache() -> CloudCache:
    """The process-wide cache (created on first use) that sources share by default."""
    global _shared
    if _shared is None:
        _shared = CloudCache()
    return _shared


@dataclass(frozen=True)
class CloudCredentials:
    """A :class:`CredentialSource` logging in with a cloud identity.

    ``provider`` is ``aws``, ``gcp`` or ``azure`` (a failure to log in is an error), or
    ``None``: detect it from the host, and read anonymously when this machine has no such
    identity (or the extra is not installed). ``settings`` reach the registry for logins
    that talk to it (ACR's token exchange: TLS, plain HTTP).
    """

    provider: str | None = None
    cache: CloudCache = field(default_factory=shared_cloud_cache)
    settings: RegistrySettings = field(default_factory=RegistrySettings)

    def __post_init__(self) -> None:
        if self.provider is not None and self.provider not in PROVIDERS:
            raise ValueError(f"unknown cloud provider {self.provider!r}")

    def _provider_for(self, server: str) -> str | None:
        return self.provider or detect_provider(server)

    async def credential_for(self, registry: str) -> Credential | None:
        server = normalise_server(registry)
        name = self._provider_for(server)
        if name is None:
            return None
        site = self.settings.for_host(server)
        return await self.cache.credential(name, server, site=site, detected=self.provider is None)

    async def forget(self, registry: str, credential: Credential) -> bool:
        server = normalise_server(registry)
        name = self._provider_for(server)
        return name is not None and self.cache.forget(name, server, credential)


__all__ = [
    "ECR_PUBLIC",
    "LIBRARIES",
    "PROVIDERS",
    "CloudCache",
    "CloudCredentials",
    "CloudLogin",
    "CloudProvider",
    "EcrHost",
    "detect_provider",
    "jwt_claims",
    "load_provider",
    "parse_ecr_host",
    "shared_cloud_cache",
]
