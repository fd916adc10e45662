"""Markers no automation will set, and automations with nothing to set, are warnings."""

from __future__ import annotations

from pathlib import Path

from image_automation.config.loading import load_bytes
from image_automation.engine.automations import PlanContext, RepoTarget, plan_automations
from image_automation.engine.coverage import coverage_warnings

AUTOMATION = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  interval: 5m
  sourceRef: {{kind: GitRepository, name: fleet}}
  git:
    commit:
      author: {{email: bot@example.com}}
  update:
    path: {path}
"""


def marked(policy: str) -> str:
    return f'image: ghcr.io/org/app:1.0 # {{"$imagepolicy": "{policy}"}}\n'


def test_markers_outside_every_covering_namespace_and_paths_without_markers_warn(
    tmp_path: Path,
) -> None:
    files = {
        "clusters/prod/app.yaml": marked("apps:app") + marked("other:web"),
        "clusters/prod/Kustomization": marked("infra:db"),
        "clusters/empty/readme.yaml": "kind: ConfigMap\n",
        "elsewhere/app.yaml": marked("nobody:x"),  # under no automation's path: not ours
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    docs = "---\n".join(
        AUTOMATION.format(name=name, namespace=ns, path=path)
        for name, ns, path in [
            ("prod", "apps", "./clusters/prod"),
            ("infra", "infra", "./clusters"),
            ("empty", "apps", "./clusters/empty"),
        ]
    )
    loaded = load_bytes(docs.encode(), file="auto.yaml")
    plans = plan_automations(loaded, PlanContext(repo=RepoTarget("file:///r", "main"))).plans

    warnings = coverage_warnings(tmp_path, plans, loaded)

    assert warnings == [
        "auto.yaml:35: spec.update.path: ./clusters/empty holds no marker; "
        "ImageUpdateAutomation/apps/empty has nothing to update",
        "clusters/prod/app.yaml:2: marker names other:web, but no automation in namespace "
        "other updates this file (apps, infra do)",
    ]


def test_a_covered_repository_gives_no_warning(tmp_path: Path) -> None:
    (tmp_path / "app.yaml").write_text(marked("apps:app"))
    loaded = load_bytes(
        AUTOMATION.format(name="a", namespace="apps", path="./").encode(), file="a.yaml"
    )
    plans = plan_automations(loaded, PlanContext(repo=RepoTarget("file:///r", "main"))).plans
    assert coverage_warnings(tmp_path, plans, loaded) == []
