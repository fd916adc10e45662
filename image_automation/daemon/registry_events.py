"""Which repositories a registry's push event is about: ECR, Pub/Sub, distribution, GitHub.

A verified event may only *narrow* what its receiver wakes: the receiver names the
repositories (its ``spec.resources``), and the event picks among them the ones it concerns.
Nothing else in the body is used: no tag, no digest, no time; a repository the receiver does
not name is never woken, whatever the body says. A body that does not have the documented
shape is :class:`~image_automation.daemon._payloads.Malformed`; an event that announces no new
image (a delete, a failed push, a pull) is :class:`NotAPush`.

Shapes (``docs/daemon.md`` says where each was confirmed):

- ECR through EventBridge: the event ``{"source": "aws.ecr", "detail-type": "ECR Image
  Action", "account", "region", "detail": {"action-type": "PUSH", "result": "SUCCESS",
  "repository-name"}}``, as is or as a CloudEvent (structured: the event or its ``detail`` in
  ``data``; binary: ``ce-specversion`` header, the body is ``data``).
- Artifact Registry / GCR through a Pub/Sub push: ``{"message": {"data": base64 of
  {"action": "INSERT", "digest": "HOST/PATH@sha256:…", "tag": "HOST/PATH:TAG"}}}``.
- CNCF distribution notifications (GitLab's container registry, ``docker-registry``):
  ``{"events": [{"action": "push", "target": {"repository", "tag", "mediaType"}}]}``.
- GitHub ``package`` (and the older ``registry_package``) events: ``{"package": {"name",
  "namespace", "package_type": "CONTAINER", "registry": {"url": "https://ghcr.io"}}}``.

Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import binascii
import re
from collections.abc import Mapping
from dataclasses import dataclass

from image_automation.daemon._payloads import (
    Malformed,
    dig,
    field_object,
    field_text,
    load_object,
)
from image_automation.domain import ImageRef, InvalidReference

MAX_EVENTS = 1000
"""Most events one distribution envelope may hold (the registry sends a handful)."""
_ECR_HOST = re.compile(
    r"(?P<account>\d{12})\.dkr\.ecr(?:-fips)?\.(?P<region>[a-z0-9-]+)\.amazonaws\.com(?:\.cn)?"
)
_MANIFEST_TYPES = frozenset(
    {
        "application/vnd.oci.image.manifest.v1+json",
        "application/vnd.oci.image.index.v1+json",
        "application/vnd.docker.distribution.manifest.v2+json",
        "application/vnd.docker.distribution.manifest.list.v2+json",
    }
)


class NotAPush(Exception):
    """A well-formed event that announces no new image: nothing to scan."""


@dataclass(frozen=True, slots=True)
class Subject:
    """A repository an event names: its path, and its host when the event says it.

    ``account``/``region`` are ECR's way to name the host (an ECR event carries no host).
    """

    path: str
    host: str | None = None
    account: str | None = None
    region: str | None = None

    def matches(self, image: str) -> bool:
        """Whether the normalised ``image`` (``host/path``) is this repository."""
        host, _, path = image.lower().partition("/")
        if path != self.path.lower():
            return False
        if self.host is not None and host != self.host.lower():
            return False
        if self.account is None and self.region is None:
            return True
        ecr = _ECR_HOST.fullmatch(host)
        if ecr is None:
            return False
        return self.account in (None, ecr["account"]) and self.region in (None, ecr["region"])


def ecr_subjects(headers: Mapping[str, str], body: bytes) -> tuple[Subject, ...]:
    """The repository of an ECR push delivered by EventBridge (raw or as a CloudEvent)."""
    payload = load_object(body)
    if "ce-specversion" in headers:  # CloudEvents binary mode: the body is the data
        payload = {"data": payload, "specversion": headers["ce-specversion"]}
    if "specversion" in payload:  # structured mode: the event (or its detail) is the data
        data = field_object(payload, "data")
        payload = data if "detail" in data else {"detail": data, **_ecr_envelope(payload)}
    detail = field_object(payload, "detail")
    kind = dig(payload, "detail-type")
    if kind is not None and kind != "ECR Image Action":
        raise NotAPush(f"EventBridge event {_short(kind)!r} is not an ECR image action")
    if dig(detail, "action-type") != "PUSH" or dig(detail, "result") != "SUCCESS":
        raise NotAPush("ECR event is not a successful push")
    account = _optional_text(payload, "account")
    region = _optional_text(payload, "region")
    return (Subject(field_text(detail, "repository-name"), account=account, region=region),)


def _ecr_envelope(cloud_event: dict[str, object]) -> dict[str, object]:
    """A CloudEvent carrying only the detail: the account and region its extensions name."""
    return {k: cloud_event[k] for k in ("account", "region") if k in cloud_event}


def pubsub_subjects(body: bytes) -> tuple[Subject, ...]:
    """The image of an Artifact Registry / GCR notification pushed by Pub/Sub."""
    payload = load_object(body)
    data = field_text_unbounded(payload, "message", "data")
    try:
        raw = base64.b64decode(data, validate=True)
    except (binascii.Error, ValueError):
        raise Malformed("message.data is not base64") from None
    event = load_object(raw)
    if dig(event, "action") != "INSERT":
        raise NotAPush("Artifact Registry event is not an INSERT (a push or a new tag)")
    named = dig(event, "tag") if isinstance(dig(event, "tag"), str) else dig(event, "digest")
    if not isinstance(named, str):
        raise Malformed("the event names no tag or digest")
    try:
        ref = ImageRef.parse(field_text({"v": named}, "v"))
    except InvalidReference:
        raise Malformed("the event's image is not an image reference") from None
    return (Subject(ref.repository, host=ref.registry),)


def distribution_subjects(body: bytes) -> tuple[Subject, ...]:
    """The repositories of the manifest pushes in a distribution notification envelope."""
    events = load_object(body).get("events")
    if not isinstance(events, list) or len(events) > MAX_EVENTS:
        raise Malformed(f"events is missing, not a list or longer than {MAX_EVENTS}")
    subjects: dict[str, Subject] = {}
    for event in events:
        if not isinstance(event, dict) or event.get("action") != "push":
            continue  # pulls, deletes, mounts
        target = field_object(event, "target")
        media = dig(target, "mediaType")
        if not isinstance(dig(target, "tag"), str) and media not in _MANIFEST_TYPES:
            continue  # a blob upload: its manifest push follows
        path = field_text(target, "repository")
        subjects.setdefault(path, Subject(path))
    if not subjects:
        raise NotAPush("no manifest push in the notification")
    return tuple(subjects.values())


def github_package_subjects(body: bytes) -> tuple[Subject, ...]:
    """The container image of a GitHub ``package`` / ``registry_package`` event."""
    payload = load_object(body)
    package = payload.get("package", payload.get("registry_package"))
    if not isinstance(package, dict):
        raise Malformed("package is missing or not an object")
    kind = dig(package, "package_type")
    if not isinstance(kind, str) or kind.lower() not in {"container", "docker"}:
        raise NotAPush("the package is not a container image")
    namespace = field_text(package, "namespace")
    name = field_text(package, "name")
    url = dig(package, "registry", "url")
    host = "ghcr.io"
    if isinstance(url, str) and url:
        host = field_text({"v": url}, "v").removeprefix("https://").split("/", 1)[0]
    return (Subject(f"{namespace}/{name}".lower(), host=host.lower()),)


def field_text_unbounded(value: object, *keys: str) -> str:
    """A text field that may be long (Pub/Sub's base64 data); the body size bounds it."""
    found = dig(value, *keys)
    if not isinstance(found, str) or not found:
        raise Malformed(f"{'.'.join(keys)} is missing or not a string")
    return found


def _optional_text(value: object, *keys: str) -> str | None:
    return None if dig(value, *keys) is None else field_text(value, *keys)


def _short(value: object) -> str:
    return str(value)[:80]


__all__ = [
    "MAX_EVENTS",
    "NotAPush",
    "Subject",
    "distribution_subjects",
    "ecr_subjects",
    "github_package_subjects",
    "pubsub_subjects",
]
