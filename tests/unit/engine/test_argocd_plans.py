"""ImageUpdater + Applications from a checkout → write-back plans: the source a multi-source
Application is written through (picked by target type, as AIU does), where the target file
lands (relative to the source path or ``/``-absolute from the repository root), and hostile
targets, source paths and branch templates refused at ``file:line`` instead of followed."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.config.loading import load_bytes
from image_automation.engine.argocd_plans import ArgoPlans, plan_argocd
from image_automation.engine.automations import PlanContext, RepoTarget

URL = "https://git.example.test/org/fleet.git"

FILES = {
    "chart/Chart.yaml": "apiVersion: v2\nname: c\nversion: 0.1.0\n",
    "chart/values.yaml": "image: {name: nginx, tag: 1.0.0}\n",
    "overlay/kustomization.yaml": "images: [{name: nginx, newTag: 1.0.0}]\n",
    "plain/deployment.yaml": "kind: Deployment\n",
}


def _updater(target: str | None, *, branch: str | None = None, extra: str = "") -> str:
    git = {k: v for k, v in (("writeBackTarget", target), ("branch", branch)) if v is not None}
    config = ", ".join(f"{k}: {v!r}" for k, v in git.items())
    return f"""\
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {{name: u, namespace: argocd}}
spec:
  writeBackConfig:
    method: git
    gitConfig: {{{config}}}
  applicationRefs:
    - namePattern: app
      images: [{{alias: a, imageName: "nginx{extra}"}}]
"""


def _app(*paths: str | None) -> str:
    sources = "".join(
        f'    - {{repoURL: "{URL}", targetRevision: main'
        + (f", path: {p!r}}}\n" if p is not None else ", chart: nginx}\n")
        for p in paths
    )
    return f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: app, namespace: argocd}}
spec:
  sources:
{sources}"""


def _plan(tmp: Path, *docs: str) -> ArgoPlans:
    """Plan ``docs`` for the checkout ``tmp/repo``; ``tmp/outside`` is a Helm and Kustomize
    directory next to it, which a path leaving the checkout would reach."""
    root = tmp / "repo"
    outside = {"../outside/Chart.yaml": FILES["chart/Chart.yaml"],
               "../outside/values.yaml": FILES["chart/values.yaml"],
               "../outside/kustomization.yaml": FILES["overlay/kustomization.yaml"]}  # fmt: skip
    for name, text in {**FILES, **outside}.items():
        (root / name).parent.mkdir(parents=True, exist_ok=True)
        (root / name).write_text(text)
    loaded = load_bytes("---\n".join(docs).encode(), file="argocd.yaml")
    assert not loaded.errors, loaded.errors
    context = PlanContext(repo=RepoTarget(URL, "main"), root=root)
    return plan_argocd(loaded, context)


@pytest.mark.parametrize(
    ("sources", "target", "written", "app_type"),
    [
        # the default override file: the first source of a known type (Helm before Kustomize)
        (("chart", "overlay"), None, "chart/.argocd-source-app.yaml", "helm"),
        (("overlay", "chart"), None, "overlay/.argocd-source-app.yaml", "kustomize"),
        (("plain", "overlay"), None, "overlay/.argocd-source-app.yaml", "kustomize"),
        ((None, "overlay"), None, "overlay/.argocd-source-app.yaml", "kustomize"),
        # a source path written /-absolute or with ./ is the same directory
        (("/chart",), None, "chart/.argocd-source-app.yaml", "helm"),
        (("./overlay/",), "kustomization", "overlay", "kustomize"),
        # kustomization: the Kustomize source, wherever it is in the list
        (("chart", "overlay"), "kustomization", "overlay", "kustomize"),
        (("chart", "overlay"), "kustomization:.", "overlay", "kustomize"),
        (("chart", "overlay"), "kustomization:/overlay", "overlay", "kustomize"),
        # helmvalues: the Helm source; relative to its path, or /-absolute from the root
        (("overlay", "chart"), "helmvalues:values.yaml", "chart/values.yaml", "helm"),
        (("overlay", "chart"), "helmvalues:/chart/values.yaml", "chart/values.yaml", "helm"),
        (("overlay", "chart"), "helmvalues:./sub/../values.yaml", "chart/values.yaml", "helm"),
        # a chart from a Helm repository + values from Git: the Git source holds the file
        ((None, "plain"), "helmvalues:/chart/values.yaml", "chart/values.yaml", "helm"),
    ],
)
def test_a_multi_source_application_is_written_through_the_source_its_target_picks(
    tmp_path: Path, sources: tuple[str | None, ...], target: str | None, written: str,
    app_type: str,
) -> None:  # fmt: skip
    out = _plan(tmp_path, _updater(target), _app(*sources))
    assert not out.errors, out.errors
    (plan,) = out.plans
    assert plan.argocd is not None
    assert (plan.argocd.file, plan.argocd.app_type) == (written, app_type)


