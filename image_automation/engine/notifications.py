"""Notification documents + the secrets dir → the notifier's settings, problems at file:line.

Flux ``Provider``/``Alert`` pairs (an alert refers to a provider of its own namespace by
name) and native ``Notification`` documents (both in one) become
:class:`~image_automation.notify.NotifySettings`. A provider whose secret cannot be read,
whose address is not an http(s) URL, or an alert whose provider is missing, is a problem
naming its file and line, and only that one is left out. A provider type we do not deliver
(Flux has many) is a warning: the document is Flux's too.

The address may come from the secret; then a problem never quotes it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import cast
from urllib.parse import urlsplit

from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.notifications import (
    DEFAULT_TIMEOUT,
    DELIVERED_TYPES,
    Alert,
    EventSource,
    Notification,
    Provider,
)
from image_automation.errors import ConfigError, NotifyError
from image_automation.notify import (
    NotifySettings,
    ProviderSecrets,
    ProviderSettings,
    RateLimit,
    Rule,
    Source,
    read_provider_secrets,
)
from image_automation.notify.settings import DEFAULT_ADDRESSES, ProviderType


@dataclass(slots=True)
class NotificationPlan:
    settings: NotifySettings = field(default_factory=NotifySettings)
    problems: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    labels: dict[str, dict[str, str]] = field(default_factory=dict)
    """Object key (``Kind/namespace/name``) → its labels, for ``matchLabels``."""


def _problem(doc: Loaded, message: str, *path: str) -> str:
    return str(ConfigError(message, location=doc.location(*path)))


def _address_problem(address: str, *, from_secret: bool) -> str | None:
    try:
        parts = urlsplit(address)
        ok = parts.scheme in ("http", "https") and bool(parts.hostname)
    except ValueError:
        ok = False
    if ok and not any(c in address for c in " \r\n\t\x00"):
        return None
    shown = "the secret's address" if from_secret else repr(address[:200])
    return f"{shown} is not an http(s) URL"


@dataclass(frozen=True, slots=True)
class _ProviderFields:
    type: str
    address: str | None
    channel: str | None
    username: str | None
    secret: str | None
    timeout_s: float
    rate: RateLimit


def _provider(
    doc: Loaded, fields: _ProviderFields, *, secrets_dir: Path | None, into: NotificationPlan
) -> ProviderSettings | None:
    meta = doc.obj.metadata
    key = f"{meta.namespace}/{meta.name}"
    if fields.type not in DELIVERED_TYPES:
        into.warnings.append(
            _problem(doc, f"provider type {fields.type!r} is not delivered by image-automation "
                     f"(only {', '.join(DELIVERED_TYPES)}); ignored", "spec", "type")
        )  # fmt: skip
        return None
    secrets = ProviderSecrets()
    if fields.secret:
        try:
            secrets = read_provider_secrets(secrets_dir, fields.secret)
        except NotifyError as exc:
            into.problems.append(_problem(doc, str(exc), "spec", "secretRef", "name"))
            return None
    address = secrets.address or fields.address or DEFAULT_ADDRESSES.get(fields.type, "")
    if not address:
        into.problems.append(_problem(doc, "no address (spec.address or the secret's address)",
                                      "spec", "address"))  # fmt: skip
        return None
    from_secret = secrets.address is not None
    wrong = _address_problem(address, from_secret=from_secret)
    if wrong:
        path = ("spec", "secretRef", "name") if from_secret else ("spec", "address")
        into.problems.append(_problem(doc, wrong, *path))
        return None
    return ProviderSettings(
        key=key,
        type=cast(ProviderType, fields.type),
        address=address,
        channel=fields.channel,
        username=fields.username,
        secrets=secrets,
        timeout_s=fields.timeout_s,
        rate=fields.rate,
    )


def _sources(sources: list[EventSource], namespace: str) -> tuple[Source, ...]:
    return tuple(
        Source(kind=s.kind, name=s.name, namespace=s.namespace or namespace,
               labels=dict(s.match_labels) if s.match_labels else None)
        for s in sources
    )  # fmt: skip


def _flux_provider(doc: Loaded, *, secrets_dir: Path | None, into: NotificationPlan) -> None:
    obj = cast(Provider, doc.obj)
    spec = obj.spec
    if spec.suspend:
        return
    if spec.proxy:
        into.warnings.append(_problem(doc, "proxy is not supported; sending directly",
                                      "spec", "proxy"))  # fmt: skip
    if spec.cert_secret_ref:
        into.warnings.append(_problem(doc, "certSecretRef is not supported; the system CAs "
                                      "verify the provider", "spec", "certSecretRef"))  # fmt: skip
    fields = _ProviderFields(
        type=spec.type, address=spec.address, channel=spec.channel, username=spec.username,
        secret=spec.secret_ref.name if spec.secret_ref else None,
        timeout_s=(spec.timeout or DEFAULT_TIMEOUT).total_seconds(), rate=RateLimit(),
    )  # fmt: skip
    provider = _provider(doc, fields, secrets_dir=secrets_dir, into=into)
    if provider is not None:
        _add_provider(doc, provider, into=into)


def _add_provider(doc: Loaded, provider: ProviderSettings, *, into: NotificationPlan) -> None:
    settings = into.settings
    if any(p.key == provider.key for p in settings.providers):
        into.problems.append(_problem(doc, f"a second provider named {provider.key}", "metadata"))
        return
    into.settings = NotifySettings((*settings.providers, provider), settings.rules)


def _add_rule(rule: Rule, *, into: NotificationPlan) -> None:
    settings = into.settings
    into.settings = NotifySettings(settings.providers, (*settings.rules, rule))


def _flux_alert(doc: Loaded, *, into: NotificationPlan) -> None:
    obj = cast(Alert, doc.obj)
    spec, ns = obj.spec, obj.metadata.namespace
    if spec.suspend:
        return
    provider = f"{ns}/{spec.provider_ref.name}"
    rule = Rule(
        key=f"Alert/{ns}/{obj.metadata.name}", provider=provider,
        severity=spec.event_severity, sources=_sources(spec.event_sources, ns),
        include=tuple(spec.inclusion_list), exclude=tuple(spec.exclusion_list),
        metadata=dict(spec.event_metadata), summary=spec.summary,
    )  # fmt: skip
    _add_rule(rule, into=into)


def _native(doc: Loaded, *, secrets_dir: Path | None, into: NotificationPlan) -> None:
    obj = cast(Notification, doc.obj)
    spec, ns = obj.spec, obj.metadata.namespace
    if spec.suspend:
        return
    fields = _ProviderFields(
        type=spec.type, address=spec.address, channel=spec.channel, username=spec.username,
        secret=spec.secret_ref.name if spec.secret_ref else None,
        timeout_s=(spec.timeout or DEFAULT_TIMEOUT).total_seconds(),
        rate=RateLimit(spec.rate_limit.per_minute, spec.rate_limit.burst),
    )  # fmt: skip
    provider = _provider(doc, fields, secrets_dir=secrets_dir, into=into)
    if provider is None:
        return
    _add_provider(doc, provider, into=into)
    sources = _sources(spec.sources, ns) or (Source(kind="*", name="*", namespace=ns),)
    rule = Rule(
        key=f"Notification/{ns}/{obj.metadata.name}", provider=provider.key,
        severity=spec.severity, sources=sources, kinds=frozenset(spec.events),
        include=tuple(spec.inclusion_list), exclude=tuple(spec.exclusion_list),
        metadata=dict(spec.event_metadata),
    )  # fmt: skip
    _add_rule(rule, into=into)


def plan_notifications(loaded: LoadResult, *, secrets_dir: Path | None) -> NotificationPlan:
    """Every usable provider and rule in ``loaded``; see the module docstring."""
    plan = NotificationPlan()
    docs = loaded.notifications
    for doc in docs:
        if isinstance(doc.obj, Provider):
            _flux_provider(doc, secrets_dir=secrets_dir, into=plan)
        elif isinstance(doc.obj, Notification):
            _native(doc, secrets_dir=secrets_dir, into=plan)
    known = {p.key for p in plan.settings.providers}
    declared = {f"{d.obj.metadata.namespace}/{d.obj.metadata.name}"
                for d in docs if isinstance(d.obj, Provider)}  # fmt: skip
    for doc in docs:
        if isinstance(doc.obj, Alert):
            ref = f"{doc.obj.metadata.namespace}/{doc.obj.spec.provider_ref.name}"
            if ref not in declared:
                plan.problems.append(_problem(doc, f"no Provider {ref} in these files",
                                              "spec", "providerRef", "name"))  # fmt: skip
            elif ref in known:
                _flux_alert(doc, into=plan)
    plan.labels = labels_by_object(loaded)
    return plan


def labels_by_object(loaded: LoadResult) -> dict[str, dict[str, str]]:
    out: dict[str, dict[str, str]] = {}
    for doc in loaded.documents:
        meta = doc.obj.metadata
        if meta.labels:
            out[f"{doc.obj.kind}/{meta.namespace}/{meta.name}"] = dict(meta.labels)
    return out


__all__ = ["NotificationPlan", "labels_by_object", "plan_notifications"]
