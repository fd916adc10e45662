"""The forges' official API descriptions, as the unit tests hold our clients to them.

Every request a client sends through :class:`MockForge` is validated with openapi-core
against the forge's slice, and so is every answer the test gives back: a client that sends a
field the forge does not know, or a test that feeds the client an answer the real forge
could not give, fails the test. Answers are built by :meth:`Contract.sample` from the schema
(every required field, nullable ones as null) plus the fields a test cares about.

The slices live in ``tests/fixtures/forge-specs/<forge>/slice.openapi3.json`` (cut from the
full official files; ``tests/fixtures/forge-specs/regen.sh`` and its README say how). GitLab
publishes no file we have: ``gitlab/contract.openapi3.json`` there is our own contract,
written from GitLab's REST documentation, the same one the fake forges answer by.
:func:`slice_path` is the one place that knows where they are.
"""

from __future__ import annotations

import copy
import json
import re
import warnings
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
from openapi_core import OpenAPI
from openapi_core.datatypes import RequestParameters
from werkzeug.datastructures import Headers, ImmutableMultiDict

HERE = Path(__file__).resolve().parent
FIXTURES = HERE.parents[1] / "fixtures" / "forge-specs"
FORGES = ("github", "gitea", "forgejo", "bitbucket-cloud", "azure-devops", "gitlab")
_SERVER = "https://spec.test"


def slice_path(forge: str) -> Path:
    """The committed OpenAPI 3 description of ``forge``'s operations we use."""
    candidates = [
        FIXTURES / forge / "slice.openapi3.json",
        FIXTURES / forge / "contract.openapi3.json",
    ]
    for candidate in candidates:
        if candidate.is_file():
            return candidate
    raise FileNotFoundError(f"no API description for {forge}: looked in {candidates}")


@cache
def contract(forge: str) -> Contract:
    return Contract(forge, json.loads(slice_path(forge).read_text(encoding="utf-8-sig")))


@dataclass
class _Request:
    """httpx.Request in the shape openapi-core reads (path relative to the spec server)."""

    method: str
    path: str
    parameters: RequestParameters
    body: bytes | None
    content_type: str
    host_url: str = _SERVER


@dataclass
class _Response:
    status_code: int
    data: bytes | None
    headers: Mapping[str, Any]
    content_type: str


class Contract:
    """One forge's slice: validate requests and answers, and build valid answers."""

    def __init__(self, forge: str, spec: dict[str, Any]) -> None:
        self.forge = forge
        self.spec = spec
        served = copy.deepcopy(spec)
        served["servers"] = [{"url": _SERVER}]
        self.api = OpenAPI.from_dict(served)
        self.templates = [
            (method.upper(), template, _template_re(template))
            for template, item in spec["paths"].items()
            for method in item
            if method in ("get", "put", "post", "patch", "delete")
        ]

    def operation(self, method: str, path: str) -> str:
        """The path template of ``method path`` (raw, percent-encoded path)."""
        for verb, template, pattern in self.templates:
            if verb == method and pattern.fullmatch(path):
                return template
        raise AssertionError(f"{self.forge}: {method} {path} is not an operation of the slice")

    def _adapt(self, request: httpx.Request, path: str) -> _Request:
        query = parse_qs(request.url.query.decode(), keep_blank_values=True)
        body = request.content or None
        content_type = request.headers.get("content-type", "application/json")
        return _Request(
            method=request.method.lower(),
            path=path,
            parameters=RequestParameters(
                query=ImmutableMultiDict(query),
                header=Headers(dict(request.headers)),
                cookie=ImmutableMultiDict(),
            ),
            body=body,
            content_type=content_type,
        )

    def check_request(self, request: httpx.Request, path: str) -> str:
        """Validate ``request`` (``path``: its path below the spec's server); its template."""
        template = self.operation(request.method, path)
        operation = self.spec["paths"][template][request.method.lower()]
        if operation.get("security", self.spec.get("security")) and (
            "authorization" not in request.headers
        ):
            # openapi-core cannot check oauth2 (Azure's and Bitbucket's only scheme on some
            # operations) and only warns: we demand some credential ourselves.
            raise AssertionError(f"{self.forge}: {request.method} {path} sent no credentials")
        try:
            with warnings.catch_warnings():
                warnings.filterwarnings("ignore", "Unsupported scheme type")
                self.api.validate_request(self._adapt(request, path))
        except Exception as exc:
            raise AssertionError(
                f"{self.forge}: request {request.method} {path} violates the spec: {_explain(exc)}"
            ) from exc
        if self.forge == "azure-devops":
            self._check_api_version(request, template)
        return template

    def check_response(self, request: httpx.Request, path: str, response: httpx.Response) -> None:
        body = response.content or None
        if self.forge == "azure-devops" and body:
            body = _azure_unwrapped(body)
        answer = _Response(
            status_code=response.status_code,
            data=body,
            headers=dict(response.headers),
            content_type=response.headers.get("content-type", "application/json"),
        )
        try:
            self.api.validate_response(self._adapt(request, path), answer)
        except Exception as exc:
            raise AssertionError(
                f"{self.forge}: answer {response.status_code} to {request.method} {path} "
                f"violates the spec: {_explain(exc)}"
            ) from exc

    def _check_api_version(self, request: httpx.Request, template: str) -> None:
        """Azure declares api-version as any string; its description names the one value."""
        operation = self.spec["paths"][template][request.method.lower()]
        for parameter in operation.get("parameters", []):
            parameter = self.resolve(parameter)
            if parameter.get("name") == "api-version":
                wanted = re.search(r"'([^']+)'", parameter.get("description", ""))
                sent = request.url.params.get("api-version")
                if wanted and sent != wanted.group(1):
                    raise AssertionError(
                        f"azure-devops: {request.method} {template} sent api-version={sent}, "
                        f"the spec says {wanted.group(1)}"
                    )

    def resolve(self, node: Any) -> Any:
        while isinstance(node, dict) and "$ref" in node:
            target: Any = self.spec
            for part in node["$ref"][2:].split("/"):
                target = target[part.replace("~1", "/").replace("~0", "~")]
            node = target
        return node

    def sample(self, method: str, template: str, status: int = 200, /, **fields: Any) -> Any:
        """A schema-valid answer of ``method template`` with ``fields`` merged in."""
        response = self.resolve(self.spec["paths"][template][method.lower()]["responses"])
        response = self.resolve(response[str(status)])
        schema = next(iter(response["content"].values()))["schema"]
        return merge(Sampler(self).value(schema), fields)

    def schema_sample(self, schema_name: str, /, **fields: Any) -> Any:
        ref = {"$ref": f"#/components/schemas/{schema_name}"}
        return merge(Sampler(self).value(ref), fields)


