"""Views as JSON: dataclasses to plain data, datetimes as ISO 8601 UTC, and a content tag.

Pure. The content tag (the ETag) hashes the data *without* ``generated_at``, so a client that
polls gets a 304 for as long as nothing it shows has changed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from markupsafe import Markup


def plain(obj: Any) -> Any:
    """``obj`` as JSON-ready data (dataclasses become objects, tuples lists)."""
    if dataclasses.is_dataclass(obj) and not isinstance(obj, type):
        return {f.name: plain(getattr(obj, f.name)) for f in dataclasses.fields(obj)}
    if isinstance(obj, datetime):
        return obj.isoformat().replace("+00:00", "Z")
    if isinstance(obj, Markup):
        return str(obj)
    if isinstance(obj, Mapping):
        return {str(k): plain(v) for k, v in obj.items()}
    if isinstance(obj, list | tuple):
        return [plain(v) for v in obj]
    return obj


def dumps(data: Any) -> bytes:
    return json.dumps(data, ensure_ascii=False, sort_keys=True, indent=1).encode("utf-8")


def content_tag(data: Any, *, kind: str) -> str:
    """A weak ETag of ``data`` minus its top-level ``generated_at``."""
    if isinstance(data, dict):
        data = {k: v for k, v in data.items() if k != "generated_at"}
    digest = hashlib.sha256(kind.encode() + b"\0" + dumps(data)).hexdigest()[:32]
    return f'W/"{digest}"'


__all__ = ["content_tag", "dumps", "plain"]
