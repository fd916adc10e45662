"""Which credential each repository sends, looked up once and renewed when refused.

A repository's own source (its ``secretRef``, or its cloud provider) is asked first, then the
shared sources (the docker config), once per registry: a credential helper is a subprocess,
and concurrent first requests wait for the one lookup. ``key`` is the registry, or a mirror's
own host. A credential a registry refused is dropped everywhere once a source says it can
renew it (a cloud login), so the next lookup asks again.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping

from image_automation.registry.credentials import (
    Credential,
    CredentialSource,
    forget_credential,
)


class CredentialLookup:
    """Per client: repository → its credential; registry → the shared sources' answer."""

    def __init__(
        self, *, shared: CredentialSource | None, own: Mapping[str, CredentialSource]
    ) -> None:
        self._sources = shared
        self._own = own
        self._shared: dict[str, Credential | None] = {}  # registry -> shared answer
        self._shared_locks: dict[str, asyncio.Lock] = {}  # registry -> its first lookup
        self._resolved: dict[str, Credential | None] = {}  # repository -> its credential

    async def credential(self, repository: str, key: str) -> Credential | None:
        """The repository's own credential, else the shared one (``None``: anonymous)."""
        if repository in self._resolved:
            return self._resolved[repository]
        found: Credential | None = None
        own = self._own.get(repository)
        if own is not None:
            found = await own.credential_for(key)
        if found is None:
            found = await self._shared_credential(key)
        self._resolved[repository] = found
        return found

    async def _shared_credential(self, registry: str) -> Credential | None:
        """Asked once per registry; a lookup that raises stores nothing, so the next request
        asks again."""
        if registry not in self._shared:
            async with self._shared_locks.setdefault(registry, asyncio.Lock()):
                if registry not in self._shared:  # else a request we waited for asked
                    found = None
                    if self._sources is not None:
                        found = await self._sources.credential_for(registry)
                    self._shared[registry] = found
        return self._shared[registry]

    async def renew(self, repository: str, key: str, stale: Credential) -> bool:
        """``stale`` was refused: tell its sources; True when one can renew it. Sources of
        fixed credentials cannot, and the refusal stands."""
        renewable = False
        for source in (self._own.get(repository), self._sources):
            if source is not None:
                renewable = await forget_credential(source, key, stale) or renewable
        if renewable:
            for cache in (self._resolved, self._shared):
                for name in [k for k, cred in cache.items() if cred == stale]:
                    del cache[name]
        return renewable
