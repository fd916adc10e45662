"""Event → the HTTP request each service documents, pure: no sockets, no clock.

One function per provider type returns an :class:`Outgoing` (URL, headers, body bytes) or
``None`` when the type has nothing to say about that event (a commit status needs a pushed
commit). Formats, from each service's documentation:

- ``slack``: Block Kit (``header``, ``section`` with ``fields``, ``context``) plus ``text`` as
  the notification fallback; with a token, ``chat.postMessage`` (``channel``, bearer token).
  ``&``, ``<``, ``>`` are escaped as Slack's mrkdwn requires, so a name cannot ping a channel.
- ``msteams``: a Workflows webhook message carrying one Adaptive Card (1.4).
- ``discord``: an execute-webhook body (``content`` + one embed), mentions disabled.
- ``generic``/``generic-hmac``: Flux's event JSON as the body, so existing receivers keep
  working, sent as a CloudEvents 1.0 binary-mode message (``ce-*`` headers); ``generic-hmac``
  adds Flux's ``X-Signature: sha256=<hex HMAC of the body>`` keyed by the secret's token.
- ``pagerduty``: Events API v2: ``failure`` triggers and ``failure_resolved`` resolves one
  alert per object (``dedup_key``); other events are change events.
- ``github``/``gitlab``: a commit status on each pushed commit.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC
from typing import Any
from urllib.parse import quote, urlsplit

from image_automation.domain.events import Event
from image_automation.notify.settings import ProviderSettings

REPORTING_CONTROLLER = "image-automation"
CLOUDEVENT_TYPE_PREFIX = "io.image-automation.event."
USER_AGENT = "image-automation-notifier"


class PayloadError(ValueError):
    """The provider's settings cannot make a request (no routing key, address not a repo)."""


@dataclass(frozen=True, slots=True)
class Outgoing:
    """One request to send. ``url`` carries secrets: never log it (``safe_url``)."""

    url: str = field(repr=False)
    body: bytes = field(repr=False)
    headers: Mapping[str, str] = field(default_factory=dict, repr=False)
    slack_api: bool = False
    """The answer is Slack Web API JSON: a 200 with ``"ok": false`` is a failure."""


@dataclass(frozen=True, slots=True)
class Context:
    """What the rule adds: the alert's ``eventMetadata`` and ``summary``, the instance name."""

    metadata: Mapping[str, str] = field(default_factory=dict)
    summary: str | None = None
    instance: str = REPORTING_CONTROLLER


