"""Local stand-ins for the clouds' push-time APIs (aiohttp, in-process), in their vendors' shapes.

Artifact Registry ``dockerImages.list``, ACR ``/acr/v1/{repo}/_tags``, the GitHub Packages API,
GitLab's registry ``/gitlab/v1/.../tags/list/`` and ECR ``DescribeImages`` (the JSON protocol
boto3 speaks), each serving a fixed ``{tag: push time}`` set for one repository and capping its
pages below what we ask for, so a handful of tags spans several pages. Field names, paging and
time formats follow ``docs/registries.md``. ACR and GitLab demand a registry token (a Bearer
challenge answered by their own ``/token``); Artifact Registry and GHCR a Bearer API token.
"""

from __future__ import annotations

import base64
import json
import secrets
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from tests.integration.push_time_servers import Request, _iso, _Vendor


class _TokenRealm(_Vendor):
    """A vendor whose API wants a registry token: 401 with a Bearer challenge, then a token
    from ``/token`` (Basic credentials checked when ``credentials`` is set)."""

    scope_action = "pull"

    def __init__(
        self,
        times: dict[str, datetime],
        *,
        repository: str,
        credentials: tuple[str, str] | None = None,
        page_cap: int = 2,
    ) -> None:
        super().__init__(times, repository=repository, page_cap=page_cap)
        self.credentials = credentials
        self.tokens: set[str] = set()
        self.scopes: list[str] = []

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        if request.path == "/token":
            self.requests.append(Request(request.method, request.raw_path, dict(request.headers)))
            return self._token(request)
        return await super()._handle(request)

    def _token(self, request: web.Request) -> web.StreamResponse:
        if self.credentials is not None:
            user, password = self.credentials
            basic = base64.b64encode(f"{user}:{password}".encode()).decode()
            if request.headers.get("Authorization") != f"Basic {basic}":
                return web.json_response({"errors": [{"code": "UNAUTHORIZED"}]}, status=401)
        self.scopes.append(request.query.get("scope", ""))
        token = secrets.token_hex(8)
        self.tokens.add(token)
        return web.json_response({"access_token": token, "expires_in": 300})

    def authorised(self, request: web.Request) -> web.StreamResponse | None:
        """None when the request carries a token of ours, else the 401 challenge."""
        header = request.headers.get("Authorization", "")
        if header.startswith("Bearer ") and header[7:] in self.tokens:
            return None
        scope = f"repository:{self.repository}:{self.scope_action}"
        challenge = f'Bearer realm="{self.url}/token",service="registry",scope="{scope}"'
        return web.json_response(
            {"errors": [{"code": "UNAUTHORIZED"}]},
            status=401,
            headers={"WWW-Authenticate": challenge},
        )

    def names(self) -> list[str]:
        return sorted(self.times)


class AcrApi(_TokenRealm):
    """``GET /acr/v1/{repo}/_tags?n=N[&last=T]``; ``Link: </acr/v1/...>; rel="next"``."""

    scope_action = "metadata_read"

    def answer(self, request: web.Request) -> web.StreamResponse:
        if request.path != f"/acr/v1/{self.repository}/_tags":
            return web.json_response({"errors": [{"code": "NAME_UNKNOWN"}]}, status=404)
        refused = self.authorised(request)
        if refused is not None:
            return refused
        size = min(int(request.query.get("n", "100")), self.page_cap)
        after = request.query.get("last", "")
        chunk = [n for n in self.names() if n > after][:size]
        tags = [
            {
                "name": name,
                "digest": "sha256:" + "ab" * 32,
                "createdTime": "2020-01-01T00:00:00.0000001Z",
                "lastUpdateTime": _iso(self.times[name], 6)[:-1] + "7Z",  # ACR: 7 digits
                "signed": False,
                "changeableAttributes": {"deleteEnabled": True, "writeEnabled": True,
                                         "readEnabled": True, "listEnabled": True},
            }
            for name in chunk
        ]  # fmt: skip
        headers = {}
        if chunk and chunk[-1] != self.names()[-1]:
            link = f"/acr/v1/{self.repository}/_tags?last={chunk[-1]}&n={size}&orderby="
            headers["Link"] = f'<{link}>; rel="next"'
        body = {"registry": "myregistry.azurecr.io", "imageName": self.repository, "tags": tags}
        return web.json_response(body, headers=headers)


