"""The production :class:`~image_automation.engine.scanning.TagLister`: the registry client.

Also turns the scan targets' hints (``secretRef``, ``certSecretRef``, ``insecure``) into the
client's per-host settings and credentials. The client works per registry host, so hints are
merged per host: the first target naming a secret for a host decides its credentials.

Metadata costs: one ``HEAD`` per tag for its digest; the manifest and config GETs only for a
digest not seen before (the store's last good scan, offered as ``known``, and the client's
in-memory caches are both keyed by digest, which is content-addressed and never stale).
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

from image_automation.domain import ImageRef, TagInfo
from image_automation.engine.scanning import ScanTarget, TagListing
from image_automation.errors import RegistryError
from image_automation.registry import (
    ChainedCredentials,
    Credential,
    CredentialSource,
    DockerConfig,
    Platform,
    RegistryClient,
    RegistrySettings,
    SecretsDir,
    TlsFiles,
)
from image_automation.registry.limits import counting_operation

DEFAULT_PLATFORM = Platform("linux", "amd64")


class RegistryTagLister:
    """Lists tags (and, when asked, digests and build times) through a ``RegistryClient``."""

    def __init__(
        self,
        client: RegistryClient,
        *,
        platform: Platform | None = None,
        metadata_concurrency: int = 16,
        broken: Mapping[str, str] | None = None,
    ) -> None:
        self._client = client
        self._platform = platform or DEFAULT_PLATFORM
        self._gate = asyncio.Semaphore(metadata_concurrency)
        self._broken = dict(broken or {})

    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        problem = self._broken.get(target.repository)
        if problem is not None:
            raise RegistryError(problem)
        listing = await self._client.list_tags(target.image)
        if not target.needs_metadata:
            return TagListing(tuple(TagInfo(name) for name in listing.tags), listing.requests)
        with counting_operation() as counter:
            async with asyncio.TaskGroup() as group:
                tasks = [
                    group.create_task(self._metadata(target.image, name, known.get(name)))
                    for name in listing.tags
                ]
        tags = tuple(task.result() for task in tasks)
        return TagListing(tags, listing.requests + counter.total)

    async def _metadata(self, image: ImageRef, tag: str, known: TagInfo | None) -> TagInfo:
        async with self._gate:
            digest = await self._client.head_digest(image, tag)
            if known is not None and known.digest == digest and known.created is not None:
                return TagInfo(tag, digest=digest, created=known.created, pushed=known.pushed)
            return TagInfo(tag, digest=digest, created=await self._created(image, digest))

    async def _created(self, image: ImageRef, digest: str) -> datetime | None:
        manifest = await self._client.get_manifest(image, digest)
        if manifest.is_index:
            child = manifest.platform_digest(self._platform)
            if child is None:
                return None  # no image for our platform: order such tags by first-seen
            manifest = await self._client.get_manifest(image, child)
        config_digest = manifest.config_digest
        if config_digest is None:
            return None
        created = (await self._client.get_config(image, config_digest)).get("created")
        return parse_created(created) if isinstance(created, str) else None


def parse_created(text: str) -> datetime | None:
    """An image config ``created`` (RFC 3339, Go's nanoseconds allowed) as aware UTC."""
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


@dataclass(slots=True)
class ClientSetup:
    """What a ``RegistryClient`` for a set of targets needs, and the hosts it cannot serve."""

    settings: RegistrySettings
    credentials: CredentialSource | None
    broken: dict[str, str] = field(default_factory=dict)
    """repository → why it cannot be scanned (a missing secret, ...)."""


@dataclass(frozen=True)
class _PerRegistry:
    """Credentials from each registry's own secret (``secretRef``)."""

    configs: Mapping[str, DockerConfig]

    async def credential_for(self, registry: str) -> Credential | None:
        config = self.configs.get(registry)
        return None if config is None else await config.credential_for(registry)


def client_setup(
    targets: Iterable[ScanTarget],
    *,
    base: RegistrySettings | None = None,
    secrets: SecretsDir | None = None,
    docker_config: DockerConfig | None = None,
) -> ClientSetup:
    """Per-host settings and credentials for ``targets`` on top of ``base`` settings.

    A target's own secret comes before ``docker_config``. A hint that cannot be honoured (a
    secret named without ``secrets``, a missing secret) fails that target's scans only.
    """
    settings = base or RegistrySettings()
    configs: dict[str, DockerConfig] = {}
    broken: dict[str, str] = {}
    tls_done: set[str] = set()
    for target in targets:
        registry = target.image.registry
        try:
            if target.secret_ref and registry not in configs:
                configs[registry] = _secrets(secrets, target.secret_ref).docker_config(
                    target.secret_ref
                )
            if target.cert_secret_ref and registry not in tls_done:
                tls = _secrets(secrets, target.cert_secret_ref).tls(target.cert_secret_ref)
                settings = settings.with_host(registry, **_tls_changes(tls))
                tls_done.add(registry)
        except RegistryError as exc:
            broken[target.repository] = f"{target.repository}: {exc}"
        if target.insecure:
            settings = settings.with_host(registry, insecure=True)
    sources: list[CredentialSource] = []
    if configs:
        sources.append(_PerRegistry(configs))
    if docker_config is not None:
        sources.append(docker_config)
    credentials = ChainedCredentials(sources) if sources else None
    return ClientSetup(settings, credentials, broken)


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
) -> AsyncIterator[RegistryTagLister]:
    """A registry-backed lister configured for ``targets``; the client closes on exit."""
    setup = client_setup(targets, base=settings, secrets=secrets, docker_config=docker_config)
    async with RegistryClient(settings=setup.settings, credentials=setup.credentials) as client:
        yield RegistryTagLister(client, platform=platform, broken=setup.broken)
