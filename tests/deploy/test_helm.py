"""The chart, rendered and linted by Helm v4 in-process (helm-python-sdk), offline."""

from __future__ import annotations

import base64
import copy
import filecmp
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.deploy import k8s
from tests.deploy.conftest import HELM_VARIANTS
from tests.deploy.daemon_pod import DaemonPod
from tests.deploy.renders import CHART, REPO_ROOT, Obj, by_kind, helm_render, only

KUBE_VERSIONS = ("v1.25.0", "v1.37.0")  # the oldest and newest we claim (docs/decisions.md)
HELM_ONLY_LABELS = ("helm.sh/chart", "app.kubernetes.io/managed-by")


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
@pytest.mark.parametrize("variant", sorted(HELM_VARIANTS))
def test_lint_finds_nothing_above_info(variant: str, kube_version: str) -> None:
    result = k8s.lint(HELM_VARIANTS[variant], kube_version=kube_version)
    assert result["errors"] == []
    assert [m for m in result["messages"] if m["severity"] > 1] == []


def _strip_helm_only(obj: Obj) -> Obj:
    obj = copy.deepcopy(obj)
    metas = [obj["metadata"]]
    if obj["kind"] == "Deployment":
        metas.append(obj["spec"]["template"]["metadata"])
    for meta in metas:
        for label in HELM_ONLY_LABELS:
            meta.get("labels", {}).pop(label)
        annotations = meta.get("annotations", {})
        annotations.pop("checksum/config", None)
        if "annotations" in meta and not annotations:
            del meta["annotations"]
    return obj


def _keyed(objects: list[Obj]) -> dict[tuple[str, str], Obj]:
    keyed = {(o["kind"], o["metadata"]["name"]): o for o in objects}
    assert len(keyed) == len(objects)
    return keyed


def test_default_render_is_the_kustomize_base(
    kustomize_renders: dict[str, list[Obj]], helm_renders: dict[str, list[Obj]]
) -> None:
    chart = _keyed([_strip_helm_only(o) for o in helm_renders["helm-default"]])
    base = _keyed(kustomize_renders["base"])
    assert sorted(chart) == sorted(base)
    for key, obj in base.items():
        assert chart[key] == obj, key


def test_helm_adds_only_its_own_labels_and_the_config_checksum(
    helm_renders: dict[str, list[Obj]],
) -> None:
    for obj in helm_renders["helm-default"]:
        labels = obj["metadata"]["labels"]
        assert labels["app.kubernetes.io/managed-by"] == "Helm"
        assert labels["helm.sh/chart"] == "image-automation-0.1.0"
    deployment = only(helm_renders["helm-default"], "Deployment")
    annotations = deployment["spec"]["template"]["metadata"]["annotations"]
    assert list(annotations) == ["checksum/config"]


def test_a_config_change_changes_the_pod_template() -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = only(helm_render(values), "Deployment")
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/config"])

    assert checksum({}) != checksum({"config": {"repo": "https://git.example.com/other.git"}})


def test_replicas_on_postgres_pass_the_url_from_a_secret(
    helm_renders: dict[str, list[Obj]],
) -> None:
    objects = helm_renders["helm-replicas-postgres"]
    deployment = only(objects, "Deployment")
    pod = DaemonPod.of(deployment)
    assert deployment["spec"]["replicas"] == 3
    assert deployment["spec"]["strategy"]["type"] == "RollingUpdate"
    assert pod.flags["--state"] == "$(IMAGE_AUTOMATION_STATE)"
    (env,) = pod.container["env"]
    ref = env["valueFrom"]["secretKeyRef"]
    secret = _keyed(by_kind(objects, "Secret"))[("Secret", ref["name"])]
    url = base64.b64decode(secret["data"][ref["key"]]).decode()
    assert url == HELM_VARIANTS["helm-replicas-postgres"]["state"]["url"]
    assert "postgresql://" not in yaml.safe_dump(deployment)  # only the Secret holds it


def test_an_existing_state_secret_is_referenced_not_created(
    helm_renders: dict[str, list[Obj]],
) -> None:
    objects = helm_renders["helm-everything"]
    assert by_kind(objects, "Secret") == []
    (env,) = DaemonPod.of(only(objects, "Deployment")).container["env"]
    assert env["valueFrom"]["secretKeyRef"] == {"name": "image-automation-postgres", "key": "uri"}


def test_extra_secrets_are_mounted_by_the_name_the_files_use(
    helm_renders: dict[str, list[Obj]],
) -> None:
    pod = DaemonPod.of(only(helm_renders["helm-everything"], "Deployment"))
    root = pod.flags["--secrets-dir"]
    assert pod.volume_at(f"{root}/regcred")["secret"]["secretName"] == "ghcr-pull"
    assert pod.volume_at(f"{root}/hook-token")["secret"]["secretName"] == "hook-token"
    assert pod.volume_at(f"{root}/git")["secret"]["secretName"] == "image-automation-git"


def test_grace_period_and_image_digest_and_extra_args(helm_renders: dict[str, list[Obj]]) -> None:
    deployment = only(helm_renders["helm-everything"], "Deployment")
    pod = DaemonPod.of(deployment)
    assert pod.flags["--grace-period"] == "120s"
    assert pod.spec["terminationGracePeriodSeconds"] == 150
    assert pod.container["image"] == "ghcr.io/image-automation/image-automation@sha256:" + "ab" * 32
    assert pod.flags["--log-level"] == "debug"


