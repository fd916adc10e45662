"""Every Argo CD write-back golden case: the edited copy equals ``after/`` byte for byte,
the changes are the recorded ones, and outside the changed values nothing moved."""

from __future__ import annotations

import difflib
from dataclasses import asdict
from pathlib import Path

import pytest

from tests.unit.manifests.golden_argocd_cases import GOLDEN, cases, files, load, run


@pytest.mark.parametrize("case", cases())
def test_write_back_tree_matches_after(case: str, tmp_path: Path) -> None:
    changes = run(case, tmp_path / "work")
    assert files(tmp_path / "work") == files(GOLDEN / case / "after")
    assert [asdict(c) for c in changes] == load(case)["changes"]


@pytest.mark.parametrize("case", [c for c in cases() if (GOLDEN / c / "before" / load(c)["file"])
                                  .exists()])  # fmt: skip
def test_write_back_only_adds_lines_or_changes_the_image_values(case: str) -> None:
    """Every removed line of the file comes back with only an image value changed in it."""
    name = load(case)["file"]
    before = (GOLDEN / case / "before" / name).read_text().splitlines()
    after = (GOLDEN / case / "after" / name).read_text().splitlines()
    values = {i["tag"] for i in load(case)["images"]} | {i["name"] for i in load(case)["images"]}
    removed = [line for line in difflib.ndiff(before, after) if line.startswith("- ")]
    added = [line for line in difflib.ndiff(before, after) if line.startswith("+ ")]
    assert len(added) >= len(removed)
    for line in removed:
        assert any(v in "".join(added) for v in values), line
        assert "#" not in line or any(line[2:].split("#")[1] in a for a in added), line


def test_every_case_records_a_change() -> None:
    assert all(load(case)["changes"] for case in cases())
