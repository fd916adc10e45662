"""What every stage of a promotion's evaluation shares: clients, store, clock, caches."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

import httpx

from image_automation.engine._pr_forges import ForgePool
from image_automation.engine._promo_gates import GateCache
from image_automation.state import StateStore


@dataclass(frozen=True, slots=True)
class StageContext:
    """``forges`` are kept open by the caller (the daemon: for its whole life, so ETag caches
    and rate-limit windows carry over); ``cache`` holds one evaluation's gate answers;
    ``http_transport`` is for tests of the HTTP gate without sockets."""

    forges: ForgePool
    store: StateStore
    clock: Callable[[], datetime]
    secrets_dir: Path | None = None
    dry_run: bool = False
    rate_wait: float = 30.0
    cache: GateCache = field(default_factory=GateCache)
    http_transport: httpx.AsyncBaseTransport | None = None


__all__ = ["StageContext"]
