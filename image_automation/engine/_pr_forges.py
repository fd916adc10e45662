"""Forge clients for pull-request automations: which forge, with which token, kept open.

A client is kept per (provider, API root, repository, token) for as long as its pool lives —
one ``reconcile --once`` run, or the daemon's whole life — because it holds the ETag cache
that turns a steady-state reconcile's pull-request read into a free 304, and the rate-limit
window that keeps the next request from walking into a certain 403. The ETags are kept in
the state store too (:class:`StoredResponses`), for the next process.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Self

import httpx

from image_automation.engine.automations import AutomationPlan, PullRequestPlan, forge_token
from image_automation.errors import ConfigError, ForgeError, StateError
from image_automation.forges import (
    CachedResponse,
    Forge,
    ForgeSettings,
    PullRequest,
    detect_forge,
    open_forge,
)
from image_automation.state import StateStore

log = logging.getLogger(__name__)


def forge_settings(plan: AutomationPlan, *, secrets_dir: Path | None) -> ForgeSettings:
    """Where ``plan``'s pull requests go: provider and API from its settings or its URL."""
    pr = plan.pull_request
    if pr is None:
        raise ConfigError(f"{plan.key}: not a pull-request automation")
    location = detect_forge(plan.repo.url, provider=pr.provider, api_url=pr.api_url)
    if location is None:
        raise ConfigError(
            f"{plan.key}: cannot tell which forge hosts its repository; set the provider "
            "(spec.pullRequest.provider or the image-automation.io/forge annotation)"
        )
    token = forge_token(plan, secrets_dir)
    username = _app_password_user(plan, secrets_dir) if location.provider == "bitbucket" else ""
    return ForgeSettings(
        location.provider, location.api_url, location.repository, token=token, username=username
    )


def _app_password_user(plan: AutomationPlan, secrets_dir: Path | None) -> str:
    """A Bitbucket app password goes with its account's user name (Basic auth): the secret's
    ``username`` when its token is the ``password`` file, not a ``bearerToken``."""
    name = (plan.pull_request.secret if plan.pull_request else None) or plan.repo.secret
    if secrets_dir is None or name is None:
        return ""
    folder = secrets_dir / name
    if (folder / "bearerToken").is_file() or not (folder / "username").is_file():
        return ""
    try:
        return (folder / "username").read_text(encoding="utf-8").strip()[:256]
    except (OSError, UnicodeDecodeError):
        return ""


async def decorate(
    forge: Forge, pr: PullRequest, plan: PullRequestPlan, *, provider: str
) -> list[str]:
    """Reviewers, assignees, auto-merge on ``pr``: idempotent, so a run that finds the pull
    request after a restart does it again; what a forge lacks or refuses is a warning, never
    worth failing the run for (temporary errors still raise: the next run repeats it)."""
    warnings: list[str] = []
    assignees = plan.assignees if forge.capabilities.assignees else ()
    if plan.assignees and not assignees:
        warnings.append(f"{provider} has no assignees; not assigning")
    if plan.reviewers or assignees:
        try:
            await forge.request_review(pr.number, reviewers=plan.reviewers, assignees=assignees)
        except ForgeError as exc:
            warnings.append(f"reviewers/assignees not set: {exc}")
    if plan.auto_merge:
        try:
            if not await forge.enable_auto_merge(pr.number, method=plan.auto_merge):
                warnings.append(f"auto-merge is not available on {provider}")
        except ForgeError as exc:
            warnings.append(f"auto-merge not enabled: {exc}")
    return warnings


@dataclass(frozen=True, slots=True)
class StoredResponses:
    """The forge clients' :class:`~image_automation.forges.ResponseCache` in the state store,
    one ``scope`` per (provider, API root, repository): a ``reconcile --once`` process then
    sends the ETags the last one was answered with, and gets a 304 where nothing changed.

    A store that fails is logged and ignored: the request goes out unconditionally instead.
    """

    store: StateStore
    scope: str
    clock: Callable[[], datetime]

    @classmethod
    def of(
        cls, store: StateStore, settings: ForgeSettings, *, clock: Callable[[], datetime]
    ) -> StoredResponses:
        scope = f"{settings.provider} {settings.api_url} {settings.repository}"
        return cls(store, scope, clock)

    async def load(self, key: str) -> CachedResponse | None:
        try:
            found = await self.store.forge_response(self.scope, key)
        except StateError as exc:
            log.warning("kept forge responses unreadable, asking unconditionally: %s", exc)
            return None
        return None if found is None else CachedResponse(etag=found.etag, body=found.body)

    async def save(self, key: str, response: CachedResponse) -> None:
        try:
            await self.store.save_forge_response(
                self.scope, key, etag=response.etag, body=response.body, now=self.clock()
            )
        except StateError as exc:
            log.warning("cannot keep a forge response: %s", exc)


class ForgePool:
    """Open forge clients by settings; ``async with`` closes them all.

    ``on_token`` sees every token before it is used (the daemon adds it to its log
    redactor); ``transport`` is for tests that talk to a fake without sockets.
    """

    def __init__(
        self,
        *,
        on_token: Callable[[str], None] | None = None,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        self._open: dict[tuple[str, str, str, str], Forge] = {}
        self._on_token = on_token
        self._transport = transport

    def forge(self, settings: ForgeSettings) -> Forge:
        """The client for ``settings``, opened on first use."""
        digest = hashlib.sha256(settings.token.encode()).hexdigest()
        key = (settings.provider, settings.api_url, settings.repository, digest)
        found = self._open.get(key)
        if found is None:
            if self._on_token is not None and settings.token:
                self._on_token(settings.token)
            found = self._open[key] = open_forge(settings, transport=self._transport)
        return found

    def __len__(self) -> int:
        return len(self._open)

    async def aclose(self) -> None:
        clients, self._open = list(self._open.values()), {}
        for client in clients:
            await client.aclose()

    async def __aenter__(self) -> Self:
        return self

    async def __aexit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:  # fmt: skip
        await self.aclose()


__all__ = ["ForgePool", "StoredResponses", "decorate", "forge_settings"]