def _clip(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _json(value: object) -> bytes:
    return json.dumps(value, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _time(event: Event) -> str:
    return event.timestamp.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def metadata_of(event: Event, context: Context) -> dict[str, str]:
    """The alert's metadata under the event's own (the event wins, as in Flux)."""
    merged = dict(context.metadata)
    if context.summary:
        merged["summary"] = context.summary
    merged.update(event.metadata)
    return merged


def title_of(event: Event) -> str:
    obj = event.involved
    return f"{obj.kind}/{obj.namespace}/{obj.name}"


def _base_headers(provider: ProviderSettings) -> dict[str, str]:
    headers = {"Content-Type": "application/json", "User-Agent": USER_AGENT}
    headers.update(provider.secrets.headers)
    return headers


# -- chat -----------------------------------------------------------------------------------


def slack_escape(text: str) -> str:
    return text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def slack(provider: ProviderSettings, event: Event, context: Context) -> Outgoing:
    meta = metadata_of(event, context)
    title = _clip(slack_escape(f"{event.reason}: {title_of(event)}"), 150)
    fields = [
        {"type": "mrkdwn", "text": _clip(f"*{slack_escape(k)}*\n{slack_escape(v)}", 2000)}
        for k, v in sorted(meta.items())[:10]
    ]
    section: dict[str, Any] = {
        "type": "section",
        "text": {"type": "mrkdwn", "text": _clip(slack_escape(event.message), 3000)},
    }
    if fields:
        section["fields"] = fields
    mark = ":red_circle:" if event.severity == "error" else ":large_blue_circle:"
    body: dict[str, Any] = {
        "text": _clip(f"{title}: {slack_escape(event.message)}", 3000),
        "blocks": [
            {"type": "header", "text": {"type": "plain_text", "text": title}},
            section,
            {
                "type": "context",
                "elements": [
                    {"type": "mrkdwn", "text": f"{mark} {event.severity} · {_time(event)}"}
                ],
            },
        ],
    }
    if provider.channel:
        body["channel"] = provider.channel
    username = provider.secrets.username or provider.username
    if username:
        body["username"] = _clip(username, 80)
    headers = _base_headers(provider)
    token = provider.secrets.token
    if token:
        headers["Authorization"] = f"Bearer {token}"
    return Outgoing(provider.address, _json(body), headers, slack_api=bool(token))


def msteams(provider: ProviderSettings, event: Event, context: Context) -> Outgoing:
    meta = metadata_of(event, context)
    card = {
        "$schema": "http://adaptivecards.io/schemas/adaptive-card.json",
        "type": "AdaptiveCard",
        "version": "1.4",
        "body": [
            {
                "type": "TextBlock",
                "text": _clip(f"{event.reason}: {title_of(event)}", 500),
                "weight": "Bolder",
                "size": "Medium",
                "wrap": True,
                "color": "Attention" if event.severity == "error" else "Good",
            },
            {"type": "TextBlock", "text": _clip(event.message, 4000), "wrap": True},
            {
                "type": "FactSet",
                "facts": [
                    {"title": _clip(k, 200), "value": _clip(v, 1000)}
                    for k, v in sorted(meta.items())[:20]
                ],
            },
        ],
    }
    body = {
        "type": "message",
        "attachments": [
            {
                "contentType": "application/vnd.microsoft.card.adaptive",
                "contentUrl": None,
                "content": card,
            }
        ],
    }
    return Outgoing(provider.address, _json(body), _base_headers(provider))


def discord(provider: ProviderSettings, event: Event, context: Context) -> Outgoing:
    meta = metadata_of(event, context)
    embed = {
        "title": _clip(f"{event.reason}: {title_of(event)}", 256),
        "description": _clip(event.message, 2000),
        "color": 0xD93F0B if event.severity == "error" else 0x2F81F7,
        "timestamp": _time(event),
        "fields": [
            {"name": _clip(k, 256), "value": _clip(v or "-", 200), "inline": False}
            for k, v in sorted(meta.items())[:10]
        ],
    }
    body: dict[str, Any] = {
        "content": _clip(f"{event.severity}: {title_of(event)}", 2000),
        "embeds": [embed],
        "allowed_mentions": {"parse": []},
    }
    username = provider.secrets.username or provider.username
    if username:
        body["username"] = _clip(username, 80)
    return Outgoing(provider.address, _json(body), _base_headers(provider))


# -- generic --------------------------------------------------------------------------------


def flux_event(event: Event, context: Context) -> dict[str, Any]:
    """Flux's event object (notification-controller's ``Event`` JSON)."""
    obj = event.involved
    return {
        "involvedObject": {"kind": obj.kind, "namespace": obj.namespace, "name": obj.name},
        "severity": event.severity,
        "timestamp": _time(event),
        "message": event.message,
        "reason": event.reason,
        "metadata": metadata_of(event, context),
        "reportingController": REPORTING_CONTROLLER,
        "reportingInstance": context.instance,
    }


def event_id(event: Event) -> str:
    """Stable per event (same event, same id), so a receiver can drop retried duplicates."""
    text = "\x1f".join([event.kind, event.involved.key, event.timestamp.isoformat(), event.message])
    return hashlib.sha256(text.encode("utf-8", "surrogatepass")).hexdigest()[:32]


def signature(key: str, body: bytes) -> str:
    """Flux's ``X-Signature`` value: ``sha256=`` and the hex HMAC-SHA256 of the body."""
    return "sha256=" + hmac.new(key.encode("utf-8"), body, hashlib.sha256).hexdigest()


def generic(provider: ProviderSettings, event: Event, context: Context) -> Outgoing:
    body = _json(flux_event(event, context))
    headers = _base_headers(provider)
    obj = event.involved
    headers.update(
        {
            "Gotk-Component": REPORTING_CONTROLLER,
            "ce-specversion": "1.0",
            "ce-id": event_id(event),
            "ce-source": f"/{REPORTING_CONTROLLER}/{quote(obj.namespace, safe='')}",
            "ce-type": CLOUDEVENT_TYPE_PREFIX + event.kind,
            "ce-subject": quote(obj.key, safe="/"),
            "ce-time": _time(event),
        }
    )
    if provider.type == "generic-hmac":
        if not provider.secrets.token:
            raise PayloadError("generic-hmac needs a token in its secret (the HMAC key)")
        headers["X-Signature"] = signature(provider.secrets.token, body)
    elif provider.secrets.token:
        headers.setdefault("Authorization", f"Bearer {provider.secrets.token}")
    return Outgoing(provider.address, body, headers)


# -- pagerduty ------------------------------------------------------------------------------


def dedup_key(event: Event) -> str:
    return _clip(f"image-automation/{event.involved.key}", 255)


def pagerduty(provider: ProviderSettings, event: Event, context: Context) -> Outgoing:
    routing = provider.channel or provider.secrets.token
    if not routing:
        raise PayloadError("pagerduty needs the routing key in spec.channel (or the token)")
    base = provider.address.rstrip("/")
    meta = metadata_of(event, context)
    summary = _clip(f"{title_of(event)}: {event.message}", 1024)
    source = f"{REPORTING_CONTROLLER}/{event.involved.namespace}"
    body: dict[str, Any]
    if event.kind == "failure_resolved":
        body = {"routing_key": routing, "event_action": "resolve", "dedup_key": dedup_key(event)}
        return Outgoing(base + "/v2/enqueue", _json(body), _base_headers(provider))
    if event.kind == "failure":
        body = {
            "routing_key": routing,
            "event_action": "trigger",
            "dedup_key": dedup_key(event),
            "client": REPORTING_CONTROLLER,
            "payload": {
                "summary": summary,
                "source": source,
                "severity": "error",
                "timestamp": _time(event),
                "component": event.involved.kind,
                "group": event.involved.namespace,
                "class": event.reason,
                "custom_details": meta,
            },
        }
        return Outgoing(base + "/v2/enqueue", _json(body), _base_headers(provider))
    body = {
        "routing_key": routing,
        "payload": {
            "summary": summary,
            "source": source,
            "timestamp": _time(event),
            "custom_details": meta,
        },
    }
    links = [{"href": v, "text": k} for k, v in sorted(meta.items()) if v.startswith("https://")]
    if links:
        body["links"] = links[:5]
    return Outgoing(base + "/v2/change/enqueue", _json(body), _base_headers(provider))


# -- commit statuses ------------------------------------------------------------------------


def _repo_path(address: str) -> tuple[str, str]:
    parts = urlsplit(address)
    path = parts.path.strip("/").removesuffix(".git")
    if parts.scheme not in ("http", "https") or not parts.netloc or path.count("/") < 1:
        raise PayloadError("the address must be the repository's URL (https://host/owner/repo)")
    return f"{parts.scheme}://{parts.netloc}", path


def _status_context(event: Event) -> str:
    return _clip(f"image-automation/{event.involved.name}", 255)


def github(provider: ProviderSettings, event: Event, context: Context) -> Outgoing | None:
    sha = event.metadata.get("commit")
    if event.kind != "commit_pushed" or not sha:
        return None
    origin, path = _repo_path(provider.address)
    api = "https://api.github.com" if origin == "https://github.com" else origin + "/api/v3"
    body = {
        "state": "success",
        "context": _status_context(event),
        "description": _clip(event.message, 140),
    }
    headers = _base_headers(provider)
    headers["Accept"] = "application/vnd.github+json"
    if provider.secrets.token:
        headers["Authorization"] = f"Bearer {provider.secrets.token}"
    url = f"{api}/repos/{path}/statuses/{quote(sha, safe='')}"
    return Outgoing(url, _json(body), headers)


def gitlab(provider: ProviderSettings, event: Event, context: Context) -> Outgoing | None:
    sha = event.metadata.get("commit")
    if event.kind != "commit_pushed" or not sha:
        return None
    origin, path = _repo_path(provider.address)
    body = {
        "state": "success",
        "name": _status_context(event),
        "description": _clip(event.message, 255),
    }
    headers = _base_headers(provider)
    if provider.secrets.token:
        headers["PRIVATE-TOKEN"] = provider.secrets.token
    url = f"{origin}/api/v4/projects/{quote(path, safe='')}/statuses/{quote(sha, safe='')}"
    return Outgoing(url, _json(body), headers)


Builder = Callable[[ProviderSettings, Event, Context], Outgoing | None]
BUILDERS: dict[str, Builder] = {
    "slack": slack,
    "msteams": msteams,
    "discord": discord,
    "generic": generic,
    "generic-hmac": generic,
    "pagerduty": pagerduty,
    "github": github,
    "gitlab": gitlab,
}


def build(provider: ProviderSettings, event: Event, context: Context) -> Outgoing | None:
    """The request ``provider`` sends for ``event`` (``None``: nothing to send)."""
    return BUILDERS[provider.type](provider, event, context)


__all__ = [
    "BUILDERS",
    "CLOUDEVENT_TYPE_PREFIX",
    "Context",
    "Outgoing",
    "PayloadError",
    "build",
    "dedup_key",
    "event_id",
    "flux_event",
    "signature",
    "slack_escape",
]
