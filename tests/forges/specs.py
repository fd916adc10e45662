"""The forges' API descriptions, and the openapi-core checks every fake request and reply passes.

Each fake forge serves the operations of one OpenAPI 3 document under
``tests/fixtures/forge-specs/`` (official slices, or our GitLab contract). :class:`SpecCheck`
finds the operation a request is for, validates the request and the reply with openapi-core, and
turns every finding into a plain-text :class:`Violation` that the fixture fails the test with.

The fakes listen on ``http://127.0.0.1:PORT`` under a prefix of their own (``/api/v3`` for
GitHub, as Enterprise Server has it), while each description names its real server
(``https://api.github.com``): the check rebases the request onto the description's server
before matching, which changes nothing else about it. Path parameters are matched on the raw,
still percent-encoded path, so ``feature%2Fx`` is one segment as on the real forges.
"""

from __future__ import annotations

import functools
import json
import threading
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar
from urllib.parse import unquote, urlsplit

from openapi_core import Config, OpenAPI
from openapi_core.datatypes import RequestParameters
from openapi_core.security.exceptions import SecurityProviderError
from openapi_core.security.factories import SecurityProviderFactory
from openapi_core.security.providers import BaseProvider
from openapi_core.templating.paths.exceptions import PathError
from openapi_core.templating.paths.finders import APICallPathFinder
from werkzeug.datastructures import Headers, ImmutableMultiDict

SPECS_DIR = Path(__file__).resolve().parent.parent / "fixtures" / "forge-specs"

SPEC_FILES = {
    "github": SPECS_DIR / "github" / "slice.openapi3.json",
    "gitlab": SPECS_DIR / "gitlab" / "contract.openapi3.json",
    "gitea": SPECS_DIR / "gitea" / "slice.openapi3.json",
    "forgejo": SPECS_DIR / "forgejo" / "slice.openapi3.json",
    "bitbucket": SPECS_DIR / "bitbucket-cloud" / "slice.openapi3.json",
    "azuredevops": SPECS_DIR / "azure-devops" / "slice.openapi3.json",
}


@dataclass(frozen=True)
class Violation:
    """One way a request or a reply broke the forge's description."""

    where: str  # "request" | "response" | "graphql" | "api-version" ...
    operation: str  # "GET /repos/{owner}/{repo}/pulls" or the raw path when none matched
    detail: str

    def __str__(self) -> str:
        return f"{self.where} {self.operation}: {self.detail}"


@dataclass(frozen=True)
class Operation:
    """The description's operation a request matched, with its decoded path parameters."""

    key: str  # "METHOD /template"
    template: str
    operation_id: str
    params: dict[str, str]
    spec: Mapping[str, Any]  # the operation object (plain JSON)


@dataclass
class _Request:
    """An openapi-core ``Request``: the fake's request rebased onto the description's server."""

    host_url: str
    path: str
    method: str
    parameters: RequestParameters
    content_type: str
    body: bytes | None


@dataclass
class _Response:
    status_code: int
    content_type: str
    headers: Headers
    data: bytes | None


@dataclass
class Spec:
    """One loaded description (shared by every fake of that forge in the process)."""

    forge: str
    doc: Mapping[str, Any]
    openapi: OpenAPI
    origin: str  # the description's server, scheme://host
    prefix: str  # the path part of that server URL ("" or "/api/v1")
    lock: threading.Lock = field(default_factory=threading.Lock)

    def schema(self, name: str) -> Mapping[str, Any]:
        return self.doc["components"]["schemas"][name]  # type: ignore[no-any-return]


