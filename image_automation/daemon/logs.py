"""Structured logs: plain or JSON lines, each carrying what it concerns, never a secret.

What a line concerns (``repository``, ``policy``, ``automation``, ``receiver``; for a commit
``commit`` and each change's ``file``, ``line``, ``old``, ``new``) comes from a context
variable set around a job (:func:`log_context`) or from ``extra=`` at the call. Every
rendered line passes through a redactor that replaces each registered secret (webhook tokens,
git and registry credentials) by ``***``, so a secret that slips into a message or an exception
text is still not written.
"""

from __future__ import annotations

import contextlib
import contextvars
import json
import logging
import sys
import threading
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime
from types import MappingProxyType
from typing import Any, Literal, TextIO

from image_automation.domain import mask_secrets

LogFormat = Literal["plain", "json"]
CONTEXT_FIELDS = (
    "repository", "policy", "automation", "receiver", "result",
    "commit", "file", "line", "old", "new", "head", "action", "pull_request", "url",
)  # fmt: skip

_context: contextvars.ContextVar[Mapping[str, str]] = contextvars.ContextVar(
    "image_automation_log_context", default=MappingProxyType({})
)


@contextlib.contextmanager
def log_context(**fields: str) -> Iterator[None]:
    """Attach ``fields`` to every line logged inside the block (and tasks started in it)."""
    token = _context.set({**_context.get(), **fields})
    try:
        yield
    finally:
        _context.reset(token)


class Redactor:
    """The set of secrets never to print. Thread-safe; secrets shorter than 4 chars ignored."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._secrets: frozenset[str] = frozenset()

    def add(self, *secrets: str) -> None:
        with self._lock:
            self._secrets = self._secrets | {s for s in secrets if len(s) >= 4}

    def __call__(self, text: str) -> str:
        return mask_secrets(text, self._secrets)


REDACTOR = Redactor()
"""The process-wide redactor the formatters use."""


def _fields(record: logging.LogRecord) -> dict[str, str]:
    fields = dict(_context.get())
    for name in CONTEXT_FIELDS:
        value = record.__dict__.get(name)
        if value is not None:
            fields[name] = str(value)
    return fields


class JsonFormatter(logging.Formatter):
    """One JSON object per line: time, level, logger, message, context fields, error."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__()
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        payload: dict[str, Any] = {
            "time": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname.lower(),
            "logger": record.name,
            "message": record.getMessage(),
            **_fields(record),
        }
        if record.exc_info:
            payload["error"] = self.formatException(record.exc_info)
        return self._redact(json.dumps(payload, ensure_ascii=False))


class PlainFormatter(logging.Formatter):
    """``time level logger: message key=value ...`` for humans at a terminal."""

    def __init__(self, redactor: Redactor = REDACTOR) -> None:
        super().__init__("%(asctime)s %(levelname)s %(name)s: %(message)s")
        self._redact = redactor

    def format(self, record: logging.LogRecord) -> str:
        line = super().format(record)
        fields = " ".join(f"{k}={v}" for k, v in _fields(record).items())
        if fields:
            head, sep, tail = line.partition("\n")
            line = f"{head} {fields}{sep}{tail}"
        return self._redact(line)


def configure_logging(
    fmt: LogFormat = "plain", *, level: int = logging.INFO, stream: TextIO | None = None
) -> logging.Handler:
    """Send the package's logs to ``stream`` (stderr) in ``fmt``; returns the handler."""
    handler = logging.StreamHandler(stream or sys.stderr)
    handler.setFormatter(JsonFormatter() if fmt == "json" else PlainFormatter())
    root = logging.getLogger("image_automation")
    for old in [h for h in root.handlers if getattr(h, "_image_automation", False)]:
        root.removeHandler(old)
    handler._image_automation = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level)
    return handler


__all__ = [
    "CONTEXT_FIELDS",
    "REDACTOR",
    "JsonFormatter",
    "LogFormat",
    "PlainFormatter",
    "Redactor",
    "configure_logging",
    "log_context",
]
