"""Push times from the registries that expose them: Docker Hub, Quay and Harbor.

The OCI distribution API has no push time; these three vendors' own APIs do, and in bulk:
one request per page of up to 100 tags, far cheaper than a manifest and a config per tag
(Docker Hub lets an anonymous client make 100 manifest GETs per 6 hours). Requests go
through the same :class:`Http` as registry requests: per-host politeness, retries, the
body cap, timeouts and request counting. Docker Hub and Quay are asked anonymously (public
repositories); Harbor with the repository's registry credentials, as Basic auth.

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

import email.utils
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import quote

import httpx

from image_automation.domain import ImageRef
from image_automation.errors import RegistryError
from image_automation.registry._http import (
    Endpoint,
    Http,
    Reply,
    check_pages,
    link_next,
    load_json,
    same_origin,
)
from image_automation.registry.settings import ResolvedPushTimeApi

PAGE_SIZE = 100
"""Tags (Harbor: artifacts) per page; the most each of the three APIs allows."""
DEFAULT_URLS: dict[str, str] = {"dockerhub": "https://hub.docker.com", "quay": "https://quay.io"}
_ACCEPT = {"Accept": "application/json"}

PushTimes = dict[str, datetime]


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
    base = settings.push_time_url or _default_url(api, ref, insecure=settings.insecure)
    ep = _api_endpoint(http, ref, base)
    fetch = _FETCHERS[api]
    return await fetch(http, ep, ref, settings.max_pages)


def _api_endpoint(http: Http, ref: ImageRef, base: str) -> Endpoint:
    """The vendor API at ``base`` as an endpoint: TLS, politeness, timeout and body cap of
    its own host (its ``hosts`` entry, else the defaults); messages still name ``ref``."""
    url = httpx.URL(base)
    host = url.netloc.decode("ascii")
    settings = http.settings.for_host(host).model_copy(update={"mirror": None})
    registry = http.endpoint(ref)
    return Endpoint(
        base.rstrip("/"),
        registry.name,
        host,
        settings,
        registry.image,
        origin=(url.scheme, url.netloc),
        timeout=httpx.Timeout(settings.timeout),
        credential_key=registry.credential_key,
    )


def _default_url(api: str, ref: ImageRef, *, insecure: bool) -> str:
    if api in DEFAULT_URLS:
        return DEFAULT_URLS[api]
    return f"{'http' if insecure else 'https'}://{ref.api_host}"  # harbor: the registry itself


def _split(ep: Endpoint, ref: ImageRef, api: str) -> tuple[str, str]:
    namespace, _, name = ref.repository.partition("/")
    if not name:
        raise RegistryError(f"{ep.image}: {api} needs a namespace/repository name")
    return namespace, name


async def _get_json(
    http: Http, ep: Endpoint, url: str, *, auth: httpx.Auth | None, api: str
) -> tuple[Reply, Any]:
    what = f"{api} push times"
    reply = await http.request("GET", ep, url, headers=_ACCEPT, what=what, auth=auth)
    if reply.status != 200:
        raise RegistryError(f"{ep.image}: {what}: {ep.host} answered HTTP {reply.status}")
    return reply, load_json(reply.body, ep, what)


_NEXT_LINK = "next-page link of push times"


def _check_pages(pages: int, max_pages: int, ep: Endpoint) -> None:
    check_pages(pages, ep, max_pages=max_pages, what="push times", hint="maxPages")


def _bad_shape(ep: Endpoint, api: str) -> RegistryError:
    return RegistryError(f"{ep.image}: {api} push times from {ep.host} have an unknown shape")


async def _dockerhub(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    namespace, name = _split(ep, ref, "dockerhub")
    path = f"/v2/namespaces/{quote(namespace, safe='')}/repositories/{quote(name, safe='')}"
    url: str | None = f"{ep.base}{path}/tags?page_size={PAGE_SIZE}"
    times: PushTimes = {}
    pages = 0
    while url:
        pages += 1
        _check_pages(pages, max_pages, ep)
        reply, data = await _get_json(http, ep, url, auth=None, api="dockerhub")
        if not isinstance(data, dict) or not isinstance(data.get("results"), list):
            raise _bad_shape(ep, "dockerhub")
        _collect(times, data["results"], ("tag_last_pushed", "last_updated"), parse_iso)
        following = data.get("next")
        url = (
            same_origin(reply, ep, following, what=_NEXT_LINK)
            if isinstance(following, str)
            else None
        )
    return times


async def _quay(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    namespace, name = _split(ep, ref, "quay")
    path = f"/api/v1/repository/{quote(namespace, safe='')}/{quote(name, safe='/')}/tag/"
    times: PushTimes = {}
    page = 0
    more = True
    while more:
        page += 1
        _check_pages(page, max_pages, ep)
        url = f"{ep.base}{path}?limit={PAGE_SIZE}&page={page}&onlyActiveTags=true"
        _, data = await _get_json(http, ep, url, auth=None, api="quay")
        if not isinstance(data, dict) or not isinstance(data.get("tags"), list):
            raise _bad_shape(ep, "quay")
        _collect(times, data["tags"], ("start_ts",), parse_epoch)
        _collect(times, data["tags"], ("last_modified",), parse_rfc1123, keep=True)
        more = data.get("has_additional") is True and bool(data["tags"])
    return times


async def _harbor(http: Http, ep: Endpoint, ref: ImageRef, max_pages: int) -> PushTimes:
    project, name = _split(ep, ref, "harbor")
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
        _check_pages(pages, max_pages, ep)
        reply, data = await _get_json(http, ep, url, auth=auth, api="harbor")
        if not isinstance(data, list):
            raise _bad_shape(ep, "harbor")
        seen += len(data)
        for artifact in data:
            if not isinstance(artifact, dict):
                raise _bad_shape(ep, "harbor")
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
    linked = link_next(reply, ep, what=_NEXT_LINK)
    if linked is not None:
        return linked
    total = reply.headers.get("x-total-count", "")
    if seen and total.isdigit() and seen < int(total):
        path, query = path_query
        return f"{ep.base}{path}?{query}&page={page + 1}"
    return None


def _collect(
    times: PushTimes,
    entries: Iterable[Any],
    fields: tuple[str, ...],
    parse: Callable[[Any], datetime | None],
    *,
    keep: bool = False,
) -> None:
    """Add each entry's first parseable time under ``fields``; ``keep`` leaves known tags."""
    for entry in entries:
        if not isinstance(entry, dict):
            continue
        name = entry.get("name")
        if not isinstance(name, str) or (keep and name in times):
            continue
        for field in fields:
            when = parse(entry.get(field))
            if when is not None:
                times[name] = when
                break


