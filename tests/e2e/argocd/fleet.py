"""An app-of-apps fleet repository written for Argo CD Image Updater v1.

``argocd/root.yaml`` deploys ``argocd/apps/`` (the Applications and the ImageUpdater) from
``FLEET_URL``, which is how the fleet's own Applications are known to live in this
repository. Three Applications, one per write-back target: ``web`` (Helm chart in Git, the
default ``.argocd-source-web.yaml``, absent at first), ``api`` (Kustomize overlay, its
``images:`` entry), ``monitoring`` (multi-source: a chart from a Helm repository, values
from Git at named keys, a values file with comments and anchors) and ``ops`` (multi-source,
both in Git: a chart first, then a Kustomize overlay; ``writeBackTarget: kustomization``
picks the overlay, as AIU picks the source by target type, and the chart is never written).
"""

from __future__ import annotations

FLEET_URL = "https://git.example.test/org/fleet.git"
NAMESPACE = "argocd"

VALUES = """\
# Monitoring values: comments, anchors and key order are the owner's.
grafana:
  image: &grafana
    repository: {mon}   # the registry copy
    tag: "1.0.0"
  replicas: 2
sidecar:
  image: *grafana       # shares grafana's image
"""


def fleet_files(
    host: str, images: dict[str, str], tag: str = "1.0.0", *, git_config: str = "",
    annotations: str = "{}",
) -> dict[str, str]:  # fmt: skip
    """The repository; ``images`` maps web/api/mon to registry repositories on ``host``;
    ``git_config`` goes into the ImageUpdater's ``spec.writeBackConfig`` (pull requests)."""
    web, api, mon = (f"{host}/{images[k]}" for k in ("web", "api", "mon"))
    return {
        "argocd/root.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: root, namespace: {NAMESPACE}}}
spec:
  project: default
  source: {{repoURL: "{FLEET_URL}", targetRevision: main, path: argocd/apps}}
  destination: {{server: "https://kubernetes.default.svc", namespace: {NAMESPACE}}}
""",
        "argocd/apps/apps.yaml": f"""\
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: web, namespace: {NAMESPACE}, labels: {{team: shop}}}}
spec:
  project: default
  source: {{repoURL: "{FLEET_URL}", targetRevision: main, path: apps/web}}
  destination: {{server: "https://kubernetes.default.svc", namespace: web}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: api, namespace: {NAMESPACE}, labels: {{team: shop}}}}
spec:
  project: default
  source: {{repoURL: "{FLEET_URL}", targetRevision: main, path: apps/api/overlays/prod}}
  destination: {{server: "https://kubernetes.default.svc", namespace: api}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: monitoring, namespace: {NAMESPACE}}}
spec:
  project: default
  sources:
    - repoURL: https://charts.example.test/monitoring
      chart: grafana
      targetRevision: 8.x
      helm: {{valueFiles: [$values/apps/monitoring/values.yaml]}}
    - {{repoURL: "{FLEET_URL}", targetRevision: main, path: apps/monitoring, ref: values}}
  destination: {{server: "https://kubernetes.default.svc", namespace: monitoring}}
---
apiVersion: argoproj.io/v1alpha1
kind: Application
metadata: {{name: ops, namespace: {NAMESPACE}}}
spec:
  project: default
  sources:
    - {{repoURL: "{FLEET_URL}", targetRevision: main, path: apps/ops/chart}}
    - {{repoURL: "{FLEET_URL}", targetRevision: main, path: apps/ops/overlay}}
  destination: {{server: "https://kubernetes.default.svc", namespace: ops}}
""",
        "argocd/apps/image-updater.yaml": f"""\
