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

from pydantic import Field, ValidationInfo, field_validator, model_validator

from image_automation.config.models import LocalObjectReference, _Model, _Object

NOTIFICATION_V1 = "notification.toolkit.fluxcd.io/v1"
RECEIVER_KIND = "Receiver"
HOOK_PREFIX = "/hook/"

ReceiverType = Literal[
    "dockerhub", "harbor", "quay", "github", "gitlab", "acr", "generic", "generic-hmac",
    # Flux's Pub/Sub receiver (Artifact Registry, GCR), and two of ours Flux has no type for:
    "gcr", "ecr-eventbridge", "distribution",
]  # fmt: skip
RECEIVER_TYPES: tuple[str, ...] = get_args(ReceiverType)
EVENT_FILTERING_TYPES = frozenset({"github", "gitlab"})
"""Types whose requests carry an event name that ``spec.events`` filters (Flux)."""
SECRET_FIELDS: dict[str, tuple[str, ...]] = {"gcr": ("email", "audience")}
"""Keys a type needs in its secret beside ``token`` (Flux's ``gcr``: the subscription's
service account and the token audience)."""


ResourceKind = Literal[
    # Flux notification-controller v1 (CrossNamespaceObjectReference.kind) ...
    "Bucket",
    "GitRepository",
    "Kustomization",
    "HelmRelease",
    "HelmChart",
    "HelmRepository",
    "ImageRepository",
    "ImagePolicy",
    "ImageUpdateAutomation",
    "OCIRepository",
    # ... and our native kind.
    "TrackedImage",
]
WAKING_KINDS = frozenset({"ImageRepository", "TrackedImage"})
"""The kinds whose webhook wakes our work (a scan); the others are Flux's business."""


class ReceiverResource(_Model):
    """One resource a receiver notifies, by name: any kind Flux's Receiver allows.

    Only :data:`WAKING_KINDS` wake our work; the rest are accepted (a fleet's receivers
    often name GitRepository or Kustomization objects too) and left to Flux. For those,
    ``name: "*"`` with ``matchLabels`` (Flux's label selection) is accepted as well; for the
    kinds we act on it is an error: a hook must name exactly the repositories it may wake.
    """

    api_version: str | None = None
    kind: ResourceKind
    name: Annotated[str, Field(min_length=1, max_length=253)]
    namespace: str | None = None
    match_labels: dict[str, str] | None = None

    @field_validator("name")
    @classmethod
    def _no_wildcard_for_ours(cls, value: str, info: ValidationInfo) -> str:
        if "*" in value and info.data.get("kind") in WAKING_KINDS:
            raise ValueError(
                "'*' (label selection) is not supported for the image repositories a "
                "receiver wakes; name each repository"
            )
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
        """``(kind, namespace, name)`` of each resource it wakes here (of
        :data:`WAKING_KINDS`); namespace defaults to the receiver's."""
        return [
            (r.kind, r.namespace or self.metadata.namespace, r.name)
            for r in self.spec.resources
            if r.kind in WAKING_KINDS
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
    "SECRET_FIELDS",
    "WAKING_KINDS",
    "Receiver",
    "ReceiverResource",
    "ReceiverSpec",
    "ReceiverType",
    "ResourceKind",
    "webhook_path",
]
