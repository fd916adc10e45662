"""Flux Receiver documents load with file:line errors; the webhook path is Flux's."""

from __future__ import annotations

import hashlib

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.receivers import Receiver, webhook_path

RECEIVER = """\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata:
  name: hub
  namespace: apps
spec:
  type: {type}
  secretRef:
    name: hook-token
  resources:
    - kind: ImageRepository
      name: podinfo
    - apiVersion: image.toolkit.fluxcd.io/v1
      kind: ImageRepository
      name: redis
      namespace: infra
"""


@pytest.mark.parametrize(
    "kind",
    ["dockerhub", "harbor", "quay", "github", "gitlab", "acr", "generic", "generic-hmac"],
)
def test_each_supported_type_loads(kind: str) -> None:
    result = load_bytes(RECEIVER.format(type=kind).encode(), file="r.yaml")
    assert result.errors == []
    [doc] = result.receivers
    assert isinstance(doc.obj, Receiver)
    assert doc.obj.spec.type == kind
    assert doc.obj.targets() == [
        ("ImageRepository", "apps", "podinfo"),
        ("ImageRepository", "infra", "redis"),
    ]


def test_unsupported_type_is_an_error_at_its_line() -> None:
    errors = load_bytes(RECEIVER.format(type="bitbucket").encode(), file="r.yaml").errors
    assert [str(e).split(": ")[0:2] for e in errors] == [["r.yaml:7", "spec.type"]]


def test_wildcard_resource_name_is_refused() -> None:
    text = RECEIVER.format(type="generic").replace("name: podinfo", "name: '*'")
    errors = [str(e) for e in load_bytes(text.encode(), file="r.yaml").errors]
    assert len(errors) == 1
    assert errors[0].startswith("r.yaml:12: spec.resources[0].name: ")
    assert "not supported" in errors[0]


def test_events_are_refused_for_types_that_cannot_filter() -> None:
    text = RECEIVER.format(type="dockerhub") + "  events: [push]\n"
    errors = [str(e) for e in load_bytes(text.encode(), file="r.yaml").errors]
    assert len(errors) == 1
    assert "events cannot be filtered for type dockerhub" in errors[0]


def test_events_load_for_github() -> None:
    text = RECEIVER.format(type="github") + "  events: [package, ping]\n"
    [doc] = load_bytes(text.encode(), file="r.yaml").receivers
    assert isinstance(doc.obj, Receiver)
    assert doc.obj.spec.events == ["package", "ping"]


def test_a_receiver_without_resources_is_an_error() -> None:
    text = RECEIVER.format(type="generic").split("  resources:")[0] + "  resources: []\n"
    errors = [str(e) for e in load_bytes(text.encode(), file="r.yaml").errors]
    assert len(errors) == 1
    assert "spec.resources" in errors[0]


def test_other_notification_kinds_are_ignored() -> None:
    # v1beta3 Provider/Alert are read now (docs/notifications.md); older versions are not.
    text = "apiVersion: notification.toolkit.fluxcd.io/v1beta2\nkind: Alert\nmetadata:\n  name: a\n"
    result = load_bytes(text.encode(), file="a.yaml")
    assert (result.errors, result.documents) == ([], [])


def test_webhook_path_is_sha256_of_token_name_namespace() -> None:
    expected = hashlib.sha256(b"s3cr3thubapps").hexdigest()
    assert webhook_path("s3cr3t", name="hub", namespace="apps") == f"/hook/{expected}"
    assert webhook_path("s3cr3t", name="hub", namespace="other") != f"/hook/{expected}"
