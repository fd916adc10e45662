"""Local stand-ins for the push-time APIs of Docker Hub, Quay and Harbor (aiohttp, in-process).

These vendor APIs cannot run here, so each server answers in the shape the vendor documents
(field names, pagination, time formats; see ``docs/registries.md``), serving a fixed
``{tag: push time}`` set for one repository. Each caps its page size below the 100 we ask
for, the way a vendor may, so a handful of tags spans several pages.

``fail`` makes every request answer that status (``"json"``: a 200 with a body that is not
JSON; ``"slow"``: no answer within any test's timeout); ``requests`` records method, raw path
and query, and headers of every request.
"""

from __future__ import annotations

import asyncio
import base64
import json
from dataclasses import dataclass
from datetime import UTC, datetime
from email.utils import format_datetime
from typing import Any

from aiohttp import web

from tests.integration.fault_proxy import _Server


@dataclass(frozen=True, slots=True)
class Request:
    method: str
    raw: str  # path and query exactly as sent (percent-encoding kept)
    headers: dict[str, str]


class _Vendor(_Server):
    def __init__(self, times: dict[str, datetime], *, repository: str, page_cap: int = 2) -> None:
        super().__init__()
        self.times = times
        self.repository = repository
        self.page_cap = page_cap
        self.fail: int | str | None = None
        self.requests: list[Request] = []

    async def start(self) -> _Vendor:
        await self._start(self._handle)
        return self

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        self.requests.append(Request(request.method, request.raw_path, dict(request.headers)))
        if self.fail == "slow":  # longer than any timeout a test sets
            await asyncio.sleep(30)
        if self.fail == "json":
            return web.Response(text="<html>maintenance</html>", content_type="text/html")
        if isinstance(self.fail, int):
            return web.json_response({"errors": [{"code": "FAIL"}]}, status=self.fail)
        return self.answer(request)

    def answer(self, request: web.Request) -> web.StreamResponse:
        raise NotImplementedError

    def page(self, number: int, size: int) -> tuple[list[str], bool]:
        """Names on page ``number`` (1-based), newest push first, and whether more follow."""
        size = min(size, self.page_cap)
        names = sorted(self.times, key=lambda n: self.times[n], reverse=True)
        chunk = names[(number - 1) * size : number * size]
        return chunk, number * size < len(names)


def _iso(when: datetime, digits: int = 6) -> str:
    text = when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S")
    fraction = f"{when.microsecond:06d}"[:digits]
    return f"{text}.{fraction}Z" if digits else f"{text}Z"


class DockerHubApi(_Vendor):
    """``GET /v2/namespaces/{ns}/repositories/{repo}/tags?page_size=N[&page=P]``."""

    def answer(self, request: web.Request) -> web.StreamResponse:
        namespace, _, name = self.repository.partition("/")
        path = f"/v2/namespaces/{namespace}/repositories/{name}/tags"
        if request.path != path:
            return web.json_response({"message": "object not found"}, status=404)
        number = int(request.query.get("page", "1"))
        size = int(request.query.get("page_size", "10"))
        names, more = self.page(number, size)
        following = f"{self.url}{path}?page={number + 1}&page_size={size}" if more else None
        previous = f"{self.url}{path}?page={number - 1}&page_size={size}" if number > 1 else None
        results = [self._tag(i, n) for i, n in enumerate(names)]
        body = {"count": len(self.times), "next": following, "previous": previous}
        return web.json_response({**body, "results": results})

    def _tag(self, index: int, name: str) -> dict[str, Any]:
        pushed = _iso(self.times[name])
        image = {
            "architecture": "amd64",
            "features": None,
            "last_pulled": None,
            "last_pushed": pushed,
            "os": "linux",
            "os_features": None,
            "os_version": None,
            "size": 1234,
            "status": "active",
            "variant": None,
        }
        return {
            "creator": 1,
            "full_size": 1234,
            "id": 1000 + index,
            "images": [image],
            "last_updated": pushed,
            "last_updater": 1,
            "last_updater_username": "pusher",
            "name": name,
            "repository": 42,
            "tag_last_pulled": None,
            "tag_last_pushed": pushed,
            "tag_status": "active",
            "v2": True,
        }


