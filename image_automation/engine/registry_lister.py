"""The production :class:`~image_automation.engine.scanning.TagLister`: the registry client.

Also turns the scan targets' hints (``secretRef``, ``certSecretRef``, ``insecure``,
``provider``) into the client's settings and credentials. A ``secretRef`` is the credential of
its own repository only (two ImageRepositories on one host may hold different per-project
secrets); a repository without one uses the shared sources (the docker config). ``provider:
aws|gcp|azure`` replaces both with the cloud identity (as in Flux, the ``secretRef`` is not
read); unset, a cloud host (ECR, GCR/Artifact Registry, ACR) falls back to the cloud identity
after them, read anonymously when this machine has none. Cloud logins outlive the client in
a process-wide cache, so each scan does not log in again. TLS is per host in the client (one
connection pool per host), so a host's first ``certSecretRef`` applies to all its repositories
and a different one named for the same host is reported as a warning.

Metadata costs: one ``HEAD`` per tag for its digest; the manifest and config GETs only for a
digest not seen before (the store's last good scan, offered as ``known``, and the client's
in-memory caches are both keyed by digest, which is content-addressed and never stale). Push
times come in bulk from the registry's own API where it has one (Docker Hub, Quay, Harbor):
one request per page of tags, once per scan; without it, ``pushed`` stays as stored.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator, Callable, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

from image_automation.domain import ImageRef, TagInfo
from image_automation.engine.scanning import ScanTarget, TagListing, deadline_exceeded
from image_automation.errors import RegistryError, RegistryUnavailable
from image_automation.registry import (
    DEFAULT_PLATFORM,
    ChainedCredentials,
    CloudCache,
    CloudCredentials,
    CredentialSource,
    DockerConfig,
    Platform,
    RegistryClient,
    RegistrySettings,
    SecretsDir,
    TlsFiles,
    TransportFactory,
    detect_provider,
    shared_cloud_cache,
)
from image_automation.registry import parse_created as parse_created  # re-exported: tests
from image_automation.registry.cloud import PROVIDERS
from image_automation.registry.limits import counting_operation

log = logging.getLogger(__name__)


class UnreachableApis:
    """Push-time APIs found unreachable, keyed by (API, registry); skipped for ``hold`` seconds.

    A lister makes its own (one scan); the daemon shares one across its scans, so a
    firewalled API costs one round of timeouts an hour rather than one per repository scan.
    """

    def __init__(self, hold: float = 3600.0, clock: Callable[[], float] = time.monotonic) -> None:
        self._hold = hold
        self._clock = clock
        self._until: dict[tuple[str, str], float] = {}

    def skips(self, key: tuple[str, str]) -> bool:
        until = self._until.get(key)
        return until is not None and self._clock() < until

    def mark(self, key: tuple[str, str]) -> bool:
        """Record a failure; True when it is news (the key was not already being skipped)."""
        news = not self.skips(key)
        self._until[key] = self._clock() + self._hold
        return news


class RegistryTagLister:
    """Lists tags (and, when asked, digests and build times) through a ``RegistryClient``."""

    def __init__(
        self,
        client: RegistryClient,
        *,
        platform: Platform | None = None,
        metadata_concurrency: int = 16,
        broken: Mapping[str, str] | None = None,
        unreachable: UnreachableApis | None = None,
    ) -> None:
        self._client = client
        self._platform = platform or DEFAULT_PLATFORM
        self._gate = asyncio.Semaphore(metadata_concurrency)
        self._broken = dict(broken or {})
        self._unreachable = unreachable or UnreachableApis()

    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        """The listing, within the scan's deadline: the target's ``timeout`` (the file's
        ``spec.timeout``), else the registry settings' ``scanTimeout``. Past it the scan stops,
        whatever request or retry it was in, with :class:`RegistryUnavailable`."""
        problem = self._broken.get(target.repository)
        if problem is not None:
            raise RegistryError(problem)
        seconds = target.timeout
        if seconds is None:
            seconds = self._client.scan_timeout(target.image)
        deadline = asyncio.timeout(seconds)
        try:
            async with deadline:
                return await self._list(target, known)
        except TimeoutError:
            if not deadline.expired():
                raise
            raise RegistryUnavailable(deadline_exceeded(target.repository, seconds)) from None

    async def _list(self, target: ScanTarget, known: Mapping[str, TagInfo]) -> TagListing:
        listing = await self._client.list_tags(target.image)
        if not target.needs_metadata:
            return TagListing(tuple(TagInfo(name) for name in listing.tags), listing.requests)
        with counting_operation() as counter:
            async with asyncio.TaskGroup() as group:
                pushed_task = group.create_task(self._push_times(target.image))
                tasks = [
                    group.create_task(self._metadata(target.image, name, known.get(name)))
                    for name in listing.tags
                ]
        pushed = pushed_task.result()
        tags = tuple(_with_pushed(task.result(), pushed) for task in tasks)
        return TagListing(tags, listing.requests + counter.total)

    async def _push_times(self, image: ImageRef) -> dict[str, datetime]:
        """Push times from the registry's own API, once per scan; ``{}`` if it has none.

        A failure costs the push times only, never the scan: one warning names the image and
        the API (messages carry no credentials); the requests still count. An API that is
        unreachable (timeouts, 5xx after the retries) is skipped for a while (see
        :class:`UnreachableApis`), so a firewalled API costs one round of timeouts, not one per
        repository.
        """
        api = self._client.push_time_api(image)
        key = (api, image.registry)
        if self._unreachable.skips(key):
            return {}
        try:
            return await self._client.push_times(image)
        except RegistryUnavailable as exc:
            if self._unreachable.mark(key):
                log.warning(
                    "%s: scanning without push times (%s API unreachable; not asked again for "
                    "a while; pushTimeApi: none for %s stops asking): %s",
                    image.name, api, image.registry, exc,
                )  # fmt: skip
            return {}
        except RegistryError as exc:
            log.warning("%s: scanning without push times (%s API): %s", image.name, api, exc)
            return {}

    async def _metadata(self, image: ImageRef, tag: str, known: TagInfo | None) -> TagInfo:
        async with self._gate:
            digest = await self._client.head_digest(image, tag)
            if known is not None and known.digest == digest and known.created is not None:
                return TagInfo(tag, digest=digest, created=known.created, pushed=known.pushed)
            return TagInfo(tag, digest=digest, created=await self._created(image, digest))

    async def _created(self, image: ImageRef, digest: str) -> datetime | None:
        # None for an index without our platform: such tags order by first-seen.
        return await self._client.digest_created(image, digest, self._platform)


def _with_pushed(tag: TagInfo, pushed: Mapping[str, datetime]) -> TagInfo:
    """``tag`` with the API's push time, when it has one (else the stored one stays)."""
    when = pushed.get(tag.name)
    return tag if when is None else replace(tag, pushed=when)