@pytest.mark.parametrize(
    ("sources", "target", "message"),
    [
        ((None,), None, "a Helm repository chart only"),
        (("plain",), None, "a plain-directory Application"),
        (("chart",), "kustomization", "no source is a kustomize source"),
        (("overlay",), "helmvalues", "helmvalues needs the values file"),
        (("chart",), "helmvalue:values.yaml", "unknown target 'helmvalue:values.yaml'"),
    ],
)
def test_an_application_that_cannot_be_written_is_reported_with_the_reason(
    tmp_path: Path, sources: tuple[str | None, ...], target: str | None, message: str
) -> None:
    out = _plan(tmp_path, _updater(target), _app(*sources))
    assert not out.plans
    assert any(message in str(e) for _, e in out.errors), out.errors
    assert all(str(e).startswith("argocd.yaml:") for _, e in out.errors), out.errors


@pytest.mark.parametrize(
    ("sources", "target"),
    [
        (("chart",), "helmvalues:../../etc/passwd"),
        (("chart",), "helmvalues:/../outside/values.yaml"),
        (("chart",), "helmvalues:" + "../" * 300 + "x"),
        (("overlay",), "kustomization:../.."),
        (("../outside",), "helmvalues:values.yaml"),
        (("/../outside",), "helmvalues:values.yaml"),
        (("chart/../../outside",), "kustomization"),
        (("../outside",), None),
        (("chart", "../outside"), "kustomization"),
    ],
)
def test_a_target_or_source_path_leaving_the_repository_is_refused(
    tmp_path: Path, sources: tuple[str | None, ...], target: str | None
) -> None:
    out = _plan(tmp_path, _updater(target), _app(*sources))
    assert not out.plans, [p.argocd for p in out.plans]
    assert any("leaves the repository" in str(e) for _, e in out.errors), out.errors


@pytest.mark.parametrize(
    ("target", "branch", "message"),
    [
        ("x" * 5000, None, "at most 1024 characters"),
        (None, "main:" + "b" * 5000, "at most 1024 characters"),
        (None, "main:{{ .AppName ", "write branch"),
        (None, "main:-evil", "not a valid branch name"),
        (None, "main:a/../b", "not a valid branch name"),
        (None, "--upload-pack=x:b", "not a valid branch name"),
    ],
)
def test_hostile_write_back_settings_are_refused_at_their_line(
    tmp_path: Path, target: str | None, branch: str | None, message: str
) -> None:
    loaded = load_bytes(_updater(target, branch=branch).encode(), file="argocd.yaml")
    errors = [str(e) for e in loaded.errors]
    if not errors:
        out = _plan(tmp_path, _updater(target, branch=branch), _app("chart"))
        errors = [str(e) for _, e in out.errors]
    assert any(message in e and e.startswith("argocd.yaml:") for e in errors), errors


@pytest.mark.parametrize(
    ("block", "expected"),
    [
        ("", "in another repository"),
        (", helm: {}", None),
        (", kustomize: {}", None),
    ],
)
def test_a_source_in_another_repository_is_typed_by_its_block_never_by_this_checkout(
    tmp_path: Path, block: str, expected: str | None
) -> None:
    """This checkout's ``chart/Chart.yaml`` says nothing about another repository's
    ``chart`` directory: without a ``helm:`` or ``kustomize:`` block its type is unknown."""
    other = "https://git.example.test/org/other.git"
    doc = (
        _app("chart")
        .replace(f'"{URL}"', f'"{other}"')
        .replace("path: 'chart'}", f"path: 'chart'{block}}}")
    )
    out = _plan(tmp_path, _updater(None, branch="main"), doc)
    if expected is None:
        (plan,) = out.plans
        assert plan.repo.url == other
        return
    assert not out.plans
    assert any(expected in str(e) for _, e in out.errors), out.errors
