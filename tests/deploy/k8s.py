"""Client of ``k8s_worker``: Helm render, lint and schema, Kubernetes schemas, out of process."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[2]
CHART = REPO_ROOT / "deploy" / "helm" / "image-automation"


class HelmError(Exception):
    """What Helm raised in the worker; ``kind`` is its class name there."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class HelmValuesError(HelmError):
    """values.schema.json refused the values."""


class HelmRenderError(HelmError):
    """A template failed (``fail``, ``required``)."""


_ERRORS = {"HelmValuesError": HelmValuesError, "HelmRenderError": HelmRenderError}


class _Worker:
    def __init__(self) -> None:
        self._proc: subprocess.Popen[str] | None = None

    def call(self, **request: Any) -> Any:
        if self._proc is None or self._proc.poll() is not None:
            self._proc = subprocess.Popen(
                [sys.executable, "-m", "tests.deploy.k8s_worker"], cwd=REPO_ROOT,
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
            )  # fmt: skip
        assert self._proc.stdin is not None and self._proc.stdout is not None
        self._proc.stdin.write(json.dumps(request) + "\n")
        self._proc.stdin.flush()
        line = self._proc.stdout.readline()
        if not line:
            raise RuntimeError(f"the helm/kubernetes-validate worker died on {request['op']}")
        answer = json.loads(line)
        if "error" in answer:
            raise _ERRORS.get(answer["error"], HelmError)(answer["error"], answer["message"])
        return answer["ok"]

    def close(self) -> None:
        if self._proc is not None:
            assert self._proc.stdin is not None and self._proc.stdout is not None
            self._proc.stdin.close()
            self._proc.wait(timeout=30)
            self._proc.stdout.close()
            self._proc = None


WORKER = _Worker()


def render(values: Mapping[str, Any], *, name: str, namespace: str) -> dict[str, str]:
    out: dict[str, str] = WORKER.call(op="render", chart=str(CHART), values=dict(values),
                                      name=name, namespace=namespace)  # fmt: skip
    return out


def validate_schema(values: Mapping[str, Any]) -> None:
    WORKER.call(op="validate_schema", chart=str(CHART), values=dict(values))


def lint(values: Mapping[str, Any], *, kube_version: str) -> dict[str, Any]:
    out: dict[str, Any] = WORKER.call(op="lint", chart=str(CHART), values=dict(values),
                                      kube_version=kube_version)  # fmt: skip
    return out


def kube_validate(objects: list[dict[str, Any]], version: str) -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = WORKER.call(op="kube_validate", objects=objects, version=version)
    return out