class QuayApi(_Vendor):
    """``GET /api/v1/repository/{ns}/{repo}/tag/?limit=N&page=P&onlyActiveTags=true``."""

    def answer(self, request: web.Request) -> web.StreamResponse:
        if request.path != f"/api/v1/repository/{self.repository}/tag/":
            return web.json_response({"detail": "Not Found", "status": 404}, status=404)
        number = int(request.query.get("page", "1"))
        names, more = self.page(number, int(request.query.get("limit", "50")))
        tags = [
            {
                "name": name,
                "reversion": False,
                "start_ts": int(self.times[name].timestamp()),
                "manifest_digest": "sha256:" + "ab" * 32,
                "is_manifest_list": False,
                "size": 1234,
                "last_modified": format_datetime(self.times[name].astimezone(UTC)),
            }
            for name in names
        ]
        return web.json_response({"tags": tags, "page": number, "has_additional": more})


class HarborApi(_Vendor):
    """``GET /api/v2.0/projects/{project}/repositories/{repo}/artifacts`` (repo encoded
    twice), paged by ``page``/``page_size`` with ``Link`` and ``X-Total-Count``.

    Tags pair up on one artifact each (two tags on one digest, as Harbor groups them); an
    untagged artifact comes last. ``credentials`` makes it demand Basic auth.
    """

    def __init__(
        self,
        times: dict[str, datetime],
        *,
        repository: str,
        page_cap: int = 2,
        credentials: tuple[str, str] | None = None,
        link: bool = True,
    ) -> None:
        super().__init__(times, repository=repository, page_cap=page_cap)
        self.credentials = credentials
        self.link = link

    def answer(self, request: web.Request) -> web.StreamResponse:
        project, _, name = self.repository.partition("/")
        encoded = name.replace("/", "%252F")
        path = f"/api/v2.0/projects/{project}/repositories/{encoded}/artifacts"
        if request.raw_path.partition("?")[0] != path:
            return web.json_response({"errors": [{"code": "NOT_FOUND"}]}, status=404)
        if self.credentials is not None:
            user, password = self.credentials
            token = base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {token}":
                return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
        artifacts = self._artifacts()
        number = int(request.query.get("page", "1"))
        size = min(int(request.query.get("page_size", "10")), self.page_cap)
        chunk = artifacts[(number - 1) * size : number * size]
        headers = {"X-Total-Count": str(len(artifacts))}
        links = []
        if number > 1:
            links.append(f'<{path}?page={number - 1}&page_size={size}&with_tag=true>; rel="prev"')
        if number * size < len(artifacts):
            links.append(f'<{path}?page={number + 1}&page_size={size}&with_tag=true>; rel="next"')
        if links and self.link:
            headers["Link"] = " , ".join(links)
        return web.Response(
            text=json.dumps(chunk), content_type="application/json", headers=headers
        )

    def _artifacts(self) -> list[dict[str, Any]]:
        names = sorted(self.times, key=lambda n: self.times[n], reverse=True)
        out: list[dict[str, Any]] = []
        for index in range(0, len(names), 2):
            pair = names[index : index + 2]
            out.append(
                {
                    "id": index,
                    "type": "IMAGE",
                    "digest": f"sha256:{index:064x}",
                    "push_time": _iso(self.times[pair[0]], 3),
                    "pull_time": "0001-01-01T00:00:00.000Z",
                    "tags": [
                        {"id": 1, "name": name, "push_time": _iso(self.times[name], 3)}
                        for name in pair
                    ],
                }
            )
        out.append(
            {
                "id": 999,
                "digest": "sha256:" + "f" * 64,
                "push_time": _iso(datetime.now(UTC)),
                "tags": None,
            }
        )
        return out
