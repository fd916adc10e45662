"""Push times from the registries that expose them: which API, and Docker Hub, Quay, Harbor.

The OCI distribution API has no push time; many vendors' own APIs do, and in bulk:
one request per page of up to 100 tags, far cheaper than a manifest and a config per tag
(Docker Hub lets an anonymous client make 100 manifest GETs per 6 hours). Requests go
through the same :class:`Http` as registry requests: per-host politeness, retries, the
body cap, timeouts and request counting. Docker Hub and Quay are asked anonymously (public
repositories); Harbor with the repository's registry credentials, as Basic auth. The clouds'
APIs (ECR, Artifact Registry, ACR, GHCR, GitLab) live in :mod:`._push_apis` and
:mod:`._push_ecr`; this module picks the API for a repository and calls its fetcher.

Shapes (see ``docs/registries.md`` for where each was confirmed):

- Docker Hub ``/v2/namespaces/{ns}/repositories/{repo}/tags``: ``{"next", "results":
  [{"name", "tag_last_pushed", "last_updated"}]}``; ``next`` is the next page's URL or null.
- Quay ``/api/v1/repository/{ns}/{repo}/tag/``: ``{"tags": [{"name", "start_ts",
  "last_modified"}], "page", "has_additional"}``; ``start_ts`` is epoch seconds.
- Harbor ``/api/v2.0/projects/{project}/repositories/{repo}/artifacts``: a JSON list of
  artifacts ``[{"digest", "push_time", "tags": [{"name", "push_time"}]}]``; the next page in
  a ``Link: <…>; rel="next"`` header; ``repo`` URL-encoded twice (``a/b`` → ``a%252Fb``).
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any
from urllib.parse import quote

from image_automation.domain import ImageRef
from image_automation.registry._http import Endpoint, Http, Reply, link_next, same_origin
from image_automation.registry._push_apis import (
    DEFAULT_API_URLS,
    acr_push_times,
    artifact_registry_push_times,
    ghcr_push_times,
    gitlab_push_times,
)
from image_automation.registry._push_common import (
    NEXT_LINK,
    PAGE_SIZE,
    PushTimes,
    api_endpoint,
    bad_shape,
    check_page_count,
    collect,
    get_json,
    parse_epoch,
    parse_iso,
    parse_rfc1123,
    split_namespace,
)
from image_automation.registry._push_ecr import ecr_push_times
from image_automation.registry.settings import ResolvedPushTimeApi

DEFAULT_URLS: dict[str, str] = {
    "dockerhub": "https://hub.docker.com",
    "quay": "https://quay.io",
    **DEFAULT_API_URLS,
}
"""Where each API lives unless ``pushTimeUrl`` says; the others (harbor, acr, gitlab) are
served by the registry host itself."""


def push_time_api(http: Http, ref: ImageRef) -> ResolvedPushTimeApi:
    """The API that serves ``ref``'s push times (``none`` when its registry has none)."""
    return http.settings.for_host(ref.registry).push_time_api_for(ref.registry)


async def fetch_push_times(http: Http, ref: ImageRef) -> PushTimes:
    """``{tag: push time}`` for ``ref``'s repository; empty when its API is ``none``.

    Raises :class:`RegistryError` (refused, not found, bad JSON, too many pages) or
    :class:`RegistryUnavailable` (5xx/429/unreachable after retries), like other requests.
    """
    settings = http.settings.for_host(ref.registry)
    api = settings.push_time_api_for(ref.registry)  # push_time_api(), settings resolved once
    if api == "none":
        return {}
    if api == "ecr":  # boto3 picks the region's endpoint unless pushTimeUrl names one
        return await ecr_push_times(http, ref, url=settings.push_time_url)
    base = settings.push_time_url or _default_url(api, ref, insecure=settings.insecure)
    ep = api_endpoint(http, ref, base)
    fetch = _FETCHERS[api]
    return await fetch(http, ep, ref, settings.max_pages)


def _default_url(api: str, ref: ImageRef, *, insecure: bool) -> str:
    if api in DEFAULT_URLS:
        return DEFAULT_URLS[api]
    return f"{'http' if insecure else 'https'}://{ref.api_host}"  # the registry itself


