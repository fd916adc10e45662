"""Flux ``Receiver`` objects (notification.toolkit.fluxcd.io/v1): webhooks that wake scans.

Users of Flux already declare webhook receivers this way, so the daemon reads the same
documents from the repository. Only what a receiver needs here is modelled: its type (which
decides how a request is verified), the events to act on, the secret holding its token and the
image repositories it names. The webhook path is Flux's: ``/hook/`` + hex sha256 of token +
name + namespace, so an existing registry webhook keeps working when pointed at the daemon.

Kept out of :mod:`image_automation.config.models` so that module stays a leaf of its own; the
loader maps the (apiVersion, kind) pair here.
"""

from __future__ import annotations

import hashlib
from typing import Annotated, Literal, get_args

from pydantic import Field, field_validator, model_validator

from image_automation.config.models import LocalObjectReference, _Model, _Object

NOTIFICATION_V1 = "notification.toolkit.fluxcd.io/v1"
RECEIVER_KIND = "Receiver"
HOOK_PREFIX = "/hook/"

ReceiverType = Literal[
    "dockerhub", "harbor", "quay", "github", "gitlab", "acr", "generic", "generic-hmac"
]
RECEIVER_TYPES: tuple[str, ...] = get_args(ReceiverType)
EVENT_FILTERING_TYPES = frozenset({"github", "gitlab"})
"""Types whose requests carry an event name that ``spec.events`` filters (Flux)."""


class ReceiverResource(_Model):
    """One image repository a receiver wakes, by name.

    ``name: "*"`` with ``matchLabels`` (Flux's label selection) is not supported: a hook must
    name exactly the repositories it may trigger, so a wildcard is an error.
    """

    api_version: str | None = None
    kind: Literal["ImageRepository", "TrackedImage"]
    name: Annotated[str, Field(min_length=1, max_length=253)]
    namespace: str | None = None

    @field_validator("name")
    @classmethod
    def _no_wildcard(cls, value: str) -> str:
        if "*" in value:
            raise ValueError("'*' (label selection) is not supported; name each repository")
        return value


class ReceiverSpec(_Model):
    type: ReceiverType
    events: list[str] = Field(default_factory=list)
    secret_ref: LocalObjectReference
    resources: Annotated[list[ReceiverResource], Field(min_length=1)]
    interval: str | None = None
    suspend: bool = False

    @model_validator(mode="after")
    def _events_only_where_filtered(self) -> ReceiverSpec:
        if self.events and self.type not in EVENT_FILTERING_TYPES:
            raise ValueError(
                f"events cannot be filtered for type {self.type}; only for "
                + ", ".join(sorted(EVENT_FILTERING_TYPES))
            )
        return self


class Receiver(_Object):
    kind: Literal["Receiver"]
    spec: ReceiverSpec

    def targets(self) -> list[tuple[str, str, str]]:
        """``(kind, namespace, name)`` of each named resource; namespace defaults to ours."""
        return [
            (r.kind, r.namespace or self.metadata.namespace, r.name) for r in self.spec.resources
        ]


def webhook_path(token: str, *, name: str, namespace: str) -> str:
    """Flux's path for a receiver: ``/hook/`` + hex sha256(token + name + namespace)."""
    digest = hashlib.sha256(f"{token}{name}{namespace}".encode()).hexdigest()
    return f"{HOOK_PREFIX}{digest}"


__all__ = [
    "EVENT_FILTERING_TYPES",
    "HOOK_PREFIX",
    "NOTIFICATION_V1",
    "RECEIVER_KIND",
    "RECEIVER_TYPES",
    "Receiver",
    "ReceiverResource",
    "ReceiverSpec",
    "ReceiverType",
    "webhook_path",
]