apiVersion: argocd-image-updater.argoproj.io/v1alpha1
kind: ImageUpdater
metadata: {{name: fleet, namespace: {NAMESPACE}, annotations: {annotations}}}
spec:
  writeBackConfig:
    method: git
{git_config}  applicationRefs:
    - namePattern: "w*"
      labelSelectors: {{matchLabels: {{team: shop}}}}
      images:
        - alias: web
          imageName: {web}:~1.0
    - namePattern: api
      writeBackConfig:
        method: git
        gitConfig: {{writeBackTarget: kustomization}}
      images:
        - alias: api
          imageName: {api}:1.x
    - namePattern: monitoring
      writeBackConfig:
        method: git
        gitConfig: {{writeBackTarget: "helmvalues:/apps/monitoring/values.yaml"}}
      images:
        - alias: grafana
          imageName: {mon}
          manifestTargets:
            helm: {{name: grafana.image.repository, tag: grafana.image.tag}}
    - namePattern: ops
      writeBackConfig:
        method: git
        gitConfig: {{writeBackTarget: kustomization}}
      images:
        - alias: ops
          imageName: {api}:1.x
""",
        "argocd/apps/updater-config.yaml": f"""\
apiVersion: v1
kind: ConfigMap
metadata: {{name: argocd-image-updater-config, namespace: {NAMESPACE}}}
data:
  git.user: Image Updater
  git.email: updater@example.test
  registries.conf: |
    registries:
      - name: local
        prefix: {host}
        api_url: http://{host}
""",
        "apps/web/Chart.yaml": "apiVersion: v2\nname: web\nversion: 0.1.0\n",
        "apps/web/values.yaml": f"image:\n  name: {web}\n  tag: {tag}\n",
        "apps/web/templates/deployment.yaml": "# {{ .Values.image.name }}\n",
        "apps/api/base/kustomization.yaml": "resources:\n  - deployment.yaml\n",
        "apps/api/base/deployment.yaml": "kind: Deployment\n",
        "apps/api/overlays/prod/kustomization.yaml": f"""\
# Production overlay
resources:
  - ../../base
images:
  - name: {api}   # the API
    newTag: "{tag}"
""",
        "apps/monitoring/values.yaml": VALUES.format(mon=mon),
        "apps/ops/chart/Chart.yaml": "apiVersion: v2\nname: ops\nversion: 0.1.0\n",
        "apps/ops/chart/values.yaml": f"image:\n  name: {api}\n  tag: {tag}\n",
        "apps/ops/overlay/deployment.yaml": "kind: Deployment\n",
        "apps/ops/overlay/kustomization.yaml": f"""\
resources:
  - deployment.yaml
images:
  - name: {api}
    newTag: "{tag}"
""",
    }


WRITTEN = (
    "apps/api/overlays/prod/kustomization.yaml",
    "apps/monitoring/values.yaml",
    "apps/ops/overlay/kustomization.yaml",
    "apps/web/.argocd-source-web.yaml",
)
"""Every file a write-back of the fleet touches (``git diff --name-only`` order)."""


def value_lines(host: str, images: dict[str, str], new: dict[str, str], old: str = "1.0.0"
                ) -> list[str]:  # fmt: skip
    """The whole-tree diff's changed lines (``git diff``, path order) when ``new`` (web, api,
    mon, ops → tag) is written: the image values and nothing else. The override file is new
    and holds only the image parameters, which is what AIU creates."""
    web = f"{host}/{images['web']}"
    return [
        f'-    newTag: "{old}"', f'+    newTag: "{new["api"]}"',
        f'-    tag: "{old}"', f'+    tag: "{new["mon"]}"',
        f'-    newTag: "{old}"', f'+    newTag: "{new["ops"]}"',
        "+helm:", "+  parameters:",
        "+  - name: image.name", f"+    value: {web}", "+    forcestring: true",
        "+  - name: image.tag", f"+    value: {new['web']}", "+    forcestring: true",
    ]  # fmt: skip


def changed_lines(diff: str) -> list[str]:
    """The added and removed lines of a unified diff, without its file headers."""
    return [
        line for line in diff.splitlines() if line[:1] in "+-" and line[:3] not in ("+++", "---")
    ]
