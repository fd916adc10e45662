"""The OCI distribution API client: tags, digests, manifests, image configs.

Cheap by design: a tag list costs one request per page; a digest one ``HEAD``; manifests and
configs are fetched only when asked for and cached by digest (content-addressed, never stale).
Every page is read, because GHCR and Quay list tags oldest-first.
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from image_automation.domain import ImageRef, invalid_tags
from image_automation.errors import RegistryError
from image_automation.registry._http import (
    Endpoint,
    Http,
    Reply,
    TransportFactory,
    check_pages,
    link_next,
    load_json,
)
from image_automation.registry._push_times import fetch_push_times, push_time_api
from image_automation.registry.credentials import CredentialSource
from image_automation.registry.limits import Clock, SystemClock, counting_operation
from image_automation.registry.settings import RegistrySettings, ResolvedPushTimeApi

OCI_INDEX = "application/vnd.oci.image.index.v1+json"
OCI_MANIFEST = "application/vnd.oci.image.manifest.v1+json"
DOCKER_LIST = "application/vnd.docker.distribution.manifest.list.v2+json"
DOCKER_MANIFEST = "application/vnd.docker.distribution.manifest.v2+json"
MANIFEST_ACCEPT = ", ".join((OCI_INDEX, OCI_MANIFEST, DOCKER_LIST, DOCKER_MANIFEST))
INDEX_TYPES = frozenset({OCI_INDEX, DOCKER_LIST})


@dataclass(frozen=True, slots=True)
class TagList:
    """Every tag of a repository. ``requests`` counts the HTTP requests this listing made."""

    image: str
    tags: tuple[str, ...]
    dropped_invalid: int
    requests: int
    pages: int


@dataclass(frozen=True, slots=True)
class Platform:
    """``os/architecture[/variant]``, e.g. ``linux/arm64/v8``."""

    os: str
    architecture: str
    variant: str | None = None

    @classmethod
    def parse(cls, text: str) -> Platform:
        parts = text.split("/")
        if len(parts) not in (2, 3) or not all(parts):
            raise ValueError(f"platform {text!r} is not os/arch[/variant]")
        return cls(parts[0], parts[1], parts[2] if len(parts) == 3 else None)

    def __str__(self) -> str:
        return "/".join(p for p in (self.os, self.architecture, self.variant) if p)


DEFAULT_PLATFORM = Platform("linux", "amd64")


@dataclass(frozen=True, slots=True)
class Manifest:
    """A manifest or index as served, with its content digest."""

    digest: str
    media_type: str
    data: dict[str, Any]

    @property
    def is_index(self) -> bool:
        return self.media_type in INDEX_TYPES or "manifests" in self.data

    @property
    def config_digest(self) -> str | None:
        config = self.data.get("config")
        return config.get("digest") if isinstance(config, dict) else None

    def platform_digest(self, platform: Platform) -> str | None:
        """The digest of the index entry for ``platform`` (variant ignored when unset)."""
        for entry in self.data.get("manifests") or []:
            p = entry.get("platform") or {}
            if (p.get("os"), p.get("architecture")) != (platform.os, platform.architecture):
                continue
            if platform.variant and p.get("variant") != platform.variant:
                continue
            digest = entry.get("digest")
            return digest if isinstance(digest, str) else None
        return None


def _as_ref(ref: ImageRef | str) -> ImageRef:
    return ref if isinstance(ref, ImageRef) else ImageRef.parse(ref)


def parse_created(text: str) -> datetime | None:
    """An image config ``created`` (RFC 3339, Go's nanoseconds allowed) as aware UTC."""
    # Go writes nanoseconds; Python takes at most microseconds.
    cleaned = re.sub(r"(\.\d{6})\d+", r"\1", text.strip()).replace("Z", "+00:00")
    try:
        when = datetime.fromisoformat(cleaned)
    except ValueError:
        return None
    return when.astimezone(UTC) if when.tzinfo else when.replace(tzinfo=UTC)


class RegistryClient:
    """Async registry client; use as ``async with RegistryClient(...) as client``.

    ``credentials`` answer for every repository; ``repository_credentials`` (keyed by
    ``registry/repository``, e.g. an ImageRepository's own ``secretRef``) are asked first for
    their repository, so repositories sharing a host may each use their own credentials.
    ``transport`` replaces the network for every host (tests pass ``httpx.MockTransport``);
    otherwise one transport per TLS profile is made by ``transport_factory``.
    """

    def __init__(
        self,
        *,
        settings: RegistrySettings | None = None,
        credentials: CredentialSource | None = None,
        repository_credentials: Mapping[str, CredentialSource] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
        transport_factory: TransportFactory | None = None,
        clock: Clock | None = None,
        rng: random.Random | None = None,
    ) -> None:
        self._http = Http(
            settings=settings or RegistrySettings(),
            credentials=credentials,
            repository_credentials={
                _as_ref(name).name: source
                for name, source in (repository_credentials or {}).items()
            },
            transport=transport,
            transport_factory=transport_factory,
            clock=clock or SystemClock(),
            rng=rng or random.Random(),
        )
        self._manifests: dict[str, Manifest] = {}
        self._no_referrers_api: set[str] = set()
        """Hosts whose ``/referrers`` answered 404: their referrers are read from the
        tag-schema fallback without asking the API again (a registry does not grow the API
        while we run, and asking costs a request per digest)."""
        self._configs: dict[str, dict[str, Any]] = {}

    async def __aenter__(self) -> RegistryClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()

    async def aclose(self) -> None:
        await self._http.aclose()

    @property
    def requests(self) -> int:
        """HTTP requests made so far by this client (token requests and retries included)."""
        return self._http.counter.total

    async def _get(self, method: str, ep: Endpoint, url: str, *, accept: str, what: str) -> Reply:
        headers = {"Accept": accept}
        reply = await self._http.request(method, ep, url, headers=headers, what=what)
        if reply.status in (401, 403):
            raise RegistryError(
                f"{ep.image}: {what} refused by {ep.host} (HTTP {reply.status}): "
                "check the credentials for this registry"
            )
        if reply.status == 404:
            code = _error_code(reply.body)
            raise RegistryError(f"{ep.image}: {what}: not found on {ep.host} ({code or 404})")
        if reply.status != 200:
            raise RegistryError(f"{ep.image}: {what}: unexpected HTTP {reply.status}")
        return reply

    def scan_timeout(self, ref: ImageRef | str) -> float:
        """Seconds a whole scan of ``ref``'s repository may take (setting ``scanTimeout``)."""
        return self._http.endpoint(_as_ref(ref)).settings.scan_timeout

    def push_time_api(self, ref: ImageRef | str) -> ResolvedPushTimeApi:
        """Which API serves push times for ``ref`` (setting ``pushTimeApi``, ``auto`` resolved)."""
        return push_time_api(self._http, _as_ref(ref))

    async def push_times(self, ref: ImageRef | str) -> dict[str, datetime]:
        """``{tag: push time}`` for ``ref``'s repository from its vendor API, every page.

        Empty, with no request made, when the registry exposes none (``pushTimeApi: none``,
        the ``auto`` default for hosts other than docker.io and quay.io). Raises
        :class:`RegistryError` or :class:`RegistryUnavailable` like the other requests;
        callers that can do without push times catch them.
        """
        return await fetch_push_times(self._http, _as_ref(ref))

    async def list_tags(self, ref: ImageRef | str) -> TagList:
        """All tags of ``ref``'s repository, every page; invalid tags dropped and counted."""
        image = _as_ref(ref)
        ep = self._http.endpoint(image)
        size = ep.settings.page_size
        url = f"{ep.base}/v2/{ep.name}/tags/list" + (f"?n={size}" if size else "")
        tags: dict[str, None] = {}  # ordered set: first page first
        pages = 0
        with counting_operation() as counter:
            while url:
                pages += 1
                check_pages(
                    pages, ep, max_pages=ep.settings.max_pages, what="tags", hint="raise maxPages"
                )
                reply = await self._get("GET", ep, url, accept="application/json", what="tags")
                page = _tags_page(reply.body, ep)
                before = len(tags)
                tags.update(dict.fromkeys(page))
                if pages > 1 and len(tags) == before:
                    break  # a registry that ignores `last` would loop forever
                url = _next_page(reply, ep, page, size)
        valid = _valid_tags(list(tags))
        return TagList(ep.image, valid, len(tags) - len(valid), counter.total, pages)

    async def head_digest(self, ref: ImageRef | str, tag: str) -> str:
        """The manifest digest ``tag`` points at: one HEAD (a GET if the header is missing)."""
        image = _as_ref(ref)
        ep = self._http.endpoint(image)
        url = f"{ep.base}/v2/{ep.name}/manifests/{quote(tag, safe='')}"
        reply = await self._get("HEAD", ep, url, accept=MANIFEST_ACCEPT, what=f"tag {tag}")
        digest: str = reply.headers.get("docker-content-digest", "")
        if digest:
            return digest
        return (await self.get_manifest(image, tag)).digest

    async def get_manifest(self, ref: ImageRef | str, reference: str) -> Manifest:
        """The manifest for a tag or digest; by-digest results are cached for good."""
        cached = self._manifests.get(reference)
        if cached is not None:
            return cached
        reply, digest, data = await self._get_verified(
            _as_ref(ref),
            f"manifests/{quote(reference, safe=':')}",
            reference,
            accept=MANIFEST_ACCEPT,
            what=f"manifest {reference}",
            kind="manifest",
        )
        media_type = str(data.get("mediaType") or reply.headers.get("content-type", ""))
        manifest = Manifest(digest, media_type.split(";")[0].strip(), data)
        self._manifests[digest] = manifest
        return manifest

    async def get_config(self, ref: ImageRef | str, digest: str) -> dict[str, Any]:
        """The image config blob ``digest`` (cached; blobs are immutable)."""
        cached = self._configs.get(digest)
        if cached is not None:
            return cached
        _, _, config = await self._get_verified(
            _as_ref(ref),
            f"blobs/{digest}",
            digest,
            accept="*/*",
            what=f"config {digest}",
            kind="config blob",
        )
        self._configs[digest] = config
        return config

    async def referrers(
        self, ref: ImageRef | str, digest: str, *, fallback: bool | None = None
    ) -> list[dict[str, Any]]:
        """The OCI 1.1 referrers of manifest ``digest``: the referrers API, or — on a registry
        without it (404) — the tag-schema fallback index ``sha256-<hex>``; ``[]`` for none.

        ``fallback``: whether the fallback tag exists, when the caller knows from a tag list
        (``True``: read it without asking the API; ``False``: no index to read if the API
        has none); ``None``: unknown, ask."""
        image = _as_ref(ref)
        ep = self._http.endpoint(image)
        if fallback is True or (fallback is None and ep.base in self._no_referrers_api):
            return await self._fallback_referrers(image, digest)
        if fallback is False and ep.base in self._no_referrers_api:
            return []
        url = f"{ep.base}/v2/{ep.name}/referrers/{digest}"
        reply = await self._http.request(
            "GET", ep, url, headers={"Accept": OCI_INDEX}, what=f"referrers of {digest}"
        )
        if reply.status == 200 and reply.headers.get("content-type", "").startswith(OCI_INDEX):
            return _entries(_json_object(reply.body, ep, f"referrers of {digest}"))
        if reply.status in (200, 404):
            self._no_referrers_api.add(ep.base)
            return [] if fallback is False else await self._fallback_referrers(image, digest)
        await self._get("GET", ep, url, accept=OCI_INDEX, what=f"referrers of {digest}")
        return []

    async def _fallback_referrers(self, image: ImageRef, digest: str) -> list[dict[str, Any]]:
        try:
            index = (await self.get_manifest(image, digest.replace(":", "-", 1))).data
        except RegistryError as exc:
            if "not found" in str(exc):
                return []
            raise
        return _entries(index)

    async def get_blob(self, ref: ImageRef | str, digest: str) -> bytes:
        """The blob ``digest`` (checked against its digest; size capped by maxBodyBytes)."""
        image = _as_ref(ref)
        ep = self._http.endpoint(image)
        url = f"{ep.base}/v2/{ep.name}/blobs/{digest}"
        reply = await self._get("GET", ep, url, accept="*/*", what=f"blob {digest}")
        got = "sha256:" + hashlib.sha256(reply.body).hexdigest()
        if got != digest:
            raise RegistryError(f"{ep.image}: blob {digest} has digest {got}")
        return reply.body

    async def _get_verified(
        self, image: ImageRef, path: str, reference: str, *, accept: str, what: str, kind: str
    ) -> tuple[Reply, str, dict[str, Any]]:
        """GET ``path`` under the repository: the reply, its body's digest, its JSON object.

        A ``reference`` that is a sha256 digest must match the body (content addressing is
        what makes the caches safe); ``kind`` names the object in that error.
        """
        ep = self._http.endpoint(image)
        url = f"{ep.base}/v2/{ep.name}/{path}"
        reply = await self._get("GET", ep, url, accept=accept, what=what)
        digest = "sha256:" + hashlib.sha256(reply.body).hexdigest()
        if reference.startswith("sha256:") and digest != reference:
            raise RegistryError(f"{ep.image}: {kind} {reference} has digest {digest}")
        return reply, digest, _json_object(reply.body, ep, what)

    async def image_created(
        self, ref: ImageRef | str, tag: str, platform: Platform | None = None
    ) -> datetime | None:
        """The config ``created`` time of ``tag`` (an index resolves to ``platform``)."""
        image = _as_ref(ref)
        digest = await self.head_digest(image, tag)
        wanted = platform or DEFAULT_PLATFORM
        manifest = await self._platform_manifest(image, digest, wanted)
        if manifest is None:
            raise RegistryError(f"{image.name}:{tag}: no manifest for platform {wanted}")
        return await self._config_created(image, manifest)

    async def digest_created(
        self, ref: ImageRef | str, digest: str, platform: Platform | None = None
    ) -> datetime | None:
        """The config ``created`` time of the manifest ``digest`` (an index resolves to
        ``platform``); ``None`` when it has none, or the index has no entry for ``platform``."""
        image = _as_ref(ref)
        manifest = await self._platform_manifest(image, digest, platform or DEFAULT_PLATFORM)
        return None if manifest is None else await self._config_created(image, manifest)

    async def _platform_manifest(
        self, image: ImageRef, digest: str, platform: Platform
    ) -> Manifest | None:
        """The manifest ``digest``, an index resolved to its ``platform`` entry (else None)."""
        manifest = await self.get_manifest(image, digest)
        if manifest.is_index:
            child = manifest.platform_digest(platform)
            if child is None:
                return None
            manifest = await self.get_manifest(image, child)
        return manifest

    async def _config_created(self, image: ImageRef, manifest: Manifest) -> datetime | None:
        config_digest = manifest.config_digest
        if config_digest is None:
            return None
        created = (await self.get_config(image, config_digest)).get("created")
        return parse_created(created) if isinstance(created, str) else None


def _tags_page(body: bytes, ep: Endpoint) -> list[str]:
    data = _json_object(body, ep, "tag list")
    tags = data.get("tags")
    if tags is None:
        return []
    try:
        if not isinstance(tags, list):
            raise TypeError
        "".join(tags)  # raises TypeError on a non-string, at C speed
    except TypeError:
        raise RegistryError(f"{ep.image}: tag list from {ep.host} has no list of strings") from None
    return tags


def _valid_tags(tags: list[str]) -> tuple[str, ...]:
    """Tags matching the OCI grammar: the domain's one rule, one regex pass when all are."""
    bad = invalid_tags(tags)
    if not bad:
        return tuple(tags)
    gone = set(bad)
    return tuple(t for t in tags if t not in gone)


def _next_page(reply: Reply, ep: Endpoint, page: list[str], size: int) -> str:
    linked = link_next(reply, ep, what="next-page link")
    if linked is not None:
        return linked
    if size and len(page) == size and page:
        return f"{ep.base}/v2/{ep.name}/tags/list?n={size}&last={quote(page[-1], safe='')}"
    return ""


def _entries(index: dict[str, Any]) -> list[dict[str, Any]]:
    entries = index.get("manifests") or []
    return [e for e in entries if isinstance(e, dict)] if isinstance(entries, list) else []


def _json_object(body: bytes, ep: Endpoint, what: str) -> dict[str, Any]:
    data = load_json(body, ep, what)
    if not isinstance(data, dict):
        raise RegistryError(f"{ep.image}: {what} from {ep.host} is not a JSON object")
    return data


def _error_code(body: bytes) -> str | None:
    try:
        errors = json.loads(body).get("errors") or []
        return str(errors[0].get("code")) if errors else None
    except (ValueError, AttributeError, IndexError, TypeError):
        return None
