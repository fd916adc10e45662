"""Render deploy/: the kustomize directories through ``kubectl kustomize``, the chart through Helm
(in a worker process, see ``k8s_worker``).

Both give plain lists of objects (dicts) so the tests can compare, validate and inspect them.
A missing kubectl fails the tests (``.ci/system-deps`` installs what can be installed).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.deploy import k8s

REPO_ROOT = Path(__file__).resolve().parents[2]
DEPLOY = REPO_ROOT / "deploy"
KUSTOMIZE = DEPLOY / "kustomize"
CHART = DEPLOY / "helm" / "image-automation"
OVERLAYS = {"beside-flux": "flux-system", "beside-argocd": "argocd"}
RELEASE = "image-automation"  # the release name whose default render equals the base

Obj = dict[str, Any]


def kubectl() -> str:
    found = shutil.which("kubectl")
    if found is None:
        raise RuntimeError("kubectl is missing: run .ci/system-deps (it says what it needs)")
    return found


def kustomize(directory: Path) -> list[Obj]:
    """``kubectl kustomize DIR`` as objects; its stderr (deprecation notes) is kept out."""
    proc = subprocess.run(
        [kubectl(), "kustomize", str(directory)],
        capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    if proc.returncode != 0:
        raise AssertionError(f"kubectl kustomize {directory} failed:\n{proc.stderr}")
    return [doc for doc in yaml.safe_load_all(proc.stdout) if doc]


def helm_manifests(
    values: Mapping[str, Any] | None = None, *, name: str = RELEASE, namespace: str = "default"
) -> dict[str, str]:
    """The chart's rendered templates by file name (NOTES.txt left out)."""
    out = k8s.render(values or {}, name=name, namespace=namespace)
    return {k: v for k, v in out.items() if not k.endswith("NOTES.txt")}


def helm_render(
    values: Mapping[str, Any] | None = None, *, name: str = RELEASE, namespace: str = "default"
) -> list[Obj]:
    docs: list[Obj] = []
    for text in helm_manifests(values, name=name, namespace=namespace).values():
        docs.extend(doc for doc in yaml.safe_load_all(text) if doc)
    return docs


def by_kind(objects: list[Obj], kind: str) -> list[Obj]:
    return [o for o in objects if o["kind"] == kind]


def only(objects: list[Obj], kind: str) -> Obj:
    found = by_kind(objects, kind)
    assert len(found) == 1, f"expected one {kind}, got {len(found)}"
    return found[0]
