"""Golden cases: ``golden/<case>/before`` is edited in a copy and must equal ``after``.

``case.json`` holds the inputs (``namespace``, ``policies`` as name -> image, optional
``include`` and ``line_include``) and the expected ``changes``, ``warnings`` and ``errors``.

To (re)write a case's expectations after a deliberate change, run
``.venv/bin/python -m tests.unit.manifests.golden_cases CASE...`` and review the diff of
``after/`` and ``case.json`` before committing: the tool records, it does not judge.
"""

from __future__ import annotations

import json
import shutil
import sys
from dataclasses import asdict
from pathlib import Path
from typing import Any

from image_automation.domain import ImageRef, UpdateResult
from image_automation.manifests import update_tree

GOLDEN = Path(__file__).parent / "golden"


def cases() -> list[str]:
    return sorted(p.name for p in GOLDEN.iterdir() if (p / "case.json").is_file())


def load(case: str) -> dict[str, Any]:
    spec: dict[str, Any] = json.loads((GOLDEN / case / "case.json").read_text())
    return spec


def run(case: str, work: Path) -> UpdateResult:
    """Copy ``before`` into ``work`` and update it as ``case.json`` says."""
    spec = load(case)
    shutil.copytree(GOLDEN / case / "before", work, symlinks=True)
    return update_tree(
        work,
        namespace=spec["namespace"],
        policies={name: ImageRef.parse(image) for name, image in spec["policies"].items()},
        include=spec.get("include"),
        line_include=spec.get("line_include", ()),
    )


def files(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def _bless(case: str) -> None:
    work = GOLDEN / case / "after"
    if work.exists():
        shutil.rmtree(work)
    result = run(case, work)
    spec = load(case)
    spec["changes"] = [asdict(c) for c in result.changes]
    spec["warnings"] = list(result.warnings)
    spec["errors"] = list(result.errors)
    (GOLDEN / case / "case.json").write_text(json.dumps(spec, indent=2, ensure_ascii=False) + "\n")


if __name__ == "__main__":
    for name in sys.argv[1:] or cases():
        _bless(name)
