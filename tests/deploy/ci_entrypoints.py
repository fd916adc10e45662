"""Run the CI entry points as their hosts would: action.yml's step, the GitLab job's script.

GitHub and GitLab are not here, so the expressions they would fill in are filled in by these
helpers: ``${{ inputs.X }}`` from the inputs given (else the input's default), ``${{ github.X
}}`` and ``${{ runner.X }}`` from the values a test passes; GitLab's ``$VAR`` variables from
the job's own ``variables:`` over the predefined ones a test passes.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from tests.deploy.renders import DEPLOY, REPO_ROOT

ACTION = REPO_ROOT / "action.yml"
GITLAB = DEPLOY / "ci" / "gitlab-ci.yml"
SCRIPT = DEPLOY / "ci" / "reconcile-once.sh"
_EXPR = re.compile(r"\$\{\{\s*([a-z]+)\.([A-Za-z0-9_-]+)\s*\}\}")
_VENV_BIN = str(Path(sys.executable).parent)


def action() -> dict[str, Any]:
    loaded: dict[str, Any] = yaml.safe_load(ACTION.read_text())
    return loaded


def _fill(text: str, inputs: Mapping[str, str], context: Mapping[str, str]) -> str:
    declared = action()["inputs"]

    def one(match: re.Match[str]) -> str:
        scope, name = match[1], match[2]
        if scope == "inputs":
            if name not in declared:
                raise AssertionError(f"action.yml uses undeclared input {name!r}")
            value = inputs.get(name, str(declared[name].get("default", "")))
            return _fill(value, inputs, context)
        key = f"{scope}.{name}"
        if key not in context:
            raise AssertionError(f"the test gives no value for ${{{{ {key} }}}}")
        return context[key]

    return _EXPR.sub(one, text)


def _clean_env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("IMAGE_AUTOMATION_")}
    env["PATH"] = f"{_VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["TMPDIR"] = str(tmp)
    return env


def run_action(
    inputs: Mapping[str, str], *, context: Mapping[str, str], tmp: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """The action's reconcile step, with its env filled in, run by bash as the runner would."""
    steps = action()["runs"]["steps"]
    (step,) = [s for s in steps if "reconcile" in s.get("name", "")]
    env = _clean_env(tmp)
    env.update({k: _fill(str(v), inputs, context) for k, v in step["env"].items()})
    env["GITHUB_ACTION_PATH"] = str(REPO_ROOT)
    return subprocess.run(
        [step["shell"], "-e", "-c", step["run"]], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def run_gitlab_job(
    predefined: Mapping[str, str], *, extra: Mapping[str, str], tmp: Path, cwd: Path
) -> subprocess.CompletedProcess[str]:
    """The template's hidden job: its variables expanded, its script run by sh in order."""
    job = yaml.safe_load(GITLAB.read_text())[".image-automation"]
    env = _clean_env(tmp)
    env.update(predefined)
    for name, value in job["variables"].items():
        env[name] = re.sub(r"\$([A-Z_][A-Z0-9_]*)", lambda m: predefined[m[1]], str(value))
    env.update(extra)
    bin_dir = tmp / "image-bin"  # where the image puts the script
    bin_dir.mkdir(exist_ok=True)
    shutil.copy(SCRIPT, bin_dir / "reconcile-once")
    env["PATH"] = f"{bin_dir}{os.pathsep}{env['PATH']}"
    script = "set -e\n" + "\n".join(job["script"]) + "\n"
    return subprocess.run(
        ["sh", "-c", script], cwd=cwd, env=env,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip


def run_script(env: Mapping[str, str], *, tmp: Path, cwd: Path) -> subprocess.CompletedProcess[str]:
    full = _clean_env(tmp)
    full.update(env)
    return subprocess.run(
        ["sh", str(SCRIPT)], cwd=cwd, env=full,
        capture_output=True, text=True, timeout=300, check=False,
    )  # fmt: skip
