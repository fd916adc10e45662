"""Schema-valid reply bodies from a few meaningful fields.

The official schemas want dozens of required fields a PR client never reads (GitHub's
``pull-request`` has 42, its ``full-repository`` 75). A fake writes only the fields that carry
its state; :func:`fill` walks the schema and supplies every other required field with the
plainest value its schema allows (empty string, 0, false, null where nullable, the first enum
value, a fixed date for ``date-time``). The reply is still validated against the description
afterwards, so a fill that does not fit the schema shows up as a violation like any other.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

_MISSING: Any = object()
FIXED_TIME = "2026-01-01T00:00:00Z"
_FORMATS = {
    "date-time": FIXED_TIME,
    "date": "2026-01-01",
    "uri": "https://forge.invalid/",
    "url": "https://forge.invalid/",
    "uri-template": "https://forge.invalid/{id}",
    "email": "nobody@forge.invalid",
    "uuid": "00000000-0000-0000-0000-000000000000",
    "ipv4": "127.0.0.1",
}


class Filler:
    """Fills instances of one description's schemas (``$ref``s resolved in ``doc``)."""

    def __init__(self, doc: Mapping[str, Any]) -> None:
        self._doc = doc

    def _resolve(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        seen = 0
        while "$ref" in schema:
            node: Any = self._doc
            for part in schema["$ref"].lstrip("#/").split("/"):
                node = node[part.replace("~1", "/").replace("~0", "~")]
            schema = node
            seen += 1
            if seen > 50:
                raise ValueError("$ref loop")
        return schema

    def _merged(self, schema: Mapping[str, Any]) -> Mapping[str, Any]:
        """``allOf`` folded into one object schema (properties and required united)."""
        schema = self._resolve(schema)
        if "allOf" not in schema:
            return schema
        out: dict[str, Any] = {k: v for k, v in schema.items() if k != "allOf"}
        props: dict[str, Any] = dict(out.get("properties", {}))
        required: list[str] = list(out.get("required", []))
        for part in schema["allOf"]:
            part = self._merged(part)
            for key, value in part.items():
                if key == "properties":
                    props.update(value)
                elif key == "required":
                    required += [r for r in value if r not in required]
                else:
                    out.setdefault(key, value)
        out["properties"], out["required"] = props, required
        out.setdefault("type", "object")
        return out

    def fill(self, schema: Mapping[str, Any], value: Any = _MISSING) -> Any:
        """An instance of ``schema``: ``value`` where given (dicts merged), plain values else."""
        schema = self._merged(schema)
        alternatives = schema.get("oneOf") or schema.get("anyOf")
        if alternatives:
            return self._fill_alternative(schema, alternatives, value)
        kind = schema.get("type")
        if kind == "object" or (kind is None and "properties" in schema):
            if value is None or (value is _MISSING and schema.get("nullable")):
                return None
            return self._fill_object(schema, {} if value is _MISSING else value)
        if value is not _MISSING:
            if kind == "array" and isinstance(value, list):
                items = schema.get("items", {})
                return [self.fill(items, v) for v in value]
            return value
        return self._plain(schema)

    def _fill_alternative(self, schema: Mapping[str, Any], alternatives: Any, value: Any) -> Any:
        # ``nullable`` beside oneOf/anyOf does not admit null in OAS 3.0 validators: fill a branch.
        if value is None:
            return None
        picked = [self._merged(a) for a in alternatives]
        if isinstance(value, dict):
            objects = [a for a in picked if a.get("type") == "object" or "properties" in a]
            return self.fill(objects[0] if objects else picked[0], value)
        if value is not _MISSING:
            return value
        non_null = [a for a in picked if a.get("type") != "null"]
        return self.fill(non_null[0] if non_null else picked[0])

    def _fill_object(self, schema: Mapping[str, Any], value: Mapping[str, Any]) -> Any:
        if not isinstance(value, Mapping):
            return value
        props = schema.get("properties", {})
        out: dict[str, Any] = {}
        for name in [*schema.get("required", []), *value]:
            if name in out:
                continue
            sub = props.get(name)
            if sub is None:
                extra = schema.get("additionalProperties")
                sub = extra if isinstance(extra, Mapping) else {}
            out[name] = self.fill(sub, value.get(name, _MISSING))
        return out

    def _plain(self, schema: Mapping[str, Any]) -> Any:
        if "enum" in schema:
            return schema["enum"][0]
        if "default" in schema and schema["default"] is not None:
            return schema["default"]
        if schema.get("nullable"):
            return None
        kind = schema.get("type")
        if kind == "string":
            text = _FORMATS.get(schema.get("format", ""), "")
            return text.ljust(int(schema.get("minLength", 0)), "x")
        if kind in ("integer", "number"):
            return max(int(schema.get("minimum", 0)), 0)
        if kind == "boolean":
            return False
        if kind == "array":
            count = int(schema.get("minItems", 0))
            return [self.fill(schema.get("items", {})) for _ in range(count)]
        return ""