def parse_iso(value: Any) -> datetime | None:
    """``2024-01-02T03:04:05.123456Z`` (any fraction, ``Z`` or offset) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+00:00").replace("z", "+00:00")
    head, dot, rest = text.partition(".")
    if dot:  # at most microseconds for fromisoformat; Go and Harbor may send nanoseconds
        digits = len(rest) - len(rest.lstrip("0123456789"))
        text = f"{head}.{rest[:digits][:6].ljust(6, '0')}{rest[digits:]}"
    try:
        when = datetime.fromisoformat(text)
    except ValueError:
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    when = when.astimezone(UTC)
    return None if when.year <= 1 else when  # Go's zero time: "never pushed"


def parse_epoch(value: Any) -> datetime | None:
    """Epoch seconds (Quay's ``start_ts``) as aware UTC."""
    if isinstance(value, bool) or not isinstance(value, int | float) or value <= 0:
        return None
    try:
        return datetime.fromtimestamp(value, UTC)
    except (OverflowError, OSError, ValueError):
        return None


def parse_rfc1123(value: Any) -> datetime | None:
    """``Thu, 06 Jun 2024 13:33:00 -0000`` (Quay's ``last_modified``) as aware UTC."""
    if not isinstance(value, str) or not value:
        return None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)


_FETCHERS = {"dockerhub": _dockerhub, "quay": _quay, "harbor": _harbor}
