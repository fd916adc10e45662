"""Push times from the cloud registries' own HTTP APIs: Artifact Registry, ACR, GHCR, GitLab.

Each answers for many tags per request, as Docker Hub's does (see :mod:`._push_times`):

- Artifact Registry ``GET {url}/v1/projects/{p}/locations/{l}/repositories/{r}/dockerImages``:
  ``{"dockerImages": [{"uri", "tags", "uploadTime"}], "nextPageToken"}``, up to 1000 images a
  page; it lists the whole Artifact Registry repository, so images are kept by ``uri``. Asked
  with the repository credential's OAuth2 access token (user ``oauth2accesstoken``).
- ACR ``GET {registry}/acr/v1/{repo}/_tags``: ``{"tags": [{"name", "createdTime",
  "lastUpdateTime"}]}``, next page in ``Link``; the registry's own token flow.
- GHCR ``GET {url}/orgs|users/{owner}/packages/container/{package}/versions``: a list of
  versions ``[{"created_at", "metadata": {"container": {"tags": [...]}}}]``, next page in
  ``Link``; the repository credential's password (a token with ``read:packages``) as Bearer.
- GitLab ``GET {registry}/gitlab/v1/repositories/{path}/tags/list/``: a list of tags
  ``[{"name", "created_at", "updated_at", "published_at"}]``, next page in ``Link``; the
  registry's own token flow (the API needs GitLab's metadata database, as on GitLab.com).

APIs that need a token of the repository's credential (Artifact Registry, GHCR) make no
request when there is none: public images on gcr.io or ghcr.io scan as before, without a
warning per scan. Shapes and where they were confirmed: ``docs/registries.md``.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

from image_automation.domain import ImageRef
from image_automation.errors import RegistryError
from image_automation.registry._http import Endpoint, Http, Reply, link_next
from image_automation.registry._push_common import (
    NEXT_LINK,
    PAGE_SIZE,
    PushTimes,
    bad_shape,
    bearer,
    check_page_count,
    collect,
    first_time,
    get_json,
    parse_iso,
    split_namespace,
)

DEFAULT_API_URLS = {
    "artifactregistry": "https://artifactregistry.googleapis.com",
    "ghcr": "https://api.github.com",
}
AR_PAGE_SIZE = 1000
"""Artifact Registry images per page: its maximum."""
GITLAB_PAGE_SIZE = 1000
"""GitLab registry tags per page: its maximum."""
GOOGLE_TOKEN_USER = "oauth2accesstoken"
"""The user name under which a Google OAuth2 access token is a registry password."""
_GCR_LOCATIONS = {"gcr.io": "us", "us.gcr.io": "us", "eu.gcr.io": "europe", "asia.gcr.io": "asia"}
"""gcr.io hosts → the multi-region of their Artifact Registry repository (named as the host)."""
_GITHUB_HEADERS = {"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": "2022-11-28"}


async def artifact_registry_push_times(
    http: Http, ep: Endpoint, ref: ImageRef, max_pages: int
) -> PushTimes:
    token = await _token(http, ref, user=GOOGLE_TOKEN_USER)
    if token is None:
        return {}
    project, location, repository, image = _artifact_registry_names(ep, ref)
    parent = f"projects/{project}/locations/{location}/repositories/{quote(repository, safe='')}"
    first = f"{ep.base}/v1/{parent}/dockerImages?pageSize={AR_PAGE_SIZE}"
    prefix = f"{ref.registry}/{image}@"
    auth = bearer(token)
    times: PushTimes = {}
    url, pages = first, 0
    while url:
        pages += 1
        check_page_count(pages, max_pages, ep)
        _, data = await get_json(http, ep, url, auth=auth, api="artifactregistry")
        images = data.get("dockerImages", []) if isinstance(data, dict) else None
        if not isinstance(images, list):
            raise bad_shape(ep, "artifactregistry")
        for entry in images:
            if isinstance(entry, dict) and str(entry.get("uri", "")).startswith(prefix):
                _tag_times(times, entry, entry.get("tags"), ("uploadTime", "updateTime"))
        following = data.get("nextPageToken")
        url = f"{first}&pageToken={quote(following, safe='')}" if _is_text(following) else ""
    return times


def _artifact_registry_names(ep: Endpoint, ref: ImageRef) -> tuple[str, str, str, str]:
    """(project, location, Artifact Registry repository, image path) of ``ref``."""
    host = ref.registry.lower()
    parts = ref.repository.split("/")
    if host in _GCR_LOCATIONS and len(parts) >= 2:  # gcr.io/PROJECT/IMAGE...
        return parts[0], _GCR_LOCATIONS[host], host, ref.repository
    if host.endswith("-docker.pkg.dev") and len(parts) >= 3:  # LOC-docker.pkg.dev/P/REPO/IMAGE
        return parts[0], host.removesuffix("-docker.pkg.dev"), parts[1], ref.repository
    raise RegistryError(
        f"{ep.image}: artifactregistry needs LOCATION-docker.pkg.dev/PROJECT/REPOSITORY/IMAGE "
        "or gcr.io/PROJECT/IMAGE"
    )


async def acr_push_times(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    url: str | None = f"{ep.base}/acr/v1/{ref.repository}/_tags?n={PAGE_SIZE}"
    times: PushTimes = {}
    pages = 0
    while url:
        pages += 1
        check_page_count(pages, max_pages, ep)
        reply, data = await get_json(http, ep, url, auth="registry", api="acr")
        tags = data.get("tags") if isinstance(data, dict) else None
        if not isinstance(tags, list):
            raise bad_shape(ep, "acr")
        collect(times, tags, ("lastUpdateTime", "createdTime"), parse_iso)
        url = link_next(reply, ep, what=NEXT_LINK) if tags else None
    return times


async def ghcr_push_times(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    token = await _token(http, ref, user=None)
    if token is None:
        return {}
    owner, package = split_namespace(ep, ref, "ghcr")
    path = f"packages/container/{quote(package, safe='')}/versions?per_page={PAGE_SIZE}"
    auth = bearer(token)
    times: PushTimes = {}
    url: str | None = f"{ep.base}/orgs/{quote(owner, safe='')}/{path}"
    pages = 0
    while url:
        pages += 1
        check_page_count(pages, max_pages, ep)
        reply, data = await get_json(
            http, ep, url, auth=auth, api="ghcr", headers=_GITHUB_HEADERS, missing_ok=pages == 1
        )
        if data is None:  # not an organisation: the owner is a user
            url = f"{ep.base}/users/{quote(owner, safe='')}/{path}"
            continue
        if not isinstance(data, list):
            raise bad_shape(ep, "ghcr")
        for version in data:
            if isinstance(version, dict):
                tags = _dig(version, "metadata", "container", "tags")
                _tag_times(times, version, tags, ("created_at",))
        url = _next(reply, ep, data)
    return times


async def gitlab_push_times(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    base = f"{ep.base}/gitlab/v1/repositories/{ref.repository}/tags/list/"
    url: str | None = f"{base}?n={GITLAB_PAGE_SIZE}"
    times: PushTimes = {}
    pages = 0
    while url:
        pages += 1
        check_page_count(pages, max_pages, ep)
        reply, data = await get_json(http, ep, url, auth="registry", api="gitlab")
        if not isinstance(data, list):
            raise bad_shape(ep, "gitlab")
        # published_at is the latest of created_at and updated_at: when the tag last moved.
        collect(times, data, ("published_at", "updated_at", "created_at"), parse_iso)
        url = _next(reply, ep, data)
    return times


async def _token(http: Http, ref: ImageRef, *, user: str | None) -> str | None:
    """The API token in ``ref``'s repository credential (its password, under user name
    ``user`` when one is required), else ``None``: such an API is then not asked."""
    credential = await http.credential_for(http.endpoint(ref))
    if credential is None or credential.identity_token or not credential.password:
        return None
    if user is not None and credential.username != user:
        return None
    return credential.password


def _tag_times(times: PushTimes, entry: dict[str, Any], tags: Any, fields: tuple[str, ...]) -> None:
    """Each of ``tags`` (a list of names) gets ``entry``'s time."""
    when = first_time(entry, fields, parse_iso)
    if when is None or not isinstance(tags, list):
        return
    for tag in tags:
        if isinstance(tag, str):
            times[tag] = when


def _next(reply: Reply, ep: Endpoint, page: list[Any]) -> str | None:
    return link_next(reply, ep, what=NEXT_LINK) if page else None


def _dig(value: Any, *keys: str) -> Any:
    for key in keys:
        if not isinstance(value, dict):
            return None
        value = value.get(key)
    return value


def _is_text(value: Any) -> bool:
    return isinstance(value, str) and 0 < len(value) <= 4096


__all__ = [
    "DEFAULT_API_URLS",
    "GOOGLE_TOKEN_USER",
    "acr_push_times",
    "artifact_registry_push_times",
    "ghcr_push_times",
    "gitlab_push_times",
]
