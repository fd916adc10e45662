"""The "Trying it with a local server" recipe in docs/state.md runs as written and prints
what it shows: a server of its own (own directory and port), the CLI opening the store."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.fixture_base import free_port, scratch_dir
from tests.integration.postgres_server import SUPERUSER, bin_dir

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[3]
DOC = ROOT / "docs" / "state.md"
MARKER = "<!-- tested by tests/integration/state/test_postgres_docs.py"
STEP = "@@step-done@@"


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


def _prelude() -> str:
    """initdb and pg_ctl as the doc's reader has them: on PATH, and not as root."""
    if os.geteuid() != 0:
        return f'export PATH="{bin_dir()}:$PATH"\n'
    return "".join(
        f'{tool}() {{ runuser -u {SUPERUSER} -- "{bin_dir() / tool}" "$@"; }}\n'
        for tool in ("initdb", "pg_ctl")
    )


def test_the_local_server_recipe_works_as_documented() -> None:
    root = scratch_dir("ia-pg-doc-")
    if os.geteuid() == 0:
        shutil.chown(root, user=SUPERUSER)
    data, port = root / "ia-pg", str(free_port())
    steps = [
        (command.replace("/tmp/ia-pg", str(data)).replace("5433", port), expected)
        for command, expected in _console_steps()
    ]
    assert len(steps) == 7
    script = _prelude() + "".join(f"{command} 2>&1\necho {STEP}\n" for command, _ in steps)
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    env.pop("PGPASSWORD", None)
    try:
        done = subprocess.run(
            ["bash", "-c", script], cwd=ROOT, env=env, capture_output=True, text=True,
            timeout=300, check=False,
        )  # fmt: skip
    finally:
        subprocess.run(
            ["bash", "-c", _prelude() + f'pg_ctl -D "{data}" -m immediate stop'],
            capture_output=True, timeout=120, check=False,
        )  # fmt: skip
        shutil.rmtree(root, ignore_errors=True)
    outputs = done.stdout.split(f"{STEP}\n")
    assert len(outputs) == len(steps) + 1, done.stdout + done.stderr
    for (command, expected), output in zip(steps, outputs, strict=False):
        assert output.splitlines() == expected, command
