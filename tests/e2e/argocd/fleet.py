"""An app-of-apps fleet repository written for Argo CD Image Updater v1.

``argocd/root.yaml`` deploys ``argocd/apps/`` (the Applications and the ImageUpdater) from
``FLEET_URL``, which is how the fleet's own Applications are known to live in this
repository. Three Applications, one per write-back target: ``web`` (Helm chart in Git, the
default ``.argocd-source-web.yaml``, absent at first), ``api`` (Kustomize overlay, its
``images:`` entry) and ``monitoring`` (multi-source: a chart from a Helm repository, values
from Git at named keys, a values file with comments and anchors).
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
    }
