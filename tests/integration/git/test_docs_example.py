"""The runnable example in docs/git.md runs and prints what the page says it prints."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "git.md"


def test_docs_example_runs_and_commits_once(tmp_path: Path) -> None:
    text = DOC.read_text()
    example = text.split("## Example", 1)[1]
    code = re.search(r"```python\n(.*?)```", example, re.S)
    assert code is not None
    script = tmp_path / "example.py"
    script.write_text(code.group(1))
    done = subprocess.run(
        [sys.executable, str(script)],
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
        env={**os.environ, "TMPDIR": str(tmp_path)},
    )
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert re.fullmatch(r"run 1: commit=[0-9a-f]{40} attempts=1", lines[0])
    assert lines[1] == "run 2: commit=None attempts=1"
    assert lines[2] == "Image Bot <bot@example.test>"
    assert "registry.local/app:1.0.0 -> registry.local/app:1.1.0" in done.stdout
