"""Forge adapters (GitHub, GitLab, Gitea/Forgejo, Bitbucket Cloud, Azure DevOps) behind one
protocol, :class:`Forge`.

Implementations are named in :data:`FORGES` as ``"module:attr"`` and imported only when
chosen, so a GitLab user never loads the GitHub App's JWT code (nor its optional
dependencies)::

    forge = open_forge(ForgeSettings("github", "https://api.github.com", "org/fleet", token=t))
    pull = await forge.find_pull_request("image-automation/web")
"""

from __future__ import annotations

import importlib
import typing

import httpx

from image_automation import errors as _errors
from image_automation.forges._detect import PROVIDERS, ForgeLocation, detect_forge
from image_automation.forges._limits import Clock, SystemClock
from image_automation.forges.base import (
    CachedResponse,
    Capabilities,
    CheckRun,
    Checks,
    Forge,
    ForgeSettings,
    GitHubApp,
    MergeMethod,
    NewPullRequest,
    PullRequest,
    ResponseCache,
)

if typing.TYPE_CHECKING:  # mypy checks that every implementation satisfies the protocol
    from image_automation.forges.azuredevops import AzureDevOpsForge
    from image_automation.forges.bitbucket import BitbucketForge
    from image_automation.forges.gitea import GiteaForge
    from image_automation.forges.github import GitHubForge
    from image_automation.forges.gitlab import GitLabForge

    def _conforming(
        a: AzureDevOpsForge, b: BitbucketForge, c: GiteaForge, d: GitHubForge, e: GitLabForge
    ) -> tuple[Forge, ...]:
        return (a, b, c, d, e)


FORGES: dict[str, str] = {
    "github": "image_automation.forges.github:GitHubForge",
    "gitlab": "image_automation.forges.gitlab:GitLabForge",
    "gitea": "image_automation.forges.gitea:GiteaForge",
    "forgejo": "image_automation.forges.gitea:GiteaForge",
    "bitbucket": "image_automation.forges.bitbucket:BitbucketForge",
    "azuredevops": "image_automation.forges.azuredevops:AzureDevOpsForge",
}
"""Provider name → implementation, imported on first use."""


def open_forge(
    settings: ForgeSettings,
    *,
    transport: httpx.AsyncBaseTransport | None = None,
    clock: Clock | None = None,
) -> Forge:
    """The client for ``settings.provider``; close it with ``aclose()``."""
    target = FORGES.get(settings.provider)
    if target is None:
        raise _errors.ForgeError(
            f"unknown forge provider {settings.provider[:40]!r}; known: {', '.join(FORGES)}"
        )
    module_name, _, attr = target.partition(":")
    factory = getattr(importlib.import_module(module_name), attr)
    forge: Forge = factory(settings, transport=transport, clock=clock or SystemClock())
    return forge


__all__ = [
    "FORGES",
    "PROVIDERS",
    "CachedResponse",
    "Capabilities",
    "CheckRun",
    "Checks",
    "Clock",
    "Forge",
    "ForgeLocation",
    "ForgeSettings",
    "GitHubApp",
    "MergeMethod",
    "NewPullRequest",
    "PullRequest",
    "ResponseCache",
    "SystemClock",
    "detect_forge",
    "open_forge",
]
