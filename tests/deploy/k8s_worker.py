"""Helm (helm-python-sdk) and kubernetes-validate in a child process, one JSON line per call.

Both load a lot into memory (Helm's 85 MB library, the OpenAPI schemas): in the pytest
process that memory would count in the ``ru_maxrss`` of every subprocess it starts later (Linux
carries the parent's high-water mark across fork and exec), and break other suites' RSS
bounds. So they live here; ``tests/deploy/k8s.py`` is the client.
"""

from __future__ import annotations

import json
import sys
from typing import Any

import helm_python as helm
import kubernetes_validate


def _render(chart: str, req: dict[str, Any]) -> Any:
    with helm.Chart.load(chart) as loaded:
        return loaded.render(req["values"], name=req["name"], namespace=req["namespace"],
                             is_install=True)  # fmt: skip


def _validate_schema(chart: str, req: dict[str, Any]) -> Any:
    with helm.Chart.load(chart) as loaded:
        loaded.validate_schema(req["values"])
    return None


def _kube_validate(req: dict[str, Any]) -> list[dict[str, Any]]:
    results: list[dict[str, Any]] = []
    for obj in req["objects"]:
        try:
            kubernetes_validate.validate(obj, req["version"], strict=True)
            results.append({"status": "ok"})
        except kubernetes_validate.SchemaNotFoundError:
            results.append({"status": "no_schema"})
        except kubernetes_validate.ValidationError as exc:
            path = [str(p) for p in exc.path]
            results.append({"status": "invalid", "path": path, "message": exc.message})
    return results


def handle(req: dict[str, Any]) -> Any:
    op = req["op"]
    if op == "render":
        return _render(req["chart"], req)
    if op == "validate_schema":
        return _validate_schema(req["chart"], req)
    if op == "lint":
        return helm.lint(req["chart"], req["values"], strict=True,
                         kube_version=req["kube_version"])  # fmt: skip
    if op == "kube_validate":
        return _kube_validate(req)
    raise ValueError(f"unknown op {op!r}")


def main() -> None:
    for line in sys.stdin:
        try:
            answer: dict[str, Any] = {"ok": handle(json.loads(line))}
        except helm.HelmError as exc:
            answer = {"error": type(exc).__name__, "message": str(exc)}
        print(json.dumps(answer), flush=True)


if __name__ == "__main__":
    main()
