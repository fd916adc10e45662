"""Golden cases for the Argo CD write-back targets: ``golden_argocd/<case>/before`` is edited
as ``case.json`` says (``target``, ``file``, ``app_type``, ``images``) and must equal
``after`` byte for byte. ``case.json``'s ``changes`` are the expected Change values.

To (re)write a case after a deliberate change, run
``.venv/bin/python -m tests.unit.manifests.golden_argocd_cases CASE...`` and review the diff.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from image_automation.domain import Change
from image_automation.manifests.argocd_writeback import (
    ImageWrite,
    edit_helm_values,
    edit_kustomization,
    edit_override,
)

GOLDEN = Path(__file__).parent / "golden_argocd"


def cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())


def load(case: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((GOLDEN / case / "case.json").read_text())
    return spec


def run(case: str, work: Path) -> tuple[Change, ...]:
    """Copy ``before`` into ``work`` and write the case's target there."""
    spec = load(case)
    shutil.copytree(GOLDEN / case / "before", work)
    images = [ImageWrite(**image) for image in spec["images"]]
    path = work / spec["file"]
    data = path.read_bytes() if path.exists() else None
    if spec["target"] == "override":
        edit = edit_override(data, file=spec["file"], app_type=spec["app_type"], images=images)
    elif spec["target"] == "kustomization":
        assert data is not None
        edit = edit_kustomization(data, file=spec["file"], images=images)
    else:
        assert data is not None
        edit = edit_helm_values(data, file=spec["file"], images=images)
    path.write_bytes(edit.new_bytes)
    return edit.changes


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _bless(case: str) -> None:
    after = GOLDEN / case / "after"
    if after.exists():
        shutil.rmtree(after)
    changes = run(case, after)
    spec = load(case)
    spec["changes"] = [asdict(c) for c in changes]
    (GOLDEN / case / "case.json").write_text(json.dumps(spec, indent=1) + "\n")


if __name__ == "__main__":
    for name in sys.argv[1:] or cases():
        _bless(name)
