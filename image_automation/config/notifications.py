"""Notification documents: Flux ``Provider`` + ``Alert`` (notification.toolkit.fluxcd.io/v1beta3)
as they are, and our native ``Notification`` (a provider and its filter in one document).

Why read Flux's files: teams that run Flux already describe where alerts go this way; the
same ``Provider``/``Alert`` pair then also carries our events (commit pushed, pull request
opened, repeated failure). Fields Flux has and we do not use (``interval``, ``proxy``) are
accepted and ignored so a Flux file loads unchanged; a provider type we cannot deliver is a
warning at planning time, not a load error, since the file is Flux's too.

User regexes (``inclusionList``/``exclusionList``) compile with RE2 here, so a bad one is an
error at its own ``file:line``.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import Field, field_validator

from image_automation.config.models import Duration, LocalObjectReference, _Model, _Object
from image_automation.policy import InvalidPattern, compile_pattern

NOTIFICATION_V1BETA3 = "notification.toolkit.fluxcd.io/v1beta3"
PROVIDER_KIND = "Provider"
ALERT_KIND = "Alert"
NOTIFICATION_KIND = "Notification"

DELIVERED_TYPES = (
    "slack",
    "msteams",
    "discord",
    "generic",
    "generic-hmac",
    "pagerduty",
    "github",
    "gitlab",
)
"""Provider types we deliver; Flux's others (telegram, datadog, ...) are ignored with a warning."""

MAX_PATTERNS = 100
MAX_SOURCES = 200


def _patterns(values: list[str]) -> list[str]:
    for value in values:
        try:
            compile_pattern(value)
        except InvalidPattern as exc:
            raise ValueError(str(exc)) from None
    return values


Patterns = Annotated[list[Annotated[str, Field(max_length=1024)]], Field(max_length=MAX_PATTERNS)]


class ProviderSpec(_Model):
    """Flux ``Provider.spec``; only ``type`` is required."""

    type: Annotated[str, Field(min_length=1, max_length=64)]
    address: Annotated[str, Field(max_length=2048)] | None = None
    channel: Annotated[str, Field(max_length=256)] | None = None
    username: Annotated[str, Field(max_length=256)] | None = None
    secret_ref: LocalObjectReference | None = None
    cert_secret_ref: LocalObjectReference | None = None
    timeout: Duration | None = None
    interval: Duration | None = None
    """Deprecated in Flux and unused here."""
    proxy: str | None = None
    """Accepted so Flux files load; we send directly (a warning says so)."""
    suspend: bool = False
    commit_status_expr: str | None = None


class Provider(_Object):
    kind: Literal["Provider"]
    spec: ProviderSpec


class EventSource(_Model):
    """Which objects an alert listens to. ``name`` may be ``*`` or a glob with ``*``;
    ``namespace`` defaults to the alert's own."""

    api_version: str | None = None
    kind: Annotated[str, Field(min_length=1, max_length=128)]
    name: Annotated[str, Field(min_length=1, max_length=253)]
    namespace: Annotated[str, Field(max_length=253)] | None = None
    match_labels: dict[str, str] | None = None


class AlertSpec(_Model):
    provider_ref: LocalObjectReference
    event_severity: Literal["info", "error"] = "info"
    event_sources: Annotated[list[EventSource], Field(min_length=1, max_length=MAX_SOURCES)]
    inclusion_list: Patterns = Field(default_factory=list)
    exclusion_list: Patterns = Field(default_factory=list)
    event_metadata: dict[str, str] = Field(default_factory=dict)
    summary: Annotated[str, Field(max_length=255)] | None = None
    suspend: bool = False

    _check_patterns = field_validator("inclusion_list", "exclusion_list")(_patterns)


class Alert(_Object):
    kind: Literal["Alert"]
    spec: AlertSpec


EventName = Literal[
    "commit_pushed",
    "pr_opened",
    "pr_updated",
    "pr_merged",
    "pr_closed",
    "promotion",
    "hold",
    "failure",
    "failure_resolved",
]


class RateLimit(_Model):
    """At most ``per_minute`` requests to the provider, bursts of ``burst``."""

    per_minute: Annotated[int, Field(ge=1, le=6000)] = 30
    burst: Annotated[int, Field(ge=1, le=1000)] = 5


class NotificationSpec(_Model):
    """Our native kind: the provider fields, the filter, and the event kinds wanted."""

    type: Annotated[str, Field(min_length=1, max_length=64)]
    address: Annotated[str, Field(max_length=2048)] | None = None
    channel: Annotated[str, Field(max_length=256)] | None = None
    username: Annotated[str, Field(max_length=256)] | None = None
    secret_ref: LocalObjectReference | None = None
    timeout: Duration | None = None
    severity: Literal["info", "error"] = "info"
    sources: Annotated[list[EventSource], Field(max_length=MAX_SOURCES)] = Field(
        default_factory=list
    )
    """Empty: every object of the notification's namespace."""
    events: Annotated[list[EventName], Field(max_length=20)] = Field(default_factory=list)
    """Empty: every event kind."""
    inclusion_list: Patterns = Field(default_factory=list)
    exclusion_list: Patterns = Field(default_factory=list)
    event_metadata: dict[str, str] = Field(default_factory=dict)
    rate_limit: RateLimit = Field(default_factory=RateLimit)
    suspend: bool = False

    _check_patterns = field_validator("inclusion_list", "exclusion_list")(_patterns)


class Notification(_Object):
    kind: Literal["Notification"]
    spec: NotificationSpec


DEFAULT_TIMEOUT = timedelta(seconds=15)

__all__ = [
    "ALERT_KIND",
    "DEFAULT_TIMEOUT",
    "DELIVERED_TYPES",
    "NOTIFICATION_KIND",
    "NOTIFICATION_V1BETA3",
    "PROVIDER_KIND",
    "Alert",
    "AlertSpec",
    "EventSource",
    "Notification",
    "NotificationSpec",
    "Provider",
    "ProviderSpec",
    "RateLimit",
]