@dataclass(slots=True)
class ClientSetup:
    """What a ``RegistryClient`` for a set of targets needs, and the hosts it cannot serve."""

    settings: RegistrySettings
    credentials: CredentialSource | None
    repository_credentials: dict[str, CredentialSource] = field(default_factory=dict)
    """repository → its own credentials (its ``secretRef``), asked before ``credentials``."""
    broken: dict[str, str] = field(default_factory=dict)
    """repository → why it cannot be scanned (a missing secret, ...)."""
    warnings: list[str] = field(default_factory=list)
    """Hints that could not all be honoured (conflicting ``certSecretRef`` on one host)."""


def client_setup(
    targets: Iterable[ScanTarget],
    *,
    base: RegistrySettings | None = None,
    secrets: SecretsDir | None = None,
    docker_config: DockerConfig | None = None,
    cloud: CloudCache | None = None,
) -> ClientSetup:
    """Settings and credentials for ``targets`` on top of ``base`` settings.

    A target's own secret is its repository's credential, before ``docker_config``; TLS
    secrets apply per host; a cloud provider as :func:`_add_cloud` says, its logins kept in
    ``cloud`` (default: the process-wide cache). A hint that cannot be honoured (a secret
    named without ``secrets``, a missing secret) fails that target's scans only.
    """
    targets = list(targets)
    setup = ClientSetup(base or RegistrySettings(), docker_config)
    loaded: dict[str, DockerConfig] = {}
    tls_from: dict[str, tuple[str, str]] = {}  # registry -> (certSecretRef, repository)
    for target in targets:
        registry = target.image.registry
        try:
            if target.secret_ref and target.provider in PROVIDERS:
                setup.warnings.append(
                    f"{target.repository}: secretRef {target.secret_ref!r} is not read: "
                    f"provider {target.provider} logs in with the cloud identity (as in Flux)"
                )
            elif target.secret_ref:
                name = target.secret_ref
                if name not in loaded:
                    loaded[name] = _secrets(secrets, name).docker_config(name)
                setup.repository_credentials[target.repository] = loaded[name]
            if target.cert_secret_ref:
                _apply_tls(
                    setup, target, target.cert_secret_ref, secrets=secrets, tls_from=tls_from
                )
        except RegistryError as exc:
            setup.broken[target.repository] = f"{target.repository}: {exc}"
        if target.insecure:
            setup.settings = setup.settings.with_host(registry, insecure=True)
    cache = cloud or shared_cloud_cache()
    for target in targets:  # the settings are complete now: the ACR exchange needs them
        if target.repository not in setup.broken:
            _add_cloud(setup, target, cache=cache)
    return setup


