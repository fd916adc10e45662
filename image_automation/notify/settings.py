"""What the notifier is told: providers (where and how to send) and rules (which events).

Plain frozen values, built by the engine from Flux ``Provider``/``Alert`` files or native
``Notification`` documents and the secrets dir, so this adapter never reads configuration.
Secrets (webhook URL, token, HMAC key) sit in :class:`ProviderSecrets`, whose ``repr`` shows
none of them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Literal
from urllib.parse import urlsplit

ProviderType = Literal[
    "slack", "msteams", "discord", "generic", "generic-hmac", "pagerduty", "github", "gitlab"
]  # fmt: skip
PROVIDER_TYPES: tuple[str, ...] = (
    "slack", "msteams", "discord", "generic", "generic-hmac", "pagerduty", "github", "gitlab"
)  # fmt: skip

DEFAULT_ADDRESSES: dict[str, str] = {
    "pagerduty": "https://events.pagerduty.com",
    "github": "",
    "gitlab": "",
}


def safe_url(url: str) -> str:
    """Scheme and host of ``url`` only: webhook URLs carry their secret in the path or query,
    so nothing after the host ever reaches a log line, a metric or an error."""
    try:
        parts = urlsplit(url)
        host = parts.hostname or "?"
        port = f":{parts.port}" if parts.port else ""
    except ValueError:
        return "<invalid URL>"
    return f"{parts.scheme or '?'}://{host}{port}/…"


@dataclass(frozen=True, slots=True)
class ProviderSecrets:
    """Values read from the provider's secret; never shown by ``repr``."""

    address: str | None = field(default=None, repr=False)
    token: str | None = field(default=None, repr=False)
    username: str | None = field(default=None, repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)

    def values(self) -> list[str]:
        """Every secret string, for masking in messages."""
        out = [v for v in (self.address, self.token) if v]
        out.extend(v for v in self.headers.values() if v)
        return out


@dataclass(frozen=True, slots=True)
class RateLimit:
    per_minute: int = 30
    burst: int = 5


@dataclass(frozen=True, slots=True)
class ProviderSettings:
    """One destination. ``key`` is ``namespace/name`` (metrics label, rule reference)."""

    key: str
    type: ProviderType
    address: str = field(repr=False)
    channel: str | None = field(default=None, repr=False)
    username: str | None = None
    secrets: ProviderSecrets = field(default_factory=ProviderSecrets)
    timeout_s: float = 15.0
    rate: RateLimit = field(default_factory=RateLimit)

    @property
    def where(self) -> str:
        """The address as it may be shown: scheme and host only."""
        return safe_url(self.address)


@dataclass(frozen=True, slots=True)
class Source:
    """An event source filter: ``name`` may hold ``*``; ``namespace`` is always set."""

    kind: str
    name: str
    namespace: str
    labels: Mapping[str, str] | None = None


@dataclass(frozen=True, slots=True)
class Rule:
    """Which events go to ``provider``: at or above ``severity`` (``info`` = all), from one
    of ``sources``, of one of ``kinds`` (empty: any), message matching an inclusion pattern
    (when there are any) and no exclusion pattern. Patterns are RE2 source text."""

    key: str
    provider: str
    severity: Literal["info", "error"] = "info"
    sources: tuple[Source, ...] = ()
    kinds: frozenset[str] = frozenset()
    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()
    metadata: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None


@dataclass(frozen=True, slots=True)
class NotifySettings:
    providers: tuple[ProviderSettings, ...] = ()
    rules: tuple[Rule, ...] = ()


__all__ = [
    "DEFAULT_ADDRESSES",
    "PROVIDER_TYPES",
    "NotifySettings",
    "ProviderSecrets",
    "ProviderSettings",
    "ProviderType",
    "RateLimit",
    "Rule",
    "Source",
    "safe_url",
]
