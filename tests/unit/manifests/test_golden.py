"""Every golden case: the edited copy equals ``after/`` byte for byte, and the result value
(changes, warnings, errors) equals what ``case.json`` records."""

from __future__ import annotations

from dataclasses import asdict
from pathlib import Path

import pytest

from tests.unit.manifests.golden_cases import GOLDEN, cases, files, load, run


@pytest.mark.parametrize("case", cases())
def test_golden_tree_matches_after(case: str, tmp_path: Path) -> None:
    work = tmp_path / "work"
    result = run(case, work)
    assert files(work) == files(GOLDEN / case / "after")
    spec = load(case)
    assert [asdict(c) for c in result.changes] == spec["changes"]
    assert list(result.warnings) == spec["warnings"]
    assert list(result.errors) == spec["errors"]


@pytest.mark.parametrize("case", cases())
def test_golden_edits_touch_only_the_replaced_values(case: str) -> None:
    """Line by line, ``after`` differs from ``before`` only where a change was recorded, and
    there only by the old value turning into the new one (quoted when YAML needs it)."""
    before = files(GOLDEN / case / "before")
    after = files(GOLDEN / case / "after")
    assert before.keys() == after.keys()
    changed_lines: dict[str, dict[int, tuple[str, str]]] = {}
    for change in load(case)["changes"]:
        changed_lines.setdefault(change["file"], {})[change["line"]] = (
            change["old"],
            change["new"],
        )
    for name, old_bytes in before.items():
        old_lines = old_bytes.split(b"\n")
        new_lines = after[name].split(b"\n")
        assert len(old_lines) == len(new_lines), name
        expected = changed_lines.get(name, {})
        for number, (old_line, new_line) in enumerate(zip(old_lines, new_lines, strict=True), 1):
            if number not in expected:
                assert old_line == new_line, f"{name}:{number} changed without a Change"
                continue
            old, new = expected[number]
            candidates = {
                old_line.replace(old.encode(), new.encode(), 1),
                old_line.replace(old.encode(), f'"{new}"'.encode(), 1),
            }
            assert new_line in candidates, f"{name}:{number}"


def test_every_golden_case_changes_or_reports_something() -> None:
    for case in cases():
        spec = load(case)
        assert spec["changes"] or spec["warnings"] or spec["errors"], case
