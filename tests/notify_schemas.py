"""Check notification payloads against the JSON schemas in tests/fixtures/notify-schemas.

Each schema was written from the service's own documentation (its ``$comment`` says which
page); :func:`problems` returns every violation, [] for a valid body. Formats are checked
(``date-time`` through jsonschema's checker; the CloudEvents ``source`` URI-reference by
hand, which jsonschema cannot check without an extra package), and a self-test makes sure a
wrong body is refused, so a schema that accepts anything fails.
"""

from __future__ import annotations

import json
from functools import cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema

SCHEMAS = Path(__file__).parent / "fixtures" / "notify-schemas"


@cache
def validator(name: str) -> jsonschema.Draft202012Validator:
    schema = json.loads((SCHEMAS / f"{name}.schema.json").read_text())
    jsonschema.Draft202012Validator.check_schema(schema)
    return jsonschema.Draft202012Validator(
        schema, format_checker=jsonschema.Draft202012Validator.FORMAT_CHECKER
    )


def problems(name: str, body: Any) -> list[str]:
    found = [
        f"{'/'.join(map(str, e.absolute_path)) or '<root>'}: {e.message}"
        for e in validator(name).iter_errors(body)
    ]
    if name == "cloudevents-1.0" and isinstance(body, dict):
        source = str(body.get("source", ""))
        relative = source.startswith("/") and not any(c.isspace() for c in source)
        absolute = bool(urlsplit(source).scheme) and not any(c.isspace() for c in source)
        if not (relative or absolute):
            found.append(f"source: {source!r} is not a URI-reference")
    return found


def cloudevent_from_headers(headers: Any, body: bytes) -> dict[str, Any]:
    """The structured CloudEvent a binary-mode HTTP message stands for."""
    event: dict[str, Any] = {
        key[3:].lower(): value for key, value in headers.items() if key.lower().startswith("ce-")
    }
    event["datacontenttype"] = headers.get("Content-Type", "")
    event["data"] = json.loads(body)
    return event
