"""Every rendered object validates against Kubernetes' OpenAPI schemas (kubernetes-validate).

For the oldest and the newest version we claim: 1.25 (Pod Security admission's first stable
release, and the oldest schema kubernetes-validate ships) and 1.37 (its newest). Strict: an
unknown field is an error, as the API server's strict field validation makes it.
"""

from __future__ import annotations

import copy

import pytest

from tests.deploy import k8s
from tests.deploy.renders import Obj, only

VERSIONS = ("1.25.0", "1.37.0")
# Custom resources: no Kubernetes schema exists for them; nothing else may lack one.
NO_SCHEMA = {("monitoring.coreos.com/v1", "ServiceMonitor")}


@pytest.mark.parametrize("version", VERSIONS)
def test_every_rendered_object_is_valid(all_renders: dict[str, list[Obj]], version: str) -> None:
    validated = 0
    for name, objects in all_renders.items():
        for obj, result in zip(objects, k8s.kube_validate(objects, version), strict=True):
            key = (obj["apiVersion"], obj["kind"])
            where = f"{name}: {obj['kind']}/{obj['metadata']['name']}"
            if result["status"] == "no_schema":
                assert key in NO_SCHEMA, f"{where}: no schema in {version}"
                continue
            assert result["status"] == "ok", f"{where}: {'.'.join(result['path'])}: {result}"
            validated += 1
    assert validated >= 6 * (len(all_renders) - 1)  # six core objects in each but one


@pytest.mark.parametrize("version", VERSIONS)
def test_the_validation_catches_a_broken_deployment(
    kustomize_renders: dict[str, list[Obj]], version: str
) -> None:
    broken = copy.deepcopy(only(kustomize_renders["base"], "Deployment"))
    broken["spec"]["template"]["spec"]["containers"][0]["readinessProbe"]["httpGet"]["paht"] = "/"
    (result,) = k8s.kube_validate([broken], version)
    assert result["status"] == "invalid"
    assert "paht" in result["message"]