class _BearerProvider(BaseProvider):
    """OAuth 2 / OpenID Connect schemes: an access token presented as ``Authorization: Bearer``
    (RFC 6750). openapi-core's own provider for them only warns and lets every request pass."""

    def __call__(self, parameters: RequestParameters) -> Any:
        scheme, _, token = parameters.header.get("Authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not token:
            raise SecurityProviderError("Missing bearer token.")
        return token


class _BearerOrPatProvider(BaseProvider):
    """Azure DevOps only: its operations name just ``oauth2``, while the same document's
    top-level scheme ``accessToken`` says "Personal access token. Use any value for the user
    name and the token as the password" (HTTP Basic). Either presentation meets the
    requirement; anything else (no credentials, another scheme) does not."""

    def __call__(self, parameters: RequestParameters) -> Any:
        scheme, _, token = parameters.header.get("Authorization", "").partition(" ")
        if scheme.lower() not in ("bearer", "basic") or not token:
            raise SecurityProviderError("Missing bearer token or basic PAT.")
        return token


class _SecurityProviders(SecurityProviderFactory):
    PROVIDERS: ClassVar[dict[str, type[BaseProvider]]] = {
        **SecurityProviderFactory.PROVIDERS,
        "oauth2": _BearerProvider,
        "openIdConnect": _BearerProvider,
    }


class _AzureSecurityProviders(_SecurityProviders):
    PROVIDERS: ClassVar[dict[str, type[BaseProvider]]] = {
        **_SecurityProviders.PROVIDERS,
        "oauth2": _BearerOrPatProvider,
    }


@functools.cache
def load_spec(forge: str) -> Spec:
    doc = json.loads(SPEC_FILES[forge].read_text(encoding="utf-8"))
    server = urlsplit(doc["servers"][0]["url"])
    origin = f"{server.scheme}://{server.netloc}" if server.netloc else "http://forge.invalid"
    providers = _AzureSecurityProviders() if forge == "azuredevops" else _SecurityProviders()
    return Spec(
        forge=forge,
        doc=doc,
        openapi=OpenAPI.from_dict(doc, config=Config(security_provider_factory=providers)),
        origin=origin,
        prefix=server.path.rstrip("/"),
    )


def explain(exc: BaseException) -> str:
    """openapi-core's message plus the schema errors it wraps (its own text is generic)."""
    found: list[str] = []
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        for error in getattr(current, "schema_errors", ()) or ():
            location = "/".join(str(p) for p in getattr(error, "absolute_path", ()))
            found.append(f"{location or '<root>'}: {error.message}")
        current = current.__cause__ or current.__context__
    if not found:
        return str(exc)
    head = str(exc).split(":", 1)[0]  # "Request body validation error", without the dump
    return f"{head}: " + "; ".join(dict.fromkeys(found))


# A reply body rewriter for a documented deviation: takes (operation key, status, parsed JSON),
# returns the JSON to validate instead, or raises ValueError when the deviation does not fit.
Deviation = Callable[[Operation, int, Any], Any]


class SpecCheck:
    """Validates requests and replies of one fake against its forge's description."""

    def __init__(self, spec: Spec, *, deviation: Deviation | None = None) -> None:
        self.spec = spec
        self._deviation = deviation
        self._finder = APICallPathFinder(spec.openapi.spec)

    def _rebase(self, raw_path: str) -> str:
        return self.spec.prefix + raw_path

    def find(self, method: str, raw_path: str) -> Operation:
        """The operation for ``METHOD raw_path`` (path below the fake's API prefix).

        Raises ``LookupError`` with openapi-core's reason when the description has none.
        """
        url = self.spec.origin + self._rebase(raw_path)
        try:
            found = self._finder.find(method.lower(), url)
        except PathError as exc:
            raise LookupError(explain(exc)) from exc
        template = found.path_result.pattern
        op_spec = self.spec.doc["paths"][template][method.lower()]
        params = {k: unquote(v) for k, v in found.path_result.variables.items()}
        return Operation(
            key=f"{method.upper()} {template}",
            template=template,
            operation_id=str(op_spec.get("operationId") or f"{method.upper()} {template}"),
            params=params,
            spec=op_spec,
        )

    def request_errors(
        self,
        *,
        method: str,
        raw_path: str,
        query: Mapping[str, list[str]],
        headers: Mapping[str, str],
        content_type: str,
        body: bytes | None,
    ) -> list[str]:
        request = _Request(
            host_url=self.spec.origin,
            path=self._rebase(raw_path),
            method=method.lower(),
            parameters=RequestParameters(
                query=ImmutableMultiDict([(k, v) for k, vs in query.items() for v in vs]),
                header=Headers(list(headers.items())),
            ),
            content_type=content_type,
            body=body,
        )
        with self.spec.lock:
            return [explain(e) for e in self.spec.openapi.iter_request_errors(request)]

    def response_errors(
        self,
        *,
        operation: Operation,
        method: str,
        raw_path: str,
        status: int,
        headers: Mapping[str, str],
        body: bytes | None,
    ) -> list[str]:
        content_type = headers.get("Content-Type", "")
        if self._deviation is not None and body:
            try:
                rewritten = self._deviation(operation, status, json.loads(body))
            except ValueError as exc:
                return [f"documented deviation does not fit: {exc}"]
            body = json.dumps(rewritten).encode()
        request = _Request(
            host_url=self.spec.origin,
            path=self._rebase(raw_path),
            method=method.lower(),
            parameters=RequestParameters(),
            content_type="",
            body=None,
        )
        response = _Response(status, content_type, Headers(list(headers.items())), body)
        with self.spec.lock:
            return [explain(e) for e in self.spec.openapi.iter_response_errors(request, response)]


def iter_operations(spec: Spec) -> Iterator[tuple[str, str]]:
    """``("GET", "/repos/{owner}/{repo}")`` for every operation the description has."""
    for template, item in spec.doc["paths"].items():
        for method in ("get", "put", "post", "patch", "delete"):
            if method in item:
                yield method.upper(), template