def _add_cloud(setup: ClientSetup, target: ScanTarget, *, cache: CloudCache) -> None:
    """``provider: aws|gcp|azure``: the cloud identity is the repository's credential.
    Unset on a cloud host: its own secret, then the docker config, then the cloud identity
    (``generic``, or any other host: nothing changes)."""
    repository = target.repository
    if target.provider in PROVIDERS:
        setup.repository_credentials[repository] = CloudCredentials(
            target.provider, cache=cache, settings=setup.settings
        )
    elif target.provider is None and detect_provider(target.image.registry) is not None:
        before = (setup.repository_credentials.get(repository), setup.credentials)
        chain = [source for source in before if source is not None]
        chain.append(CloudCredentials(None, cache=cache, settings=setup.settings))
        setup.repository_credentials[repository] = ChainedCredentials(chain)


def _apply_tls(
    setup: ClientSetup,
    target: ScanTarget,
    name: str,
    *,
    secrets: SecretsDir | None,
    tls_from: dict[str, tuple[str, str]],
) -> None:
    """Apply ``target``'s ``certSecretRef`` to its host, or warn that another one already is."""
    registry = target.image.registry
    first = tls_from.get(registry)
    if first is None:
        tls = _secrets(secrets, name).tls(name)
        setup.settings = setup.settings.with_host(registry, **_tls_changes(tls))
        tls_from[registry] = (name, target.repository)
    elif first[0] != name:
        setup.warnings.append(
            f"{registry}: {target.repository} names certSecretRef {name!r} but "
            f"{first[1]} names {first[0]!r}; TLS settings are per host, so {first[0]!r} "
            f"applies to both"
        )


def _tls_changes(tls: TlsFiles) -> dict[str, Path]:
    files = {"ca_file": tls.ca_file, "cert_file": tls.cert_file, "key_file": tls.key_file}
    return {name: path for name, path in files.items() if path is not None}


def _secrets(secrets: SecretsDir | None, name: str) -> SecretsDir:
    if secrets is None:
        raise RegistryError(f"secret {name!r} is named but no --secrets-dir was given")
    return secrets


@asynccontextmanager
async def open_registry_lister(
    targets: Sequence[ScanTarget],
    *,
    settings: RegistrySettings | None = None,
    secrets: SecretsDir | None = None,
    docker_config: DockerConfig | None = None,
    platform: Platform | None = None,
    transport_factory: TransportFactory | None = None,
    unreachable: UnreachableApis | None = None,
    cloud: CloudCache | None = None,
) -> AsyncIterator[RegistryTagLister]:
    """A registry-backed lister configured for ``targets``; the client closes on exit."""
    setup = client_setup(
        targets, base=settings, secrets=secrets, docker_config=docker_config, cloud=cloud
    )
    for warning in setup.warnings:
        log.warning("%s", warning)
    client = RegistryClient(
        settings=setup.settings,
        credentials=setup.credentials,
        repository_credentials=setup.repository_credentials,
        transport_factory=transport_factory,
    )
    async with client:
        yield RegistryTagLister(
            client, platform=platform, broken=setup.broken, unreachable=unreachable
        )
