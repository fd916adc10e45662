"""The installed console script runs ``update`` end to end as a subprocess."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(sys.executable).with_name("image-automation")


def test_console_script_updates_a_tree_and_prints_json(tmp_path: Path) -> None:
    app = tmp_path / "app.yaml"
    app.write_text('image: ghcr.io/org/app:1.0 # {"$imagepolicy": "apps:app"}\n')
    proc = subprocess.run(
        [
            str(SCRIPT),
            "update",
            str(tmp_path),
            "--namespace",
            "apps",
            "--set",
            "apps:app=ghcr.io/org/app:1.1",
            "--output",
            "json",
        ],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    payload = json.loads(proc.stdout)
    assert [(c["file"], c["old"], c["new"]) for c in payload["changes"]] == [
        ("app.yaml", "ghcr.io/org/app:1.0", "ghcr.io/org/app:1.1")
    ]
    assert payload["warnings"] == [] and payload["errors"] == []
    assert app.read_text() == 'image: ghcr.io/org/app:1.1 # {"$imagepolicy": "apps:app"}\n'


def test_console_script_exits_2_on_bad_arguments(tmp_path: Path) -> None:
    proc = subprocess.run(
        [str(SCRIPT), "update", str(tmp_path), "--namespace", "apps", "--set", "broken"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert proc.returncode == 2
    assert "expected NAMESPACE:POLICY=IMAGE:TAG[@DIGEST]" in proc.stderr
