"""`validate` as a subprocess on hostile files: each refused at its line, the rest checked."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

from tests.e2e.hostile_yaml import BOMB_LINE, POLICY_HEAD, billion_laughs, capped_memory

CLI = Path(sys.executable).with_name("image-automation")

GOOD = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: app, namespace: apps}
spec: {image: ghcr.io/org/app}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: app, namespace: apps}
spec:
  imageRepositoryRef: {name: app}
  policy: {semver: {range: ">=1.0.0"}}
"""


def validate(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CLI), "validate", *args], cwd=cwd, capture_output=True, text=True, timeout=120,
        preexec_fn=capped_memory(), check=False,
    )  # fmt: skip


def test_alias_bomb_and_deep_nesting_are_refused_within_the_memory_ceiling(
    tmp_path: Path,
) -> None:
    (tmp_path / "good.yaml").write_text(GOOD)
    (tmp_path / "bomb.yaml").write_text(billion_laughs())
    (tmp_path / "deep.yaml").write_text(POLICY_HEAD + "spec: " + "[" * 200_000 + "]" * 200_000)
    result = validate(".", cwd=tmp_path)
    assert result.returncode == 1, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout.splitlines() == [
        f"bomb.yaml:{BOMB_LINE}: too many aliases: they expand to over 100000 nodes",
        "deep.yaml:4: nested more than 256 levels deep",
    ]
    # The good file next to them is still read and checked.
    assert result.stderr.strip() == "2 documents, 1 policies, 0 automations, 2 problems"
