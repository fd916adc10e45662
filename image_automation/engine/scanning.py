"""Scan every image repository the policy files name and keep the results in the state store.

The scanner lists tags and stores them; it selects nothing (that is the policy layer's job).
Repositories shared by several ``ImageRepository`` objects are scanned once. A failed scan
keeps the last good tag set and records the error. Listing itself — HTTP, auth, per-host
politeness — belongs to a :class:`TagLister` (the registry client in production).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Protocol

from image_automation.domain import ImageRef, TagInfo, redact
from image_automation.errors import ImageAutomationError, StateError, TemporaryError
from image_automation.state import StateStore

MAX_ERROR_CHARS = 2000
"""Stored error text is cut to this many characters."""


@dataclass(frozen=True, slots=True)
class ScanTarget:
    """One repository to scan and what the listing needs to reach it.

    ``needs_metadata`` asks for digests and created/pushed times (policies ordering by build
    time, following a tag, or a minimum age measured by timestamps). ``secret_ref`` and
    ``cert_secret_ref`` name Kubernetes Secrets (mounted as files) holding credentials and
    TLS material; ``timeout`` bounds one scan, in seconds (``None``: the lister's default,
    the registry settings' ``scanTimeout`` for the registry lister). ``provider`` is the
    file's ``provider`` (``aws``, ``gcp``, ``azure``: log in with the cloud identity;
    ``generic``: never; ``None``: unset, the cloud identity only for a cloud host).
    """

    image: ImageRef
    needs_metadata: bool = False
    secret_ref: str | None = None
    cert_secret_ref: str | None = None
    insecure: bool = False
    timeout: float | None = None
    provider: str | None = None

    @property
    def repository(self) -> str:
        """The normalised repository name the store files results under."""
        return self.image.name


@dataclass(frozen=True, slots=True)
class TagListing:
    """What one listing returned: the tags and the number of HTTP requests it took."""

    tags: tuple[TagInfo, ...]
    requests: int = 0


class TagLister(Protocol):
    """Lists a repository's tags; raises ``RegistryError``/``RegistryUnavailable`` on failure.

    With ``target.needs_metadata`` the tags carry digest and created/pushed times where the
    registry has them; otherwise names suffice. ``first_seen`` is the store's, not the lister's.
    ``known`` holds the stored tags of the last good scan when metadata is wanted (empty
    otherwise): a tag whose digest is unchanged can reuse its stored times instead of
    fetching the image config again.
    """

    async def list_tags(
        self, target: ScanTarget, *, known: Mapping[str, TagInfo]
    ) -> TagListing: ...


@dataclass(frozen=True, slots=True)
class ScanReport:
    """The outcome of scanning one repository.

    ``tag_count`` is what the store holds afterwards: on failure, the last good count.
    ``retry_after`` is the delay a temporary failure suggested, in seconds.
    """

    repository: str
    ok: bool
    tag_count: int
    requests: int = 0
    added: tuple[str, ...] = ()
    removed: tuple[str, ...] = ()
    error: str | None = None
    retry_after: float | None = None


def merge_targets(targets: Iterable[ScanTarget]) -> list[ScanTarget]:
    """One target per repository, sorted by name.

    Metadata is fetched if any user needs it; the first non-empty secret and CA reference win
    (in input order), and so does the first provider set; ``insecure`` if any asks; the
    longest timeout any of them names (``None``, the default deadline, when none names one).
    """
    merged: dict[str, ScanTarget] = {}
    for target in targets:
        seen = merged.get(target.repository, target)
        timeouts = [t for t in (seen.timeout, target.timeout) if t is not None]
        merged[target.repository] = ScanTarget(
            image=target.image.with_tag(None),
            needs_metadata=seen.needs_metadata or target.needs_metadata,
            secret_ref=seen.secret_ref or target.secret_ref,
            cert_secret_ref=seen.cert_secret_ref or target.cert_secret_ref,
            insecure=seen.insecure or target.insecure,
            timeout=max(timeouts, default=None),
            provider=seen.provider or target.provider,
        )
    return [merged[name] for name in sorted(merged)]


async def scan_repositories(
    targets: Iterable[ScanTarget],
    *,
    lister: TagLister,
    store: StateStore,
    clock: Callable[[], datetime],
    concurrency: int = 8,
    on_report: Callable[[ScanReport], None] | None = None,
) -> list[ScanReport]:
    """Scan each repository once, at most ``concurrency`` at a time; reports sorted by name.

    ``clock`` gives the time stamped on each result (first-seen of new tags). ``on_report``
    is called as each repository finishes (progress display). A registry failure becomes a
    failed report; a ``StateError`` stops the whole scan, because nothing can be kept. A
    target's ``timeout`` is a deadline for its scan alone (the others go on); the registry
    lister also applies its default deadline to targets without one.
    """
    if concurrency < 1:
        raise ValueError(f"concurrency must be at least 1, got {concurrency}")
    gate = asyncio.Semaphore(concurrency)

    async def one(target: ScanTarget) -> ScanReport:
        report = await _scan_one(target, lister=lister, store=store, clock=clock, gate=gate)
        if on_report is not None:
            on_report(report)
        return report

    try:
        async with asyncio.TaskGroup() as group:
            tasks = [group.create_task(one(target)) for target in merge_targets(targets)]
    except ExceptionGroup as failed:
        # Only store errors (or bugs in callbacks) escape _scan_one; surface the first as is,
        # keeping its own cause (the sqlite error behind a StateError).
        raise failed.exceptions[0]  # noqa: B904
    return [task.result() for task in tasks]


async def _scan_one(
    target: ScanTarget,
    *,
    lister: TagLister,
    store: StateStore,
    clock: Callable[[], datetime],
    gate: asyncio.Semaphore,
) -> ScanReport:
    repository = target.repository
    known: dict[str, TagInfo] = {}
    if target.needs_metadata:
        known = {tag.name: tag for tag in await store.tags(repository)}
    async with gate:
        try:
            async with asyncio.timeout(target.timeout):
                listing = await lister.list_tags(target, known=known)
        except Exception as exc:
            error, retry_after = describe_failure(exc, target)
            requests = int(getattr(exc, "requests", 0) or 0)
            await store.record_failure(repository, error, now=clock(), requests=requests)
            status = await store.scan_status(repository)
            return ScanReport(
                repository=repository,
                ok=False,
                tag_count=status.tag_count if status else 0,
                requests=requests,
                error=error,
                retry_after=retry_after,
            )
    diff = await store.replace_tags(
        repository, listing.tags, now=clock(), requests=listing.requests
    )
    return ScanReport(
        repository=repository,
        ok=True,
        tag_count=diff.count,
        requests=listing.requests,
        added=diff.added,
        removed=diff.removed,
    )


def deadline_exceeded(repository: str, seconds: float) -> str:
    """The error of a scan cut at its deadline: one wording whoever enforced it."""
    return (
        f"scan of {repository} exceeded its deadline of {seconds:g}s (the ImageRepository's "
        "spec.timeout, else scanTimeout in the registry settings)"
    )


def describe_failure(exc: Exception, target: ScanTarget) -> tuple[str, float | None]:
    """The error text to store (credential-free, bounded) and the suggested retry delay."""
    if isinstance(exc, TimeoutError) and target.timeout is not None:
        text = deadline_exceeded(target.repository, target.timeout)
    elif isinstance(exc, ImageAutomationError):
        text = str(exc) or type(exc).__name__
    else:  # a bug or an untranslated library error: say what it was
        text = f"unexpected {type(exc).__name__}: {exc}"
    retry_after = exc.delay if isinstance(exc, TemporaryError) else None
    text = redact(text)
    if len(text) > MAX_ERROR_CHARS:
        text = text[: MAX_ERROR_CHARS - 1] + "…"
    return text, retry_after


async def tags_for(store: StateStore, image: str | ImageRef) -> list[TagInfo]:
    """The stored tags of ``image``'s repository (last good scan), for policy selection.

    ``image`` may be any reference form (``nginx``, ``ghcr.io/a/b:1``); it is normalised.
    Raises ``StateError`` when the repository has no successful scan, so a caller does not
    mistake "never scanned" for "no tags".
    """
    ref = image if isinstance(image, ImageRef) else ImageRef.parse(image)
    status = await store.scan_status(ref.name)
    if status is None or status.last_success is None:
        detail = f" (last error: {status.last_error})" if status and status.last_error else ""
        raise StateError(
            f"no successful scan of {ref.name} in the state store{detail}; "
            "run `image-automation scan --policies DIR` first"
        )
    return await store.tags(ref.name)


__all__ = [
    "MAX_ERROR_CHARS",
    "ScanReport",
    "ScanTarget",
    "TagLister",
    "TagListing",
    "deadline_exceeded",
    "describe_failure",
    "merge_targets",
    "scan_repositories",
    "tags_for",
]
