"""Automation documents map onto plans; policySelector follows Kubernetes label selectors."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.models import LabelSelector, LabelSelectorRequirement
from image_automation.engine.automations import (
    PlanContext,
    RepoTarget,
    plan_automations,
    selects,
)
from image_automation.git.flux_messages import FluxTemplate

FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: apps}
spec:
  url: https://git.example.test/fleet.git
  ref: {branch: release}
  secretRef: {name: fleet-auth}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: auto, namespace: apps}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit:
      author: {name: Bot, email: bot@example.test}
      messageTemplate: "{{ range .Changed.Changes }}{{ .OldValue }} -> {{ .NewValue }}{{ end }}"
    push:
      branch: auto-updates
      options: {merge_request.create: "", merge_request.target: release}
  update: {path: ./clusters/prod}
  policySelector:
    matchLabels: {team: a}
"""

NATIVE = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: native, namespace: apps}
spec:
  git:
    push: {branch: bumps, force: true, options: {ci.skip: ""}}
  commit:
    author: {email: bot@example.test}
  update: {path: deploy}
"""


def test_flux_automation_uses_its_git_repository_without_repo() -> None:
    plans = plan_automations(load_bytes(FLUX.encode(), file="f.yaml"), PlanContext())
    assert plans.errors == []
    (plan,) = plans.plans
    assert plan.key == "ImageUpdateAutomation/apps/auto"
    assert plan.repo == RepoTarget("https://git.example.test/fleet.git", "release", "fleet-auth")
    assert plan.push.branch == "auto-updates"
    assert plan.push.options == ("merge_request.create", "merge_request.target=release")
    assert plan.path == "clusters/prod"
    assert plan.commit.author_name == "Bot"
    assert isinstance(plan.commit.message_template, FluxTemplate)
    assert plan.commit.message_template.source.startswith("{{ range .Changed.Changes }}")


def test_flux_automation_means_the_repo_given_on_the_command_line() -> None:
    repo = RepoTarget("file:///tmp/x.git", "main", None)
    plans = plan_automations(load_bytes(FLUX.encode(), file="f.yaml"), PlanContext(repo=repo))
    assert plans.plans[0].repo == repo


def test_native_automation_defaults_to_the_repo_and_reads_push_force() -> None:
    repo = RepoTarget("file:///tmp/x.git", "trunk", "s")
    plans = plan_automations(load_bytes(NATIVE.encode(), file="n.yaml"), PlanContext(repo=repo))
    (plan,) = plans.plans
    assert plan.repo == repo
    assert (plan.push.branch, plan.push.force, plan.push.options) == ("bumps", True, ("ci.skip",))
    assert plan.commit.author_email == "bot@example.test"


def test_native_automation_without_url_or_repo_is_a_named_error() -> None:
    plans = plan_automations(load_bytes(NATIVE.encode(), file="n.yaml"), PlanContext())
    (key, error), *_ = plans.errors
    assert key == "ImageAutomation/apps/native"
    assert "spec.git.url is not set" in str(error)


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("'{{ range .Changed.Changes }}'", 18, "line 1, column 4: unexpected EOF"),
        ("'{{ template \"x\" }}'", 18, "{{template}} is not supported"),
        ("'{{ toJson . }}'", 18, "function 'toJson' is not supported here"),
        ("|\n        ok\n        {{ .A | }}", 20, "line 2, column 7: missing command after |"),
    ],
)
def test_a_flux_template_that_does_not_parse_fails_at_plan_time_at_its_own_line(
    text: str, line: int, message: str
) -> None:
    original = FLUX.split("messageTemplate: ", 1)[1].split("\n", 1)[0]
    doc = FLUX.replace(original, text)
    plans = plan_automations(load_bytes(doc.encode(), file="f.yaml"), PlanContext())
    assert plans.plans == []
    (_key, error), *_ = plans.errors
    assert message in str(error)
    assert str(error).startswith(f"f.yaml:{line}: spec.git.commit.messageTemplate: ")


def test_line_include_reaches_the_native_plan_and_is_an_error_in_flux_documents() -> None:
    native = NATIVE.replace(
        "update: {path: deploy}", "update: {path: deploy, lineInclude: [Dockerfile]}"
    )
    repo = PlanContext(repo=RepoTarget("file:///x", "main"))
    (plan,) = plan_automations(load_bytes(native.encode(), file="n.yaml"), repo).plans
    assert plan.line_include == ("Dockerfile",)
    flux = FLUX.replace("update: {path: ./clusters/prod}", "update: {path: ., lineInclude: [x]}")
    loaded = load_bytes(flux.encode(), file="f.yaml")
    assert loaded.automations == []
    assert any("lineInclude" in str(e) for e in loaded.errors)


def test_update_path_outside_the_repository_is_refused() -> None:
    doc = NATIVE.replace("path: deploy", "path: ../elsewhere")
    plans = plan_automations(
        load_bytes(doc.encode(), file="n.yaml"),
        PlanContext(repo=RepoTarget("file:///x", "main")),
    )
    assert "must stay inside the repository" in str(plans.errors[0][1])


def test_flux_signing_key_is_read_from_the_secrets_dir(tmp_path: Path) -> None:
    (tmp_path / "sign").mkdir()
    (tmp_path / "sign" / "git.asc").write_text("key")
    doc = FLUX.replace(
        "      author: {name: Bot, email: bot@example.test}\n",
        "      author: {name: Bot, email: bot@example.test}\n"
        "      signingKey: {secretRef: {name: sign}}\n",
    )
    plans = plan_automations(
        load_bytes(doc.encode(), file="f.yaml"), PlanContext(secrets_dir=tmp_path)
    )
    signing = plans.plans[0].commit.signing
    assert signing is not None
    assert (signing.format, signing.key_file) == ("gpg", tmp_path / "sign" / "git.asc")


def _req(key: str, op: str, *values: str) -> LabelSelectorRequirement:
    return LabelSelectorRequirement(key=key, operator=op, values=list(values) or None)  # type: ignore[arg-type]


@pytest.mark.parametrize(
    ("selector", "labels", "expected"),
    [
        (None, {}, True),
        (LabelSelector(), {"a": "1"}, True),
        (LabelSelector(match_labels={"a": "1"}), {"a": "1", "b": "2"}, True),
        (LabelSelector(match_labels={"a": "1"}), {"a": "2"}, False),
        (LabelSelector(match_expressions=[_req("a", "In", "1", "2")]), {"a": "2"}, True),
        (LabelSelector(match_expressions=[_req("a", "In", "1")]), {}, False),
        (LabelSelector(match_expressions=[_req("a", "NotIn", "1")]), {}, True),
        (LabelSelector(match_expressions=[_req("a", "NotIn", "1")]), {"a": "1"}, False),
        (LabelSelector(match_expressions=[_req("a", "Exists")]), {"a": ""}, True),
        (LabelSelector(match_expressions=[_req("a", "DoesNotExist")]), {"a": ""}, False),
        (
            LabelSelector(match_labels={"t": "x"}, match_expressions=[_req("a", "Exists")]),
            {"t": "x"},
            False,
        ),
    ],
)
def test_policy_selector_semantics(
    selector: LabelSelector | None, labels: dict[str, str], expected: bool
) -> None:
    assert selects(selector, labels) is expected