class GitlabRegistryApi(_TokenRealm):
    """``GET /gitlab/v1/repositories/{path}/tags/list/?n=N[&last=T]``, ``Link`` absolute."""

    def answer(self, request: web.Request) -> web.StreamResponse:
        base = f"/gitlab/v1/repositories/{self.repository}/tags/list/"
        if request.path != base:
            return web.json_response({"errors": [{"code": "NAME_UNKNOWN"}]}, status=404)
        refused = self.authorised(request)
        if refused is not None:
            return refused
        size = min(int(request.query.get("n", "100")), self.page_cap)
        after = request.query.get("last", "")
        chunk = [n for n in self.names() if n > after][:size]
        tags = []
        for name in chunk:
            when = self.times[name]
            tag: dict[str, Any] = {
                "name": name,
                "digest": "sha256:" + "cd" * 32,
                "media_type": "application/vnd.oci.image.manifest.v1+json",
                "size_bytes": 1234,
                "created_at": _iso(datetime(2020, 1, 1, tzinfo=UTC), 3),
                "updated_at": _iso(when, 3),
                "published_at": _iso(when, 3),
            }
            tags.append(tag)
        headers = {}
        if chunk and chunk[-1] != self.names()[-1]:
            headers["Link"] = f'<{self.url}{base}?n={size}&last={chunk[-1]}>; rel="next"'
        return web.Response(text=json.dumps(tags), content_type="application/json",
                            headers=headers)  # fmt: skip


class _ApiToken(_Vendor):
    """A vendor API that wants ``Authorization: Bearer <token>``."""

    def __init__(self, times: dict[str, datetime], *, repository: str, token: str,
                 page_cap: int = 2) -> None:  # fmt: skip
        super().__init__(times, repository=repository, page_cap=page_cap)
        self.token = token

    def refused(self, request: web.Request) -> web.StreamResponse | None:
        if request.headers.get("Authorization") == f"Bearer {self.token}":
            return None
        return web.json_response({"message": "Requires authentication"}, status=401)


class GhcrApi(_ApiToken):
    """``GET /{orgs|users}/{owner}/packages/container/{package}/versions?per_page=N&page=P``.

    ``owner_kind`` says which of the two paths knows the owner (the other answers 404).
    Versions hold two tags each; an untagged version comes last.
    """

    owner_kind = "orgs"

    def answer(self, request: web.Request) -> web.StreamResponse:
        owner, _, package = self.repository.partition("/")
        encoded = package.replace("/", "%2F")
        path = f"/{self.owner_kind}/{owner}/packages/container/{encoded}/versions"
        if request.raw_path.partition("?")[0] != path:
            return web.json_response({"message": "Not Found"}, status=404)
        refused = self.refused(request)
        if refused is not None:
            return refused
        versions = self._versions()
        number = int(request.query.get("page", "1"))
        size = min(int(request.query.get("per_page", "30")), self.page_cap)
        chunk = versions[(number - 1) * size : number * size]
        headers = {}
        if number * size < len(versions):
            headers["Link"] = (
                f'<{self.url}{path}?per_page={size}&page={number + 1}>; rel="next", '
                f'<{self.url}{path}?per_page={size}&page={-(-len(versions) // size)}>; rel="last"'
            )
        return web.Response(text=json.dumps(chunk), content_type="application/json",
                            headers=headers)  # fmt: skip

    def _versions(self) -> list[dict[str, Any]]:
        names = sorted(self.times, key=lambda n: self.times[n], reverse=True)
        out = [
            {
                "id": 1000 + index,
                "name": f"sha256:{index:064x}",
                "url": f"https://api.github.com/orgs/x/packages/container/y/versions/{index}",
                "package_html_url": "https://github.com/orgs/x/packages/container/package/y",
                "created_at": _iso(self.times[pair[0]], 0),
                "updated_at": _iso(datetime.now(UTC), 0),
                "html_url": "https://github.com/orgs/x/packages/container/y/1",
                "metadata": {"package_type": "container", "container": {"tags": pair}},
            }
            for index, pair in ((i, names[i : i + 2]) for i in range(0, len(names), 2))
        ]
        untagged = {"package_type": "container", "container": {"tags": []}}
        out.append({"id": 1, "created_at": _iso(datetime.now(UTC)), "metadata": untagged})
        return out


