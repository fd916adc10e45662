"""Tags for reconcile: scan with the registry client into the state store, read them back.

:class:`RegistryLister` is the production :class:`~image_automation.engine.scanning.TagLister`
(the registry client behind it). :class:`StoreTagSource` is reconcile's
:class:`~image_automation.engine.reconcile.TagSource`: it scans exactly the repositories of
the policies it is given (once each, through ``scan_repositories``, so first-seen times and
scan status land in the store) and returns the stored tags of every good scan; a failed scan
keeps nothing back from the caller but its error text.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime

from image_automation.config.loading import LoadResult
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import TagInfo
from image_automation.engine.reconcile import FoundTags
from image_automation.engine.scanning import ScanTarget, TagListing, scan_repositories
from image_automation.engine.targets import targets_from_config
from image_automation.registry import RegistryClient
from image_automation.state import StateStore

ClientFactory = Callable[[frozenset[str]], RegistryClient]
"""Builds a registry client; the argument holds the hosts to reach over plain HTTP."""


class RegistryLister:
    """Lists tags with a :class:`RegistryClient`; with metadata, digests and build times.

    A tag whose digest equals the stored one keeps its stored build time (no config fetch).
    """

    def __init__(self, client: RegistryClient) -> None:
        self._client = client

    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        before = self._client.requests
        listed = await self._client.list_tags(target.image)
        if not target.needs_metadata:
            tags = tuple(TagInfo(name=tag) for tag in listed.tags)
            return TagListing(tags=tags, requests=self._client.requests - before)
        infos = []
        for tag in listed.tags:
            digest = await self._client.head_digest(target.image, tag)
            seen = known.get(tag)
            if seen is not None and seen.digest == digest:
                infos.append(TagInfo(name=tag, digest=digest, created=seen.created))
                continue
            created = await self._client.image_created(target.image, tag)
            infos.append(TagInfo(name=tag, digest=digest, created=created))
        return TagListing(tags=tuple(infos), requests=self._client.requests - before)


class StoreTagSource:
    """Scan into ``store`` with a client from ``client_factory``; implements ``TagSource``."""

    def __init__(
        self,
        *,
        store: StateStore,
        client_factory: ClientFactory,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        concurrency: int = 8,
    ) -> None:
        self._store = store
        self._factory = client_factory
        self._clock = clock
        self._concurrency = concurrency

    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags:
        docs = list({id(p.repository): p.repository for p in policies}.values())
        found = targets_from_config(LoadResult(documents=docs), policies)
        plain = frozenset(t.image.api_host for t in found.targets if t.insecure)
        async with self._factory(plain) as client:
            reports = await scan_repositories(
                found.targets,
                lister=RegistryLister(client),
                store=self._store,
                clock=self._clock,
                concurrency=self._concurrency,
            )
        tags: dict[str, list[TagInfo]] = {}
        errors: dict[str, str] = {}
        for report in reports:
            if report.ok:
                tags[report.repository] = await self._store.tags(report.repository)
            else:
                errors[report.repository] = report.error or "scan failed"
        errors.update((problem, problem) for problem in found.problems)
        return FoundTags(tags=tags, errors=errors)


__all__ = ["ClientFactory", "RegistryLister", "StoreTagSource"]
