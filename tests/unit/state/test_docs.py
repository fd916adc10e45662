"""The sqlite3 recipe in docs/state.md runs on a real store file and prints what it shows."""

from __future__ import annotations

import re
import subprocess
from datetime import UTC, datetime
from pathlib import Path

from image_automation.state import SetterChange
from image_automation.state.sqlite import SqliteStore

DOC = Path(__file__).resolve().parents[3] / "docs" / "state.md"
MARKER = "<!-- tested by tests/unit/state/test_docs.py"


def _console_steps() -> list[tuple[str, list[str]]]:
    """(command, expected output lines) of the console block after the marker."""
    text = DOC.read_text(encoding="utf-8")
    block = re.search(r"```console\n(.*?)```", text[text.index(MARKER) :], re.DOTALL)
    assert block is not None
    steps: list[tuple[str, list[str]]] = []
    for line in block.group(1).splitlines():
        if line.startswith("$ "):
            steps.append((line[2:], []))
        else:
            steps[-1][1].append(line)
    return steps


async def test_lifting_an_ignore_by_hand_works_as_documented(tmp_path: Path) -> None:
    automation = "ImageUpdateAutomation/flux-system/apps"
    changes = [
        SetterChange(
            "flux-system:podinfo",
            "ghcr.io/stefanprodan/podinfo:6.7.0",
            "ghcr.io/stefanprodan/podinfo:6.7.1",
        ),
        SetterChange(
            "flux-system:redis", "docker.io/library/redis:7.4.0", "docker.io/library/redis:7.4.1"
        ),
    ]
    now = datetime(2026, 3, 1, tzinfo=UTC)
    async with await SqliteStore.open(tmp_path / "state.db") as store:
        await store.ignore_versions(
            automation,
            "image-automation/apps",
            changes,
            number=12,
            reason="closed unmerged",
            now=now,
        )
        steps = _console_steps()
        assert len(steps) == 3
        for command, expected in steps:
            # The store stays open meanwhile, as a running daemon would keep it.
            done = subprocess.run(
                ["bash", "-c", command], cwd=tmp_path, capture_output=True, text=True, check=False
            )
            assert (done.returncode, done.stderr) == (0, ""), command
            assert done.stdout.splitlines() == expected, command
        [left] = await store.ignored_versions(automation)
    assert left.value == "docker.io/library/redis:7.4.1"