class ArtifactRegistryApi(_ApiToken):
    """``GET /v1/projects/{p}/locations/{l}/repositories/{r}/dockerImages?pageSize=N
    [&pageToken=T]``: every image of the Artifact Registry repository ``parent``, ours (named
    by ``image_uri``) and another image's, with an opaque ``nextPageToken``."""

    def __init__(self, times: dict[str, datetime], *, parent: str, image_uri: str, token: str,
                 page_cap: int = 2) -> None:  # fmt: skip
        super().__init__(times, repository=parent, token=token, page_cap=page_cap)
        self.image_uri = image_uri

    def answer(self, request: web.Request) -> web.StreamResponse:
        if request.path != f"/v1/{self.repository}/dockerImages":
            return web.json_response({"error": {"code": 404, "status": "NOT_FOUND"}}, status=404)
        refused = self.refused(request)
        if refused is not None:
            return refused
        images = self._images()
        size = min(int(request.query.get("pageSize", "100")), self.page_cap)
        token = request.query.get("pageToken")
        start = int(base64.urlsafe_b64decode(token).decode()) if token else 0
        body: dict[str, Any] = {"dockerImages": images[start : start + size]}
        if start + size < len(images):
            body["nextPageToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return web.json_response(body)

    def _images(self) -> list[dict[str, Any]]:
        names = sorted(self.times, key=lambda n: self.times[n], reverse=True)
        other = self.image_uri.rsplit("/", 1)[0] + "/other"
        out = []
        for index, name in enumerate(names):
            for uri in (self.image_uri, other):  # the other image has the same tags, later
                when = self.times[name] if uri == self.image_uri else datetime.now(UTC)
                out.append({
                    "name": f"{self.repository}/dockerImages/x@sha256:{index:064x}",
                    "uri": f"{uri}@sha256:{index:064x}",
                    "tags": [name],
                    "imageSizeBytes": "1234",
                    "uploadTime": _iso(when, 6),
                    "mediaType": "application/vnd.oci.image.manifest.v1+json",
                    "buildTime": "2019-01-01T00:00:00Z",
                    "updateTime": _iso(datetime.now(UTC)),
                })  # fmt: skip
        return out


class EcrDescribeImages(_Vendor):
    """ECR's ``DescribeImages`` in the AWS JSON 1.1 protocol (``X-Amz-Target``), paged by an
    opaque ``nextToken``: what boto3 sends and parses, with pages moto does not make."""

    def answer(self, request: web.Request) -> web.StreamResponse:
        raise AssertionError("handled in _handle")  # pragma: no cover

    async def _handle(self, request: web.Request) -> web.StreamResponse:
        body = await request.read()
        self.requests.append(Request(request.method, request.raw_path, dict(request.headers)))
        self.bodies.append(json.loads(body or b"{}"))
        target = request.headers.get("X-Amz-Target", "")
        if isinstance(self.fail, int):
            code = "AccessDeniedException" if self.fail < 500 else "ServerException"
            return _amz({"__type": code, "message": "not authorized"}, status=self.fail)
        if not target.endswith(".DescribeImages"):
            return _amz({"__type": "UnknownOperationException"}, status=400)
        request_body = self.bodies[-1]
        if request_body.get("repositoryName") != self.repository:
            return _amz({"__type": "RepositoryNotFoundException", "message": "no"}, status=400)
        names = sorted(self.times)
        start = int(request_body.get("nextToken") or 0)
        chunk = names[start : start + self.page_cap]
        details = [
            {
                "registryId": request_body.get("registryId"),
                "repositoryName": self.repository,
                "imageDigest": "sha256:" + "e3" * 32,
                "imageTags": [name],
                "imageSizeInBytes": 1234,
                "imagePushedAt": self.times[name].timestamp(),
                "imageManifestMediaType": "application/vnd.oci.image.manifest.v1+json",
            }
            for name in chunk
        ]
        answer: dict[str, Any] = {"imageDetails": details}
        if start + self.page_cap < len(names):
            answer["nextToken"] = str(start + self.page_cap)
        return _amz(answer)

    @property
    def bodies(self) -> list[dict[str, Any]]:
        if not hasattr(self, "_bodies"):
            self._bodies: list[dict[str, Any]] = []
        return self._bodies


def _amz(body: dict[str, Any], status: int = 200) -> web.Response:
    return web.Response(text=json.dumps(body), status=status,
                        content_type="application/x-amz-json-1.1")  # fmt: skip
