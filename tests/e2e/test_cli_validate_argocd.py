"""``validate`` on Argo CD Image Updater documents: every problem at ``file:line: field``,
including a reference that selects no Application, an Application configured by legacy
annotations that nothing selects, and a selected Application that cannot be resolved."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from tests.e2e.hostile_yaml import billion_laughs

UPDATER = """\
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {name: fleet, namespace: argocd}
spec:
  writeBackConfig: {method: git}
  applicationRefs:
    - namePattern: nothing-*
      images: [{alias: a, imageName: nginx}]
    - namePattern: plain
      images: [{alias: a, imageName: nginx}]
    - namePattern: web
      commonUpdateSettings: {updateStrategy: newest_build}
      images:
        - {alias: a, imageName: nginx}
    - namePattern: old
      useAnnotations: true
"""
APPS = """\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: plain, namespace: argocd}
spec:
  source: {repoURL: "https://git.example.test/fleet.git", targetRevision: main, path: plain}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {name: web, namespace: argocd}
spec:
  source: {repoURL: "https://git.example.test/fleet.git", targetRevision: main, path: web,
           helm: {}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: old
  namespace: argocd
  annotations:
    argocd-image-updater.argoproj.io/image-list: app=nginx:1.x
    argocd-image-updater.argoproj.io/app.update-stratgy: semver
    argocd-image-updater.argoproj.io/write-back-method: git
spec:
  source: {repoURL: "https://git.example.test/fleet.git", targetRevision: main, path: old,
           kustomize: {}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata:
  name: orphan
  namespace: argocd
  annotations: {argocd-image-updater.argoproj.io/image-list: nginx}
spec:
  source: {repoURL: "https://git.example.test/fleet.git", targetRevision: main, path: x}
"""


def _validate(*paths: Path) -> tuple[int, str]:
    result = CliRunner().invoke(root, ["validate", *map(str, paths)], catch_exceptions=False)
    return result.exit_code, result.stdout


def test_validate_reports_each_argocd_problem_at_its_line(tmp_path: Path) -> None:
    (tmp_path / "updater.yaml").write_text(UPDATER)
    (tmp_path / "apps.yaml").write_text(APPS)
    (tmp_path / "plain").mkdir()
    code, out = _validate(tmp_path)
    updater, apps = tmp_path / "updater.yaml", tmp_path / "apps.yaml"
    assert code == 1, out
    assert f"{updater}:7: spec.applicationRefs[0].namePattern: selects no Application" in out
    assert (
        f"{apps}:4: spec: Application plain cannot be resolved from Git: a plain-directory" in out
    )
    assert (
        f"{updater}:12: spec.applicationRefs[2].commonUpdateSettings.updateStrategy: unknown "
        "updateStrategy 'newest_build'" in out
    )
    assert (
        f"{apps}:21: metadata.annotations.argocd-image-updater.argoproj.io/app.update-stratgy:"
        " unknown annotation"
    ) in out
    assert (
        f"warning: {apps}:20: metadata.annotations.argocd-image-updater.argoproj.io/image-list:"
        " legacy" in out
    )
    assert (
        f"{apps}:32: metadata.annotations.argocd-image-updater.argoproj.io/image-list: "
        "Application orphan has Image Updater annotations but no ImageUpdater"
    ) in out


def test_validate_accepts_the_shipped_argocd_examples() -> None:
    code, out = _validate(Path(__file__).resolve().parents[2] / "policies" / "argocd")
    assert code == 0, out


def test_hostile_argocd_documents_are_refused_with_a_line_not_a_crash(tmp_path: Path) -> None:
    head = "apiVersion: argocd-image-updater.argoproj.io/v1alpha1\nkind: ImageUpdater\n"
    (tmp_path / "bomb.yaml").write_text(billion_laughs(head))
    big = "x" * 5000
    (tmp_path / "long.yaml").write_text(
        UPDATER.replace("imageName: nginx}]\n    - namePattern: plain",
                        f"imageName: {big}}}]\n    - namePattern: plain")
        .replace("name: fleet", "name: long")
    )  # fmt: skip
    code, out = _validate(tmp_path)
    assert code == 1
    assert f"{tmp_path / 'bomb.yaml'}:" in out and "too many aliases" in out
    assert "at most 1024 characters" in out


@pytest.mark.parametrize(
    ("conf", "message"),
    [
        ("registries: [{prefix: 127.0.0.1:5000, api_url: http://x}]", "not valid YAML"),
        ("registries: {prefix: x}", "registries must be a list of mappings"),
        ("registries: [x]", "registries must be a list of mappings"),
        ("- registries", "registries must be a list of mappings"),
    ],
)
def test_a_broken_registries_conf_is_an_error_at_its_key_not_ignored(
    tmp_path: Path, conf: str, message: str
) -> None:
    config = (
        "apiVersion: v1\nkind: ConfigMap\n"
        "metadata: {name: argocd-image-updater-config, namespace: argocd}\n"
        f"data:\n  registries.conf: |\n    {conf}\n"
    )
    (tmp_path / "updater.yaml").write_text(UPDATER)
    (tmp_path / "apps.yaml").write_text(APPS)
    (tmp_path / "config.yaml").write_text(config)
    code, out = _validate(tmp_path)
    assert code == 1, out
    assert f"{tmp_path / 'config.yaml'}:5: data.registries.conf: {message}" in out, out


def test_validate_reads_a_relative_or_absolute_directory_alike(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "fleet").mkdir()
    (tmp_path / "fleet" / "updater.yaml").write_text(UPDATER)
    (tmp_path / "fleet" / "apps.yaml").write_text(APPS)
    (tmp_path / "fleet" / "plain").mkdir()
    monkeypatch.chdir(tmp_path)
    absolute = _validate(tmp_path / "fleet")
    relative = _validate(Path("fleet"))
    dotted = _validate(Path("./fleet/"))
    assert absolute[0] == relative[0] == dotted[0] == 1
    strip = str(tmp_path) + "/"
    assert absolute[1].replace(strip, "") == relative[1] == dotted[1].replace("./", "")
    assert "fleet/updater.yaml:7: spec.applicationRefs[0].namePattern" in relative[1]
