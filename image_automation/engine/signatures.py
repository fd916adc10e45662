"""The signature gate: a policy with ``verify`` only lets a signed tag win.

Cheap by design: selection runs first; only the tag that would win is looked up, and if its
digest carries no valid signature by the policy's keys it is refused with the reason and
selection runs again without it, newest first, until a signed tag wins (or
:data:`MAX_LOOKUPS` candidates were refused). Verdicts are kept in the state store per
(digest, key set): a valid one forever — a signature over a digest never stops being valid
for a key — so a steady state costs no registry request; a refusal is looked at again after
:data:`RECHECK`, since a signature may be pushed after its image.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from contextlib import asynccontextmanager
from datetime import datetime, timedelta
from pathlib import Path

from image_automation.config.loading import LoadResult
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Decision, TagInfo
from image_automation.engine._pr_content import RegistryAccess
from image_automation.engine.deciding import decide
from image_automation.engine.registry_lister import client_setup
from image_automation.engine.targets import targets_from_config
from image_automation.errors import ConfigError, ImageAutomationError
from image_automation.policy import refuse
from image_automation.registry import RegistryClient
from image_automation.registry.signatures import KeySet, check_signatures
from image_automation.state import SignatureVerdict, StateStore

log = logging.getLogger(__name__)

MAX_LOOKUPS = 10
"""Candidates refused per selection at most, before the policy selects nothing."""
OFFLINE_UNKNOWN = "signature: not verified yet (no stored verdict; --scan looks it up)"
"""Why a tag is refused when only stored verdicts may answer and none is stored."""
RECHECK = timedelta(minutes=30)
"""How old a refusal may be before the digest is looked at again."""


class SignatureChecker:
    """Verifies winners for policies with ``verify``; ``client`` reaches their registries."""

    def __init__(
        self, *, client: RegistryClient, store: StateStore, secrets_dir: Path | None,
        offline: bool = False, whole_lists: bool = False,
    ) -> None:  # fmt: skip
        self._client = client
        self._store = store
        self._secrets_dir = secrets_dir
        self._offline = offline
        """Answer from stored verdicts only (``explain`` from the state store)."""
        self._whole_lists = whole_lists
        """The tags given to :meth:`decide` are the repository's whole last scan, so a
        signature tag missing from them needs no request to know it is missing."""
        self.lookups = 0
        """Digests looked up in the registry (not answered by the store)."""

    def keys(self, policy: ResolvedPolicy) -> KeySet:
        verify = policy.verify
        assert verify is not None and verify.secret_ref is not None
        name = verify.secret_ref.name
        if self._secrets_dir is None:
            raise ConfigError(f"policy {policy.key}: verify secret {name!r} needs --secrets-dir")
        folder = self._secrets_dir / name
        try:
            files = sorted(p for p in folder.iterdir() if p.name.endswith(".pub"))
            pems = [p.read_bytes()[:65536] for p in files]
        except OSError as exc:
            raise ConfigError(
                f"policy {policy.key}: verify secret {folder}: {exc.strerror}"
            ) from exc
        return KeySet.from_pem(pems)

    async def decide(
        self, policy: ResolvedPolicy, tags: Sequence[TagInfo | str], *, now: datetime
    ) -> Decision:
        decision = decide(policy.spec, tags, now=now)
        if policy.verify is None:
            return decision
        try:
            keys = self.keys(policy)
        except ConfigError as exc:
            return Decision(policy=policy.spec.name, tag=None, reasons=(str(exc),))
        infos = [t if isinstance(t, TagInfo) else TagInfo(t) for t in tags]
        refused: dict[str, str] = {}
        listed = frozenset(t.name for t in infos) if self._whole_lists else None
        for _ in range(MAX_LOOKUPS):
            if decision.tag is None:
                break
            why = await self._refusal(policy, decision, keys, now=now, listed=listed)
            if why is None:
                return refuse(decision, refused)
            refused[decision.tag] = why
            log.info("policy %s: %s refused: %s", policy.key, decision.tag, why)
            decision = decide(policy.spec, [t for t in infos if t.name not in refused], now=now)
        decision = refuse(decision, refused)
        if decision.tag is not None:  # the lookups ran out before a signed tag won
            reason = f"no signed tag among the {MAX_LOOKUPS} newest candidates"
            skipped = {**decision.skipped, **decision.lost}
            return Decision(policy=decision.policy, tag=None, considered=decision.considered,
                            skipped=skipped, reasons=(reason,))  # fmt: skip
        return decision

    async def _refusal(
        self, policy: ResolvedPolicy, decision: Decision, keys: KeySet, *, now: datetime,
        listed: frozenset[str] | None = None,
    ) -> str | None:  # fmt: skip
        assert decision.tag is not None
        digest = decision.digest
        if self._offline:
            return await self._stored_refusal(digest, keys)
        try:
            if digest is None:
                digest = await self._client.head_digest(policy.image, decision.tag)
            cached = await self._store.signature_verdict(digest, keys.id)
            if cached is not None and (cached.valid or now - cached.checked_at < RECHECK):
                verdict_ok, reason = cached.valid, cached.reason
            else:
                self.lookups += 1
                found = await check_signatures(
                    self._client, policy.image, digest, keys, tags=listed
                )
                verdict_ok, reason = found.valid, found.reason
                await self._store.save_signature_verdict(
                    SignatureVerdict(digest, keys.id, found.valid, found.reason, now)
                )
        except ImageAutomationError as exc:
            return f"signature check failed: {exc}"
        return None if verdict_ok else f"signature: {reason} ({digest[:19]})"

    async def _stored_refusal(self, digest: str | None, keys: KeySet) -> str | None:
        """The stored verdict's refusal, whatever its age; no verdict is a refusal too."""
        cached = await self._store.signature_verdict(digest, keys.id) if digest else None
        if digest is None or cached is None:
            return OFFLINE_UNKNOWN
        return None if cached.valid else f"signature: {cached.reason} ({digest[:19]})"


