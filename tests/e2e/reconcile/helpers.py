"""A fleet repository for reconcile: an app manifest with a marker plus Flux policy files."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[3]
APP_FILE = "clusters/prod/app.yaml"
CLI = Path(sys.executable).with_name("image-automation")


def app_manifest(image: str, policy: str = "apps:app") -> str:
    return (
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: prod\n"
        "spec:\n  template:\n    spec:\n      containers:\n        - name: app\n"
        f'          image: {image} # {{"$imagepolicy": "{policy}"}}\n'
    )


def policy_docs(image: str, name: str = "app", namespace: str = "apps", labels: str = "") -> str:
    meta = f"{{name: {name}, namespace: {namespace}{', labels: ' + labels if labels else ''}}}"
    return f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: {name}, namespace: {namespace}}}
spec:
  image: {image}
  interval: 1m
  insecure: true
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {meta}
spec:
  imageRepositoryRef: {{name: {name}}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
"""


FLUX_AUTOMATION = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: apps}
spec:
  url: https://git.example.invalid/fleet.git
  secretRef: {name: not-used-with-repo}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: fleet, namespace: apps}
spec:
  interval: 5m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    checkout: {ref: {branch: main}}
    commit:
      author: {name: Image Bot, email: bot@example.test}
      messageTemplate: |
        Automated image update by {{ .AutomationObject }}
        {{ range .Changed.Changes }}
        - {{ .Setter }}: {{ .OldValue }} -> {{ .NewValue }}
        {{- end }}
    push: {branch: main}
  update: {path: ./clusters, strategy: Setters}
"""


def fleet_files(registry_host: str, tag: str = "1.0.0") -> dict[str, str]:
    image = f"{registry_host}/team/app"
    return {
        APP_FILE: app_manifest(f"{image}:{tag}"),
        "clusters/prod/kustomization.yaml": "resources:\n  - app.yaml\n",
        "automation/policies.yaml": policy_docs(image),
        "automation/automation.yaml": FLUX_AUTOMATION,
        "README.md": "fleet\n",
    }


def run_reconcile(
    url: str, work: Path, *args: str, env: Mapping[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    """``image-automation reconcile --once`` as a subprocess in its own session."""
    return subprocess.run(
        [str(CLI), "reconcile", "--once",
         "--repo", url, "--work-dir", str(work), "--state", f"{work}.state.db", *args],
        cwd=REPO_ROOT, env={**os.environ, **(env or {})}, capture_output=True, text=True,
        timeout=timeout, start_new_session=True, check=False,
    )  # fmt: skip