def merge(base: Any, fields: Mapping[str, Any]) -> Any:
    """``fields`` deep-merged into the dict ``base`` (lists and scalars replace)."""
    if not fields:
        return base
    out = dict(base)
    for key, value in fields.items():
        if isinstance(value, Mapping) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


class Sampler:
    """The smallest valid instance of a schema: required fields only, null where allowed."""

    def __init__(self, contract: Contract) -> None:
        self._contract = contract

    def value(self, schema: Any, depth: int = 0) -> Any:
        name = ""
        if isinstance(schema, dict) and "$ref" in schema:
            name = schema["$ref"].rsplit("/", 1)[-1]
        schema = self._flatten(self._contract.resolve(schema))
        if depth > 15:
            raise AssertionError("schema nests too deep to sample")
        if "enum" in schema:
            return schema["enum"][0]
        kind = schema.get("type") or ("object" if "properties" in schema else "string")
        if kind == "object":
            return self._object(schema, name, depth)
        if kind == "array":
            count = int(schema.get("minItems", 0))
            return [self.value(schema.get("items", {}), depth + 1) for _ in range(count)]
        return _scalar(kind, schema)

    def _object(self, schema: dict[str, Any], name: str, depth: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        properties = schema.get("properties", {})
        for key in schema.get("required", []):
            prop = self._contract.resolve(properties.get(key, {}))
            if prop.get("nullable"):
                out[key] = None
            else:
                out[key] = self.value(properties.get(key, {}), depth + 1)
        discriminator = schema.get("discriminator", {}).get("propertyName")
        if discriminator and name:
            out[discriminator] = name
        return out

    def _flatten(self, schema: Any) -> dict[str, Any]:
        """allOf merged into one schema; oneOf/anyOf: the first choice."""
        if not isinstance(schema, dict):
            return {}
        for key in ("oneOf", "anyOf"):
            if key in schema:
                rest = {k: v for k, v in schema.items() if k != key}
                return self._flatten(
                    {**rest, **self._flatten(self._contract.resolve(schema[key][0]))}
                )
        if "allOf" not in schema:
            return schema
        merged: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        for part in schema["allOf"]:
            flat = self._flatten(self._contract.resolve(part))
            merged.setdefault("properties", {})
            merged["properties"] = {**flat.get("properties", {}), **merged["properties"]}
            merged["required"] = sorted({*merged.get("required", []), *flat.get("required", [])})
            for key in ("type", "discriminator"):
                if key in flat and key not in merged:
                    merged[key] = flat[key]
        return merged


def _scalar(kind: str, schema: dict[str, Any]) -> Any:
    if kind == "integer":
        return max(1, int(schema.get("minimum", 1)))
    if kind == "number":
        return 1.0
    if kind == "boolean":
        return False
    formats = {
        "date-time": "2026-01-01T00:00:00Z",
        "date": "2026-01-01",
        "uri": "https://forge.test/x",
        "email": "someone@forge.test",
        "uuid": "00000000-0000-0000-0000-000000000001",
    }
    return formats.get(schema.get("format", ""), "x" * max(1, int(schema.get("minLength", 1))))


def _template_re(template: str) -> re.Pattern[str]:
    parts = re.split(r"(\{[^}]+\})", template)
    return re.compile("".join("[^/]+" if p.startswith("{") else re.escape(p) for p in parts))


def _azure_unwrapped(body: bytes) -> bytes:
    """Azure's one documented deviation: lists are ``{"count", "value"}`` on the wire while
    the spec declares bare arrays (README pitfalls). Nothing else is relaxed."""
    try:
        data = json.loads(body)
    except ValueError:
        return body
    if isinstance(data, dict) and set(data) == {"count", "value"}:
        return json.dumps(data["value"]).encode()
    return body


def _explain(exc: BaseException) -> str:
    parts = [f"{type(exc).__name__}: {exc}"]
    seen = exc.__cause__ or exc.__context__
    errors = getattr(exc, "schema_errors", None) or getattr(seen, "schema_errors", None) or ()
    parts += [f"  - {getattr(e, 'message', e)}" for e in list(errors)[:5]]
    if seen is not None and not errors:
        parts.append(f"  caused by {type(seen).__name__}: {seen}")
    return "\n".join(parts)