@asynccontextmanager
async def open_checker(
    access: RegistryAccess | None,
    policies: Sequence[ResolvedPolicy],
    *,
    store: StateStore | None,
    secrets_dir: Path | None,
    offline: bool = False,
) -> AsyncIterator[SignatureChecker | None]:
    """A checker for ``policies`` that verify (``None`` when none does, or no registry
    access or store is at hand: such a policy then selects nothing, saying why). Its
    callers give it each repository's whole stored scan."""
    verifying = [p for p in policies if p.verify is not None]
    if not verifying or access is None or store is None:
        yield None
        return
    docs = list({id(p.repository): p.repository for p in verifying}.values())
    targets = targets_from_config(LoadResult(documents=docs), verifying).targets
    setup = client_setup(
        targets, base=access.settings, secrets=access.secrets, docker_config=access.docker_config
    )
    client = RegistryClient(
        settings=setup.settings,
        credentials=setup.credentials,
        repository_credentials=setup.repository_credentials,
    )
    async with client:
        yield SignatureChecker(
            client=client, store=store, secrets_dir=secrets_dir, offline=offline,
            whole_lists=True,
        )  # fmt: skip


async def decide_gated(
    checker: SignatureChecker | None,
    policy: ResolvedPolicy,
    tags: Sequence[TagInfo | str],
    *,
    now: datetime,
) -> Decision:
    """The policy's decision with the signature gate when it verifies."""
    if policy.verify is None:
        return decide(policy.spec, tags, now=now)
    if checker is None:
        why = "signature verification needs registry access and a state store here"
        return Decision(policy=policy.spec.name, tag=None, reasons=(why,))
    return await checker.decide(policy, tags, now=now)


__all__ = [
    "MAX_LOOKUPS",
    "OFFLINE_UNKNOWN",
    "RECHECK",
    "SignatureChecker",
    "decide_gated",
    "open_checker",
]
