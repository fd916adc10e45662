"""State stores: tags, digests, first-seen times, scan status, decisions, pushes, pull requests,
events.

``open_store(url)`` picks a backend by URL scheme from a name → ``"module:attr"`` table and
imports it only then, so a backend's driver (psycopg for PostgreSQL) loads only when chosen.
A plain path means SQLite, the embedded default.
"""

from __future__ import annotations

import importlib
import os
from pathlib import Path
from typing import Any, cast

from image_automation.errors import StateError
from image_automation.state.base import (
    ForgeResponse,
    IgnoredVersion,
    PullRequestRecord,
    PullRequestState,
    PushRecord,
    ScanStatus,
    SetterChange,
    SignatureVerdict,
    StateStore,
    StoredDecision,
    TagDiff,
)

BACKENDS: dict[str, str] = {
    "sqlite": "image_automation.state.sqlite:SqliteStore",
    "postgresql": "image_automation.state.postgres:PostgresStore",
    "postgres": "image_automation.state.postgres:PostgresStore",
}
"""URL scheme → ``"module:attr"`` of a class with ``async open(url) -> StateStore``."""

_EXTRAS = {"postgresql": "postgres", "postgres": "postgres"}
"""Scheme → the ``pip install 'image-automation[EXTRA]'`` that brings its driver."""


def default_state_path() -> Path:
    """``$XDG_STATE_HOME/image-automation/state.db`` (``~/.local/state/...`` by default)."""
    base = os.environ.get("XDG_STATE_HOME") or str(Path.home() / ".local" / "state")
    return Path(base) / "image-automation" / "state.db"


async def open_store(url: str | Path | None = None) -> StateStore:
    """Open the store named by ``url``: ``sqlite:///PATH``, a plain file path, or ``None``
    for :func:`default_state_path`. Raises :class:`StateError` for unknown schemes."""
    if url is None:
        url = default_state_path()
    text = str(url)
    scheme = text.split("://", 1)[0].lower() if "://" in text else "sqlite"
    target = BACKENDS.get(scheme)
    if target is None:
        known = ", ".join(f"{name}://" for name in sorted(BACKENDS))
        raise StateError(f"unknown state store scheme {scheme!r}; known: {known} or a path")
    backend = _import(target, scheme=scheme)
    return cast(StateStore, await backend.open(url))


def _import(target: str, *, scheme: str) -> Any:
    module_name, _, attr = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        extra = _EXTRAS.get(scheme)
        if extra is None or (exc.name or "").startswith("image_automation"):
            raise
        raise StateError(
            f"the {scheme}:// state store needs {exc.name}, which is not installed: "
            f"pip install 'image-automation[{extra}]'"
        ) from exc
    return getattr(module, attr)


__all__ = [
    "BACKENDS",
    "ForgeResponse",
    "IgnoredVersion",
    "PullRequestRecord",
    "PullRequestState",
    "PushRecord",
    "ScanStatus",
    "SetterChange",
    "SignatureVerdict",
    "StateStore",
    "StoredDecision",
    "TagDiff",
    "default_state_path",
    "open_store",
]
