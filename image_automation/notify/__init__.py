"""Notifications: events → Slack, Teams, Discord, PagerDuty, webhooks, commit statuses.

An adapter like ``registry`` and ``git``: it knows HTTP and the services' formats, not our
configuration files. The engine turns Flux ``Provider``/``Alert`` and native
``Notification`` documents into :class:`NotifySettings`; the daemon subscribes a
:class:`Notifier` to the event bus.
"""

from image_automation.notify.delivery import Counts, DeliveryPolicy, Notifier, TokenBucket
from image_automation.notify.payloads import Context, Outgoing, PayloadError, build
from image_automation.notify.routing import CompiledRule, route
from image_automation.notify.secrets import read_provider_secrets
from image_automation.notify.settings import (
    PROVIDER_TYPES,
    NotifySettings,
    ProviderSecrets,
    ProviderSettings,
    RateLimit,
    Rule,
    Source,
    safe_url,
)

__all__ = [
    "PROVIDER_TYPES",
    "CompiledRule",
    "Context",
    "Counts",
    "DeliveryPolicy",
    "Notifier",
    "NotifySettings",
    "Outgoing",
    "PayloadError",
    "ProviderSecrets",
    "ProviderSettings",
    "RateLimit",
    "Rule",
    "Source",
    "TokenBucket",
    "build",
    "read_provider_secrets",
    "route",
    "safe_url",
]
