"""Flux Provider/Alert files and native Notification documents → notifier settings, with every
problem at file:line and no secret in any message."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.engine.notifications import plan_notifications

WEBHOOK = "https://hooks.slack.example/services/T1/B2/SeCrEtPaTh"

FLUX = """\
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Provider
metadata: {name: slack, namespace: flux-system}
spec:
  type: slack
  channel: general
  secretRef: {name: slack-url}
---
apiVersion: notification.toolkit.fluxcd.io/v1beta3
kind: Alert
metadata: {name: on-call, namespace: flux-system}
spec:
  providerRef: {name: slack}
  eventSeverity: error
  eventSources:
    - kind: ImageUpdateAutomation
      name: '*'
    - kind: Kustomization
      name: apps
      namespace: other
  exclusionList: ["timeout"]
  eventMetadata: {cluster: prod}
"""


def secrets(tmp_path: Path, **keys: str) -> Path:
    root = tmp_path / "secrets"
    (root / "slack-url").mkdir(parents=True, exist_ok=True)
    for key, value in keys.items():
        (root / "slack-url" / key).write_text(value + "\n")
    return root


def test_a_flux_provider_and_alert_become_a_provider_and_a_rule(tmp_path: Path) -> None:
    plan = plan_notifications(load_bytes(FLUX.encode(), file="alerts.yaml"),
                              secrets_dir=secrets(tmp_path, address=WEBHOOK))  # fmt: skip
    assert plan.problems == [] and plan.warnings == []
    [provider] = plan.settings.providers
    assert (provider.key, provider.type, provider.address, provider.channel) == (
        "flux-system/slack",
        "slack",
        WEBHOOK,
        "general",
    )
    [rule] = plan.settings.rules
    assert rule.provider == "flux-system/slack" and rule.severity == "error"
    assert [(s.kind, s.name, s.namespace) for s in rule.sources] == [
        ("ImageUpdateAutomation", "*", "flux-system"),
        ("Kustomization", "apps", "other"),
    ]
    assert rule.exclude == ("timeout",) and rule.metadata == {"cluster": "prod"}


def test_a_missing_secret_is_a_problem_at_its_line_and_drops_only_that_provider(
    tmp_path: Path,
) -> None:
    plan = plan_notifications(load_bytes(FLUX.encode(), file="alerts.yaml"),
                              secrets_dir=tmp_path / "empty")  # fmt: skip
    assert plan.settings.providers == () and plan.settings.rules == ()
    assert len(plan.problems) == 1
    assert plan.problems[0].startswith("alerts.yaml:7: spec.secretRef.name: secret 'slack-url'")


@pytest.mark.parametrize(
    "address", ["ftp://x.example/hook", "not a url", "https://", "http://a b/"]
)
def test_a_bad_address_from_the_secret_is_refused_without_quoting_it(
    tmp_path: Path, address: str
) -> None:
    plan = plan_notifications(load_bytes(FLUX.encode(), file="alerts.yaml"),
                              secrets_dir=secrets(tmp_path, address=address))  # fmt: skip
    assert plan.settings.providers == ()
    assert plan.problems == [
        "alerts.yaml:7: spec.secretRef.name: the secret's address is not an http(s) URL"
    ]


def test_an_alert_naming_a_missing_provider_is_a_problem_at_its_line() -> None:
    text = FLUX.split("---\n")[1].replace("name: slack}", "name: nope}")
    plan = plan_notifications(load_bytes(text.encode(), file="a.yaml"), secrets_dir=None)
    assert plan.problems == [
        "a.yaml:5: spec.providerRef.name: no Provider flux-system/nope in these files"
    ]


def test_a_provider_type_we_do_not_deliver_is_a_warning_not_an_error() -> None:
    text = FLUX.replace("type: slack", "type: telegram")
    plan = plan_notifications(load_bytes(text.encode(), file="a.yaml"), secrets_dir=None)
    assert plan.problems == [] and plan.settings.providers == ()
    assert "provider type 'telegram' is not delivered" in plan.warnings[0]


def test_a_bad_regex_is_a_load_error_at_its_line() -> None:
    text = FLUX.replace('exclusionList: ["timeout"]', 'exclusionList: ["(a)\\\\1"]')
    result = load_bytes(text.encode(), file="a.yaml")
    assert len(result.errors) == 1
    assert str(result.errors[0]).startswith("a.yaml:21: spec.exclusionList: invalid pattern")


def test_a_native_notification_is_provider_and_rule_in_one(tmp_path: Path) -> None:
    text = """\
apiVersion: image-automation.io/v1alpha1
kind: Notification
metadata: {name: hooks, namespace: apps}
spec:
  type: generic-hmac
  address: https://ci.example/hook
  secretRef: {name: slack-url}
  events: [commit_pushed, pr_opened]
  rateLimit: {perMinute: 10, burst: 2}
"""
    plan = plan_notifications(load_bytes(text.encode(), file="n.yaml"),
                              secrets_dir=secrets(tmp_path, token="k3y"))  # fmt: skip
    assert plan.problems == []
    [provider] = plan.settings.providers
    assert provider.secrets.token == "k3y" and provider.rate.per_minute == 10
    [rule] = plan.settings.rules
    assert rule.kinds == {"commit_pushed", "pr_opened"}
    assert [(s.kind, s.name, s.namespace) for s in rule.sources] == [("*", "*", "apps")]


@pytest.mark.parametrize(
    "text",
    [
        # a billion-laughs style alias bomb in the alert's metadata
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: a}\n"
        "spec:\n  a: &a [x, x, x, x, x, x, x, x, x, x]\n  b: &b [*a, *a, *a, *a, *a, *a, *a, *a]\n"
        "  c: &c [*b, *b, *b, *b, *b, *b, *b, *b]\n  d: [*c, *c, *c, *c, *c, *c, *c, *c]\n",
        # an injected name with newlines and a huge source list
        "apiVersion: notification.toolkit.fluxcd.io/v1beta3\nkind: Alert\nmetadata: {name: a}\n"
        'spec:\n  providerRef: {name: "x\\ny"}\n  eventSources:\n'
        + "".join("    - {kind: K, name: n}\n" for _ in range(500)),
    ],
    ids=["aliases", "too-many-sources"],
)
def test_hostile_alert_documents_are_refused_with_a_located_error(text: str) -> None:
    result = load_bytes(text.encode(), file="h.yaml")
    assert result.documents == [] and result.errors
    assert all(str(e).startswith("h.yaml") for e in result.errors)
