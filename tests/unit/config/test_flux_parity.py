"""Files Flux accepts load here too; only real problems are reported, each once, at its line."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.config.lastgood import LastGoodFiles
from image_automation.config.loading import MAX_FILE_BYTES, load_bytes, load_paths
from image_automation.config.resolving import resolve
from image_automation.engine.automations import PlanContext, RepoTarget, plan_automations
from tests.unit.config.test_loading import POLICY, REPO
from tests.unit.config.test_receivers import RECEIVER


def test_a_policy_whose_repository_is_invalid_reports_only_the_repositorys_error() -> None:
    text = f"{REPO}  colour: blue\n---\n{POLICY}"
    resolved = resolve(load_bytes(text.encode(), file="f.yaml"))
    assert [str(e) for e in resolved.errors] == ["f.yaml:9: spec.colour: unknown field"]
    assert resolved.policies == []


def test_a_policy_naming_a_repository_that_is_nowhere_is_still_an_error() -> None:
    resolved = resolve(load_bytes(POLICY.encode(), file="f.yaml"))
    assert [str(e) for e in resolved.errors] == [
        "f.yaml:8: spec.imageRepositoryRef.name: "
        "ImageRepository/apps/podinfo not found in the loaded files"
    ]


@pytest.mark.parametrize(
    ("choice", "winner", "order"),
    [
        ("{semver: {range: '>=1.0.0'}, alphabetical: {order: desc}}", "semver", "asc"),
        ("{numerical: {order: asc}, alphabetical: {order: desc}}", "alphabetical", "desc"),
        ("{numerical: {order: desc}, semver: {range: '1.x'}, alphabetical: {}}", "semver", "asc"),
    ],
)
def test_several_orderings_are_accepted_with_a_warning_and_flux_precedence(
    choice: str, winner: str, order: str
) -> None:
    policy = POLICY.replace("  policy:\n    semver:\n      range: '>=6.0.0'\n", "")
    policy += f"  policy: {choice}\n"
    resolved = resolve(load_bytes(f"{REPO}---\n{policy}".encode(), file="f.yaml"))
    assert resolved.errors == []
    [chosen] = resolved.policies
    assert (chosen.spec.ordering, chosen.spec.order) == (winner, order)
    [warning] = resolved.warnings
    assert warning.startswith("f.yaml:18: spec.policy: more than one of ")
    assert warning.endswith(f"{winner} is used, as Flux does")


def test_a_policy_with_no_ordering_is_still_an_error() -> None:
    policy = POLICY.replace("    semver:\n      range: '>=6.0.0'\n", "    {}\n")
    policy = policy.replace("  policy:\n    {}\n", "  policy: {}\n")
    errors = [str(e) for e in load_bytes(policy.encode(), file="f.yaml").errors]
    assert errors == ["f.yaml:9: spec.policy: one of semver, alphabetical, numerical must be set"]


FLUX_RESOURCES = """\
    - kind: GitRepository
      name: fleet
    - {kind: Kustomization, name: apps, namespace: flux-system}
    - {kind: HelmRepository, name: charts}
    - {kind: OCIRepository, name: manifests}
    - {kind: ImageUpdateAutomation, name: fleet}
    - {kind: ImagePolicy, name: podinfo}
    - {kind: Bucket, name: b}
    - {kind: HelmChart, name: c}
    - {kind: HelmRelease, name: '*', matchLabels: {team: web}}
"""


def test_a_receiver_may_name_every_kind_flux_allows_and_only_ours_wake_scans() -> None:
    text = RECEIVER.format(type="github") + FLUX_RESOURCES
    result = load_bytes(text.encode(), file="r.yaml")
    assert result.errors == []
    [doc] = result.receivers
    assert doc.obj.targets() == [  # type: ignore[union-attr]
        ("ImageRepository", "apps", "podinfo"),
        ("ImageRepository", "infra", "redis"),
    ]


def test_a_receiver_naming_a_kind_flux_does_not_know_is_an_error() -> None:
    text = RECEIVER.format(type="github") + "    - {kind: Deployment, name: web}\n"
    [error] = load_bytes(text.encode(), file="r.yaml").errors
    assert str(error).startswith("r.yaml:17: spec.resources[2].kind: must be ")


HELM_TEMPLATE = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: {{ include "chart.fullname" . }}
  labels:
    {{- include "chart.labels" . | nindent 4 }}
spec:
  imageRepositoryRef:
    name: {{ .Values.repository }}
  policy:
    semver:
      range: {{ .Values.range | quote }}
"""


def test_helm_templates_are_skipped_quietly(tmp_path: Path) -> None:
    chart = tmp_path / "charts" / "app"
    (chart / "templates").mkdir(parents=True)
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: app\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text("repository: {{ not yaml\n")
    (chart / "templates" / "policy.yaml").write_text(REPO.replace("  interval: 5m\n", "  {{"))
    (tmp_path / "loose-template.yaml").write_text(HELM_TEMPLATE)
    (tmp_path / "real.yaml").write_text(f"{REPO}---\n{POLICY}")
    for result in (load_paths([tmp_path]), LastGoodFiles().load(tmp_path)):
        assert (result.errors, result.warnings) == ([], [])
        assert len(result.documents) == 2


def test_broken_yaml_that_template_braces_do_not_explain_is_still_an_error() -> None:
    text = "apiVersion: v1\nkind: ConfigMap\ndata:\n  msg: '{{ .Name }}'\n  bad: [unclosed\n"
    [error] = load_bytes(text.encode(), file="f.yaml").errors
    assert str(error).startswith("f.yaml:5: not valid YAML")


def test_a_dangling_symlink_is_skipped_with_a_warning(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text(REPO)
    (tmp_path / "gone.yaml").symlink_to(tmp_path / "nowhere.yaml")
    for result, name in (
        (load_paths([tmp_path]), str(tmp_path / "gone.yaml")),
        (LastGoodFiles().load(tmp_path), "gone.yaml"),
    ):
        assert result.errors == []
        assert result.warnings == [f"{name}: dangling symlink; skipped"]
        assert len(result.documents) == 1


def test_an_oversized_file_is_skipped_with_a_warning_not_an_error(tmp_path: Path) -> None:
    (tmp_path / "real.yaml").write_text(REPO)
    big = tmp_path / "crds.yaml"
    big.write_text("# generated\n" + "x: 1\n" * (MAX_FILE_BYTES // 5 + 1))
    size = big.stat().st_size
    result = load_paths([tmp_path])
    assert result.errors == []
    assert result.warnings == [
        f"{big}: skipped: {size} bytes is over the {MAX_FILE_BYTES}-byte limit"
    ]
    assert len(result.documents) == 1


AUTOMATION = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: fleet, namespace: apps}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    commit:
      author: {email: bot@example.com}
  update: {path: ./clusters}
"""


def test_two_automations_with_one_name_are_a_duplicate_naming_both_lines() -> None:
    loaded = load_bytes(f"{AUTOMATION}---\n{AUTOMATION}".encode(), file="a.yaml")
    plans = plan_automations(loaded, PlanContext(repo=RepoTarget("file:///r", "main")))
    assert [p.key for p in plans.plans] == ["ImageUpdateAutomation/apps/fleet"]
    assert [(key, str(e)) for key, e in plans.errors] == [
        (
            "ImageUpdateAutomation/apps/fleet",
            "a.yaml:12: duplicate ImageUpdateAutomation/apps/fleet, first declared at a.yaml:1",
        )
    ]
