"""`make demo` (demo/run.py) runs reconcile against its own registry and remote and shows it."""

from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.integration
ROOT = Path(__file__).resolve().parents[2]


def test_demo_commits_the_new_tag_and_shows_the_commit() -> None:
    done = subprocess.run(
        [sys.executable, str(ROOT / "demo" / "run.py")],
        cwd=ROOT, capture_output=True, text=True, timeout=300, check=False,
        env={"COLUMNS": "200", "PATH": "/usr/bin:/bin:/usr/sbin:/sbin"},
    )  # fmt: skip
    assert done.returncode == 0, done.stdout[-2000:] + done.stderr[-2000:]
    out = done.stdout
    assert "ImageAutomation/apps/apps: committed" in out
    assert "apps:demo-app" in out
    assert re.search(r"^commit [0-9a-f]{40}$", out, re.M)  # git show of the remote's head
    assert re.search(r"^-\s+image: 127\.0\.0\.1:\d+/demo/app:1\.0\.0 ", out, re.M)
    assert re.search(r"^\+\s+image: 127\.0\.0\.1:\d+/demo/app:1\.1\.0 ", out, re.M)
