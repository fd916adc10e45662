"""``kubectl kustomize`` renders the base and each overlay with what each promises."""

from __future__ import annotations

import re
import subprocess
import tomllib

from tests.deploy.daemon_pod import DaemonPod
from tests.deploy.renders import CHART, OVERLAYS, REPO_ROOT, Obj, kubectl, only


def _version() -> str:
    with open(REPO_ROOT / "pyproject.toml", "rb") as f:
        return str(tomllib.load(f)["project"]["version"])


def test_kubectl_has_a_kustomize_that_renders_directories_in_resources() -> None:
    out = subprocess.run([kubectl(), "version", "--client"], capture_output=True, text=True,
                         check=True).stdout  # fmt: skip
    found = re.search(r"Kustomize Version: v(\d+)\.", out)
    assert found and int(found[1]) >= 4, out


def test_base_has_the_daemon_objects_and_no_namespace(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    base = kustomize_renders["base"]
    kinds = sorted(o["kind"] for o in base)
    assert kinds == ["ConfigMap", "Deployment", "NetworkPolicy", "PodDisruptionBudget",
                     "Service", "ServiceAccount"]  # fmt: skip
    assert all("namespace" not in o["metadata"] for o in base)
    assert {o["metadata"]["name"] for o in base} == {"image-automation"}


def test_overlays_put_the_base_objects_in_their_namespace(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    base_kinds = sorted(o["kind"] for o in kustomize_renders["base"])
    for overlay, namespace in OVERLAYS.items():
        objects = kustomize_renders[overlay]
        assert sorted(o["kind"] for o in objects) == base_kinds, overlay
        assert {o["metadata"]["namespace"] for o in objects} == {namespace}, overlay


def test_beside_flux_pushes_with_the_flux_bootstrap_secret(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    pod = DaemonPod.of(only(kustomize_renders["beside-flux"], "Deployment"))
    assert pod.volume("git")["secret"]["secretName"] == "flux-system"


def test_beside_argocd_maps_the_repository_secret_onto_the_git_secret_files(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    pod = DaemonPod.of(only(kustomize_renders["beside-argocd"], "Deployment"))
    volume = pod.volume("git")
    assert "secret" not in volume, "the base's secret source must be replaced, not merged"
    secret, known_hosts = volume["projected"]["sources"]
    paths = {i["key"]: i["path"] for i in secret["secret"]["items"]}
    assert paths == {"sshPrivateKey": "identity", "username": "username", "password": "password"}
    assert secret["secret"]["optional"] is True  # an HTTPS secret has no sshPrivateKey
    assert known_hosts["configMap"]["name"] == "argocd-ssh-known-hosts-cm"
    assert known_hosts["configMap"]["items"] == [{"key": "ssh_known_hosts", "path": "known_hosts"}]


def test_the_service_monitor_scrapes_the_service_metrics_port(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    monitor = only(kustomize_renders["servicemonitor"], "ServiceMonitor")
    service = only(kustomize_renders["base"], "Service")
    assert (
        monitor["spec"]["selector"]["matchLabels"].items() <= service["metadata"]["labels"].items()
    )
    (endpoint,) = monitor["spec"]["endpoints"]
    assert endpoint["port"] in {p["name"] for p in service["spec"]["ports"]}
    assert endpoint["path"] == "/metrics"


def test_the_image_tag_is_the_package_version_everywhere(
    kustomize_renders: dict[str, list[Obj]],
) -> None:
    version = _version()
    for name in ("base", *OVERLAYS):
        image = DaemonPod.of(only(kustomize_renders[name], "Deployment")).container["image"]
        assert image.endswith(f":{version}"), (name, image)
    chart = (CHART / "Chart.yaml").read_text()
    assert f'appVersion: "{version}"' in chart
