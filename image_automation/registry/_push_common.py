"""What every push-time API fetcher shares: the vendor endpoint, one JSON page, bounds, times.

Kept apart from the fetchers so that each vendor family (:mod:`._push_times` for Docker Hub,
Quay and Harbor, :mod:`._push_apis` for the clouds' HTTP APIs, :mod:`._push_ecr` for ECR through
boto3) reads the same way: one request per page, a bounded number of pages, an unknown shape is
a :class:`RegistryError` naming the image, the API and the host.
"""

from __future__ import annotations

import email.utils
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any, Literal

import httpx

from image_automation.domain import ImageRef
from image_automation.errors import RegistryError
from image_automation.registry._http import Endpoint, Http, Reply, check_pages, load_json

PAGE_SIZE = 100
"""Tags (Harbor: artifacts, GHCR: versions) per page; the most those APIs allow."""
ACCEPT_JSON = {"Accept": "application/json"}
NEXT_LINK = "next-page link of push times"

PushTimes = dict[str, datetime]


def api_endpoint(http: Http, ref: ImageRef, base: str) -> Endpoint:
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


async def get_json(
    http: Http,
    ep: Endpoint,
    url: str,
    *,
    auth: httpx.Auth | Literal["registry"] | None,
    api: str,
    headers: Mapping[str, str] = ACCEPT_JSON,
    missing_ok: bool = False,
) -> tuple[Reply, Any]:
    """One page: GET ``url`` (``auth="registry"`` is the registry's own flow), its JSON.

    Any answer but 200 is a :class:`RegistryError`; with ``missing_ok`` a 404 is returned
    with ``None`` for the JSON (the caller may try another path).
    """
    what = f"{api} push times"
    reply = await http.request("GET", ep, url, headers=headers, what=what, auth=auth)
    if missing_ok and reply.status == 404:
        return reply, None
    if reply.status != 200:
        raise RegistryError(f"{ep.image}: {what}: {ep.host} answered HTTP {reply.status}")
    return reply, load_json(reply.body, ep, what)


def bearer(token: str) -> httpx.Auth:
    """``Authorization: Bearer <token>`` as an ``httpx.Auth`` (sent to the API's origin only)."""
    return _Bearer(token)


class _Bearer(httpx.Auth):
    def __init__(self, token: str) -> None:
        self._header = f"Bearer {token}"

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "_Bearer(***)"


def check_page_count(pages: int, max_pages: int, ep: Endpoint) -> None:
    check_pages(pages, ep, max_pages=max_pages, what="push times", hint="maxPages")


def bad_shape(ep: Endpoint, api: str) -> RegistryError:
    return RegistryError(f"{ep.image}: {api} push times from {ep.host} have an unknown shape")


def split_namespace(ep: Endpoint, ref: ImageRef, api: str) -> tuple[str, str]:
    """``namespace/rest`` of ``ref``'s repository; one without a namespace is an error."""
    namespace, _, name = ref.repository.partition("/")
    if not name:
        raise RegistryError(f"{ep.image}: {api} needs a namespace/repository name")
    return namespace, name


def collect(
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
        when = first_time(entry, fields, parse)
        if when is not None:
            times[name] = when


def first_time(
    entry: dict[str, Any], fields: tuple[str, ...], parse: Callable[[Any], datetime | None]
) -> datetime | None:
    """The first of ``entry``'s ``fields`` that parses as a time."""
    for field in fields:
        when = parse(entry.get(field))
        if when is not None:
            return when
    return None


def parse_iso(value: Any) -> datetime | None:
    """``2024-01-02T03:04:05.123456Z`` (any fraction, ``Z`` or offset) as aware UTC."""
    if not isinstance(value, str) or not value or len(value) > 64:
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
