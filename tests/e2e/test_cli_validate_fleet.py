"""`validate .` in a fleet checkout reports what Flux would, and only that, each at its line."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from image_automation.config.loading import MAX_FILE_BYTES

CLI = Path(sys.executable).with_name("image-automation")

IMAGES = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: ghcr.io/org/app}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: apps}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}, numerical: {order: asc}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: web, namespace: apps}
spec: {image: ghcr.io/org/web, colour: blue}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web, namespace: apps}
spec:
  imageRepositoryRef: {name: web}
  policy: {alphabetical: {}}
"""

AUTOMATION = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {{name: {name}, namespace: apps}}
spec:
  interval: 5m
  sourceRef: {{kind: GitRepository, name: fleet}}
  git:
    commit:
      author: {{email: bot@example.com}}
    push: {{branch: main}}
  update: {{path: {path}}}
"""

RECEIVER = """\
apiVersion: notification.toolkit.fluxcd.io/v1
kind: Receiver
metadata: {name: github, namespace: flux-system}
spec:
  type: github
  events: [ping, push]
  secretRef: {name: webhook-token}
  resources:
    - {kind: GitRepository, name: flux-system}
    - {kind: Kustomization, name: '*', matchLabels: {team: web}}
    - {kind: ImageRepository, name: app, namespace: apps}
"""

TEMPLATE = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: {{ .Values.name }}
  labels:
    {{- include "labels" . | nindent 4 }}
spec: {}
"""


def test_a_fleet_checkout_reports_root_errors_and_flux_would_be_warnings(tmp_path: Path) -> None:
    marked = 'image: ghcr.io/org/app:1.0 # {"$imagepolicy": "apps:app"}\n'
    files = {
        "flux/images.yaml": IMAGES,
        "flux/automation.yaml": AUTOMATION.format(name="fleet", path="./apps")
        + "---\n"
        + AUTOMATION.format(name="fleet", path="./apps"),
        "flux/docs.yaml": AUTOMATION.format(name="docs", path="./docs"),
        "flux/receiver.yaml": RECEIVER,
        "flux/source.yaml": "apiVersion: source.toolkit.fluxcd.io/v1\nkind: GitRepository\n"
        'metadata: {name: fleet, namespace: apps}\nspec: {url: "https://git.example.com/f"}\n',
        "apps/app.yaml": marked + 'web: ghcr.io/org/web:1 # {"$imagepolicy": "other:web"}\n',
        "docs/readme.yaml": "kind: ConfigMap\n",
        "charts/app/Chart.yaml": "apiVersion: v2\nname: app\nversion: 1.0.0\n",
        "charts/app/templates/policy.yaml": TEMPLATE,
        "templated/policy.yaml": TEMPLATE,
        "bundle/crds.yaml": "kind: List\n" + "#" * MAX_FILE_BYTES,
    }
    for name, text in files.items():
        (tmp_path / name).parent.mkdir(parents=True, exist_ok=True)
        (tmp_path / name).write_text(text)
    (tmp_path / "flux/old.yaml").symlink_to(tmp_path / "flux/deleted.yaml")
    subprocess.run(["git", "init", "-q", str(tmp_path)], check=True)
    size = (tmp_path / "bundle/crds.yaml").stat().st_size

    result = subprocess.run(
        [str(CLI), "validate", "."], cwd=tmp_path, capture_output=True, text=True, timeout=120,
        check=False,
    )  # fmt: skip

    assert result.stdout.splitlines() == [
        f"warning: bundle/crds.yaml: skipped: {size} bytes is over the {MAX_FILE_BYTES}-byte limit",
        "warning: flux/old.yaml: dangling symlink; skipped",
        "warning: flux/images.yaml:11: spec.policy: more than one of semver, numerical is set; "
        "semver is used, as Flux does",
        "warning: flux/docs.yaml:11: spec.update.path: ./docs holds no marker; "
        "ImageUpdateAutomation/apps/docs has nothing to update",
        "warning: apps/app.yaml:2: marker names other:web, but no automation in namespace "
        "other updates this file (apps do)",
        "flux/images.yaml:16: spec.colour: unknown field",
        "flux/automation.yaml:13: duplicate ImageUpdateAutomation/apps/fleet, first declared at "
        "flux/automation.yaml:1",
    ]
    assert result.returncode == 1
