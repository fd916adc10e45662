"""Start-up stays light: ``--version`` and ``--help`` load no subcommand and no heavy library.

Which modules a process imported is read from ``python -X importtime`` (one line per module on
stderr), so the check is about what is loaded, never about how long it took.
"""

from __future__ import annotations

import subprocess
import sys
import tomllib
from pathlib import Path

import pytest

import image_automation

ROOT = Path(__file__).resolve().parents[2]
HEAVY = ("aiohttp", "httpx", "pydantic", "git", "jinja2", "ruamel", "rich", "apscheduler")


def _imported(*args: str) -> tuple[set[str], subprocess.CompletedProcess[str]]:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-m", "image_automation", *args],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    names = {
        line.rsplit("|", 1)[1].strip()
        for line in proc.stderr.splitlines()
        if line.startswith("import time:") and "|" in line
    }
    return names, proc


@pytest.mark.parametrize("args", [["--version"], ["--help"], ["-h"]])
def test_version_and_help_import_no_heavy_library_and_no_subcommand(args: list[str]) -> None:
    names, proc = _imported(*args)
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "image_automation.cli._root" in names  # the check sees our own imports
    loaded = sorted(n for n in names if n.split(".")[0] in HEAVY)
    assert loaded == []
    commands = sorted(
        n
        for n in names
        if n.startswith("image_automation.cli._") and n != "image_automation.cli._root"
    )
    assert commands in ([], ["image_automation.cli._commands"])


def test_python_dash_m_prints_the_package_version() -> None:
    _, proc = _imported("--version")
    assert proc.stdout == f"image-automation, version {image_automation.__version__}\n"


def test_importing_the_package_loads_no_metadata_machinery() -> None:
    proc = subprocess.run(
        [sys.executable, "-X", "importtime", "-c", "import image_automation"],
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    assert "importlib.metadata" not in proc.stderr


def test_package_version_is_the_one_in_pyproject() -> None:
    with (ROOT / "pyproject.toml").open("rb") as file:
        assert image_automation.__version__ == tomllib.load(file)["project"]["version"]
