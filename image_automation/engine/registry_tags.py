"""Tags for reconcile: scan with the registry client into the state store, read them back.

:class:`StoreTagSource` is reconcile's :class:`~image_automation.engine.reconcile.TagSource`:
it scans exactly the repositories of the policies it is given (once each, through
``scan_repositories`` and the registry-backed lister, so first-seen times and scan status
land in the store) and returns the stored tags of every good scan; a failed scan gives the
caller only its error text. Repository hints configure the client (:mod:`.registry_lister`):
``secretRef`` per repository, ``certSecretRef`` and ``insecure`` per host.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from datetime import UTC, datetime

from image_automation.config.loading import LoadResult
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import TagInfo
from image_automation.engine.reconcile import FoundTags
from image_automation.engine.registry_lister import open_registry_lister
from image_automation.engine.scanning import scan_repositories
from image_automation.engine.targets import targets_from_config
from image_automation.registry import DockerConfig, RegistrySettings, SecretsDir
from image_automation.state import StateStore


class StoreTagSource:
    """Scan into ``store`` through the registry client; implements ``TagSource``."""

    def __init__(
        self,
        *,
        store: StateStore,
        settings: RegistrySettings | None = None,
        secrets: SecretsDir | None = None,
        docker_config: DockerConfig | None = None,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        concurrency: int = 8,
    ) -> None:
        self._store = store
        self._settings = settings
        self._secrets = secrets
        self._docker_config = docker_config
        self._clock = clock
        self._concurrency = concurrency

    async def scan(self, policies: Sequence[ResolvedPolicy], *, now: datetime) -> FoundTags:
        docs = list({id(p.repository): p.repository for p in policies}.values())
        found = targets_from_config(LoadResult(documents=docs), policies)
        async with open_registry_lister(
            found.targets,
            settings=self._settings,
            secrets=self._secrets,
            docker_config=self._docker_config,
        ) as lister:
            reports = await scan_repositories(
                found.targets,
                lister=lister,
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


__all__ = ["StoreTagSource"]