async def _dockerhub(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    namespace, name = split_namespace(ep, ref, "dockerhub")
    path = f"/v2/namespaces/{quote(namespace, safe='')}/repositories/{quote(name, safe='')}"
    url: str | None = f"{ep.base}{path}/tags?page_size={PAGE_SIZE}"
    times: PushTimes = {}
    pages = 0
    while url:
        pages += 1
        check_page_count(pages, max_pages, ep)
        reply, data = await get_json(http, ep, url, auth=None, api="dockerhub")
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise bad_shape(ep, "dockerhub")
        collect(times, data["results"], ("tag_last_pushed", "last_updated"), parse_iso)
        following = data.get("next")
        url = (
            same_origin(reply, ep, following, what=NEXT_LINK)
            if isinstance(following, str)
            else None
        )
    return times


async def _quay(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    namespace, name = split_namespace(ep, ref, "quay")
    path = f"/api/v1/repository/{quote(namespace, safe='')}/{quote(name, safe='/')}/tag/"
    times: PushTimes = {}
    page = 0
    more = True
    while more:
        page += 1
        check_page_count(page, max_pages, ep)
        url = f"{ep.base}{path}?limit={PAGE_SIZE}&page={page}&onlyActiveTags=true"
        _, data = await get_json(http, ep, url, auth=None, api="quay")
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            raise bad_shape(ep, "quay")
        collect(times, data["tags"], ("start_ts",), parse_epoch)
        collect(times, data["tags"], ("last_modified",), parse_rfc1123, keep=True)
        more = data.get("has_additional") is True and bool(data["tags"])
    return times


async def _harbor(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    project, name = split_namespace(ep, ref, "harbor")
    # Harbor wants a '/' in the repository name encoded twice: a/b -> a%2Fb -> a%252Fb.
    encoded = quote(quote(name, safe=""), safe="")
    path = f"/api/v2.0/projects/{quote(project, safe='')}/repositories/{encoded}/artifacts"
    query = f"with_tag=true&page_size={PAGE_SIZE}"
    url: str | None = f"{ep.base}{path}?{query}&page=1"
    auth = await http.basic_auth(http.endpoint(ref))
    times: PushTimes = {}
    pages = 0
    seen = 0
    while url:
        pages += 1
        check_page_count(pages, max_pages, ep)
        reply, data = await get_json(http, ep, url, auth=auth, api="harbor")
        if not isinstance(data, list):
            raise bad_shape(ep, "harbor")
        seen += len(data)
        for artifact in data:
            if not isinstance(artifact, dict):
                raise bad_shape(ep, "harbor")
            _harbor_artifact(times, artifact)
        url = _harbor_next(
            reply, ep, seen=seen if data else 0, page=pages, path_query=(path, query)
        )
    return times


def _harbor_artifact(times: PushTimes, artifact: dict[str, Any]) -> None:
    """Each tag's own push time, else its artifact's (untagged artifacts have no tags)."""
    fallback = parse_iso(artifact.get("push_time"))
    for tag in artifact.get("tags") or []:
        if isinstance(tag, dict) and isinstance(tag.get("name"), str):
            when = parse_iso(tag.get("push_time")) or fallback
            if when is not None:
                times[tag["name"]] = when


def _harbor_next(
    reply: Reply, ep: Endpoint, *, seen: int, page: int, path_query: tuple[str, str]
) -> str | None:
    """The next page: the ``Link`` header's, else one more when ``X-Total-Count`` says so.

    ``seen`` counts the artifacts so far, 0 after an empty page (no more to ask for).
    """
    linked = link_next(reply, ep, what=NEXT_LINK)
    if linked is not None:
        return linked
    total = reply.headers.get("x-total-count", "")
    if seen and total.isdigit() and seen < int(total):
        path, query = path_query
        return f"{ep.base}{path}?{query}&page={page + 1}"
    return None


Fetcher = Callable[[Http, Endpoint, ImageRef, int], Awaitable[PushTimes]]
_FETCHERS: dict[str, Fetcher] = {
    "dockerhub": _dockerhub,
    "quay": _quay,
    "harbor": _harbor,
    "artifactregistry": artifact_registry_push_times,
    "acr": acr_push_times,
    "ghcr": ghcr_push_times,
    "gitlab": gitlab_push_times,
}
__all__ = [
    "PAGE_SIZE",
    "PushTimes",
    "fetch_push_times",
    "parse_epoch",
    "parse_iso",
    "parse_rfc1123",
    "push_time_api",
]
