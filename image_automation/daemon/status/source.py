"""Where the daemon's status views get their data: the engine's records plus live facts.

:class:`StatusSource` is what an engine offers (``RepoEngine`` does): the state store's
records and Git's values, and the registry quotas its requests saw. :func:`daemon_reader`
adds what only the running daemon knows (the policy files' names, each automation's last
run) and gives the pages their :data:`~image_automation.daemon.status.web.StatusReader`.
:class:`QuotaBook` remembers the last ``ratelimit-remaining`` each registry host sent.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import datetime
from typing import Protocol

from image_automation.daemon.service import Daemon
from image_automation.daemon.status.model import LiveFacts, Quota
from image_automation.daemon.status.web import StatusReader
from image_automation.engine.status_inputs import StatusInputs
from image_automation.policy import Trace

_NUMBER = re.compile(r"\s*(\d{1,12})\s*(?:;|$)")


class StatusSource(Protocol):
    async def status_inputs(self) -> StatusInputs: ...

    async def status_trace(self, inputs: StatusInputs, policy: str) -> Trace | None: ...

    def quotas(self) -> Mapping[str, Quota]: ...


class QuotaBook:
    """host -> the last quota it announced (``ratelimit-remaining``, ``ratelimit-limit``)."""

    def __init__(self) -> None:
        self._quotas: dict[str, Quota] = {}

    def saw(self, host: str, headers: Mapping[str, str], *, now: datetime) -> None:
        remaining = _first_number(headers.get("ratelimit-remaining"))
        if remaining is None:
            return
        limit = _first_number(headers.get("ratelimit-limit"))
        self._quotas[host] = Quota(host, remaining, limit, now)

    def snapshot(self) -> dict[str, Quota]:
        return dict(self._quotas)


def _first_number(value: str | None) -> int | None:
    """``76`` of ``76;w=21600`` (Docker Hub's form) or of a plain ``76``."""
    match = _NUMBER.match(value or "")
    return int(match.group(1)) if match else None


def live_facts(daemon: Daemon, source: StatusSource) -> LiveFacts:
    config = daemon.config
    problems = [*(config.errors if config else ()), *([daemon.load_problem] if
                daemon.load_problem else [])]  # fmt: skip
    runs = {store_key(a): replace(r, automation=store_key(a)) for a, r in daemon.runs.items()}
    if config is None:
        return LiveFacts(runs=runs, quotas=source.quotas(), problems=problems)
    return LiveFacts(
        policies={p.key: p.image.name for p in config.policies},
        automations=sorted(store_key(a) for a in config.automations),
        runs=runs,
        quotas=source.quotas(),
        repo_urls={store_key(a): t.repo_url for a, t in config.push_targets.items()},
        problems=problems,
    )


def store_key(automation: str) -> str:
    """The state store's name of a daemon's automation: Flux ones are ``namespace/name`` in
    the daemon (its metrics' label) and ``ImageUpdateAutomation/namespace/name`` in the store,
    which the views use so ``status --state`` and the page name them alike."""
    return f"ImageUpdateAutomation/{automation}" if automation.count("/") == 1 else automation


def daemon_reader(daemon: Daemon, source: StatusSource) -> StatusReader:
    async def read() -> tuple[StatusInputs, LiveFacts]:
        return await source.status_inputs(), live_facts(daemon, source)

    return read


__all__ = ["QuotaBook", "StatusSource", "daemon_reader", "live_facts", "store_key"]