def test_example_policies_ship_byte_for_byte_and_validate(
    helm_renders: dict[str, list[Obj]], tmp_path: Path
) -> None:
    objects = helm_renders["helm-everything"]
    pod = DaemonPod.of(only(objects, "Deployment"))
    maps = {m["metadata"]["name"]: m for m in by_kind(objects, "ConfigMap")}
    sources = pod.volume_at("/etc/image-automation")["projected"]["sources"]
    items = sources[1]["configMap"]["items"]
    data = maps[sources[1]["configMap"]["name"]]["data"]
    policies = REPO_ROOT / "policies"
    shipped = sorted(p.relative_to(policies).as_posix() for p in policies.rglob("*.yaml"))
    assert sorted(i["path"] for i in items) == [f"policies/{p}" for p in shipped]
    for item in items:
        original = (REPO_ROOT / item["path"]).read_text()
        assert data[item["key"]] == original, item["path"]
        target = tmp_path / item["path"]
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(data[item["key"]])
    cli = Path(sys.executable).with_name("image-automation")
    proc = subprocess.run([str(cli), "validate", str(tmp_path / "policies")],
                          capture_output=True, text=True, timeout=120, check=False)  # fmt: skip
    assert proc.returncode == 0, proc.stdout + proc.stderr


def test_the_chart_copy_of_the_example_policies_is_current() -> None:
    compared = filecmp.dircmp(REPO_ROOT / "policies", CHART / "files" / "policies")
    stack, differ = [compared], []
    while stack:
        cmp = stack.pop()
        differ += cmp.left_only + cmp.right_only + cmp.diff_files + cmp.funny_files
        stack += cmp.subdirs.values()
    assert differ == [], "copy policies/ to deploy/helm/image-automation/files/policies/"


def test_a_release_name_is_carried_into_names_and_selectors() -> None:
    objects = helm_render({}, name="fleet-a")
    assert {o["metadata"]["name"] for o in objects} == {"fleet-a-image-automation"}
    deployment = only(objects, "Deployment")
    assert deployment["spec"]["selector"]["matchLabels"]["app.kubernetes.io/instance"] == "fleet-a"
    long = helm_render({"extraSecrets": [{"name": "x" * 56}]}, name="r" * 80)
    assert all(len(o["metadata"]["name"]) <= 63 for o in long)
    volumes = DaemonPod.of(only(long, "Deployment")).spec["volumes"]
    assert all(len(v["name"]) <= 63 for v in volumes)


# values the schema must refuse, with the path its message names
BAD_VALUES: list[tuple[str, dict[str, Any], str]] = [
    ("no replicas", {"replicas": 0}, "/replicas"),
    ("replicas as text", {"replicas": "two"}, "/replicas"),
    ("replicas without postgres", {"replicas": 2}, "/state"),
    ("sqlite url", {"replicas": 2, "state": {"url": "sqlite:///x.db"}}, "/state/url"),
    ("flag-owned key in config", {"config": {"listen": "0.0.0.0:1"}}, "/config"),
    ("unknown key", {"replica": 2}, "''"),
    ("secret dir escaping", {"extraSecrets": [{"name": "../etc"}]}, "/extraSecrets/0/name"),
    ("secret dir shadowing git", {"extraSecrets": [{"name": "git"}]}, "/extraSecrets/0/name"),
    ("git secret with a slash", {"config": {"gitSecret": "a/b"}}, "/config/gitSecret"),
    ("huge repo", {"config": {"repo": "x" * 5000}}, "/config/repo"),
    ("bad digest", {"image": {"digest": "sha256:xyz"}}, "/image/digest"),
    ("tag with a space", {"image": {"tag": "1.0 ; rm"}}, "/image/tag"),
    ("zero grace", {"gracePeriodSeconds": 0}, "/gracePeriodSeconds"),
    ("log format", {"logFormat": "xml"}, "/logFormat"),
    ("interval", {"config": {"interval": "soon"}}, "/config/interval"),
    ("arg not a string", {"extraArgs": [{"a": 1}]}, "/extraArgs/0"),
]


@pytest.mark.parametrize(("values", "path"), [(v, p) for _, v, p in BAD_VALUES],
                         ids=[n for n, _, _ in BAD_VALUES])  # fmt: skip
def test_the_schema_refuses_bad_values(values: dict[str, Any], path: str) -> None:
    with pytest.raises(k8s.HelmValuesError) as caught:
        k8s.validate_schema(values)
    assert f"at '{path.strip(chr(39))}'" in str(caught.value), str(caught.value)


@pytest.mark.parametrize(
    ("values", "message"),
    [
        ({"state": {"url": "postgresql://h/db", "existingSecret": "s"}}, "not both"),
        ({"git": {"secretName": ""}}, "git.secretName is empty"),
    ],
    ids=["two state sources", "git secret named but not mounted"],
)
def test_contradictions_stop_the_render(values: dict[str, Any], message: str) -> None:
    with pytest.raises(k8s.HelmRenderError, match=message):
        helm_render(values)


def test_a_hostile_config_value_stays_one_quoted_value() -> None:
    repo = 'https://git.example.com/x.git\nlisten: 0.0.0.0:1\n"{{ .Release.Name }}'
    objects = helm_render({"config": {"repo": repo, "branch": "main: x # {{ oops }}"}})
    config = yaml.safe_load(only(objects, "ConfigMap")["data"]["config.yaml"])
    assert config["repo"] == repo and config["branch"] == "main: x # {{ oops }}"
    assert "listen" not in config


def test_helm_and_the_schemas_stay_out_of_the_test_process(
    all_renders: dict[str, list[Obj]],
) -> None:
    """Loaded here they would raise the ru_maxrss of every later subprocess (other suites
    bound the RSS of the CLI they start): the worker process holds them."""
    assert all_renders
    k8s.kube_validate(all_renders["base"], "1.37.0")
    assert "helm_python" not in sys.modules
    assert "kubernetes_validate" not in sys.modules
