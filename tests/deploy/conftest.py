"""Every render of deploy/ the tests check: kustomize directories and chart value sets."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from tests.deploy import k8s
from tests.deploy.renders import KUSTOMIZE, OVERLAYS, Obj, helm_render, kustomize
from tests.integration.git_fixtures import git_server_root, http_git_server
from tests.integration.local_registry import LocalRegistry

# Chart value sets beyond the defaults: each must render objects that pass every check.
HELM_VARIANTS: dict[str, dict[str, Any]] = {
    "helm-default": {},
    "helm-replicas-postgres": {
        "replicas": 3,
        "state": {"url": "postgresql://automation:pw@postgres.db:5432/image_automation"},
        "topologySpreadConstraints": [
            {
                "maxSkew": 1,
                "topologyKey": "kubernetes.io/hostname",
                "whenUnsatisfiable": "ScheduleAnyway",
                "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "image-automation"}},
            }
        ],
    },
    "helm-everything": {
        "replicas": 2,
        "state": {"existingSecret": "image-automation-postgres", "existingSecretKey": "uri"},
        "extraSecrets": [{"name": "regcred", "secretName": "ghcr-pull"}, {"name": "hook-token"}],
        "examplePolicies": {"enabled": True},
        "serviceMonitor": {"enabled": True, "labels": {"release": "prometheus"}},
        "networkPolicy": {"from": [{"namespaceSelector": {"matchLabels": {"ingress": "yes"}}}]},
        "image": {"digest": "sha256:" + "ab" * 32},
        "gracePeriodSeconds": 120,
        "extraArgs": ["--log-level=debug"],
        "podAnnotations": {"example.com/team": "platform"},
    },
    "helm-no-git-secret": {
        "git": {"secretName": ""},
        "config": {"gitSecret": None, "repo": "https://git.example.com/public.git"},
    },
}


@pytest.fixture(scope="session", autouse=True)
def _k8s_worker() -> Iterator[None]:
    """The Helm/kubernetes-validate worker process ends with the session."""
    yield
    k8s.WORKER.close()


@pytest.fixture(scope="session")
def kustomize_renders() -> dict[str, list[Obj]]:
    names = ["base", *OVERLAYS, "servicemonitor"]
    return {name: kustomize(KUSTOMIZE / name) for name in names}


@pytest.fixture(scope="session")
def helm_renders() -> dict[str, list[Obj]]:
    return {name: helm_render(values) for name, values in HELM_VARIANTS.items()}


@pytest.fixture(scope="session")
def all_renders(
    kustomize_renders: dict[str, list[Obj]], helm_renders: dict[str, list[Obj]]
) -> dict[str, list[Obj]]:
    return {**kustomize_renders, **helm_renders}


@pytest.fixture(scope="session")
def registry() -> Iterator[LocalRegistry]:
    """A real docker-registry on loopback; failing to start fails the tests (no skip)."""
    with LocalRegistry() as running:
        yield running


__all__ = ["git_server_root", "http_git_server", "registry"]
