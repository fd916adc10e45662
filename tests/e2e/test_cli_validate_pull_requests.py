"""`validate` checks pull-request settings (native block, Flux annotations) at file:line."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli import root
from image_automation.cli._commands import register
from image_automation.config.loading import load_paths
from image_automation.engine.automations import PlanContext, plan_automations

register(root)

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = (ROOT / "policies/native/automation-pr.yaml", ROOT / "policies/flux/automation-pr.yaml")
EXE = Path(sys.executable).with_name("image-automation")


def validate(*args: str) -> tuple[int, list[str], str]:
    result = CliRunner().invoke(root, ["validate", *args])
    return result.exit_code, result.stdout.splitlines(), result.stderr


def test_the_example_files_are_valid_and_deliver_through_pull_requests() -> None:
    code, out, err = validate(*map(str, EXAMPLES))
    assert (code, out) == (0, [])
    assert "2 automations, 0 problems" in err
    plans = plan_automations(load_paths(EXAMPLES), PlanContext()).plans
    heads = {p.key: p.pull_request for p in plans}
    native = heads["ImageAutomation/apps/apps-pr"]
    flux = heads["ImageUpdateAutomation/apps/apps-pr"]
    assert native is not None and flux is not None
    assert (native.branch, native.grouping, native.auto_merge) == (
        "image-automation/apps",
        "policy",
        "squash",
    )
    assert (flux.branch, flux.provider, flux.labels) == (
        "image-automation/production",
        "gitlab",
        ("dependencies", "container-images"),
    )


def test_validate_of_the_whole_policies_tree_still_passes() -> None:
    code, out, err = validate(str(ROOT / "policies"))
    assert code == 0, out
    assert "0 problems" in err


@pytest.mark.parametrize(
    ("example", "old", "new", "expected"),
    [
        (0, "grouping: policy ", "grouping: repo ",
         "automation-pr.yaml:24: spec.pullRequest.grouping: must be 'automation'"),
        (0, "branch: image-automation/apps", "branch: refs/heads/apps",
         "automation-pr.yaml:23: spec.pullRequest.branch: branch 'refs/heads/apps' is a full"),
        (0, "perHour: 5", "perHour: -5",
         "automation-pr.yaml:30: spec.pullRequest.limits.perHour: "),
        (0, "https://github.com/example", "https://git.internal.example",
         "automation-pr.yaml:22: spec.pullRequest: cannot tell the forge"),
        (1, 'pr-draft: "false"', 'pr-draft: "nope"',
         "automation-pr.yaml:30: metadata.annotations.image-automation.io/pr-draft: must be"),
        (1, "forge: gitlab", "forge: gitlub",
         "automation-pr.yaml:25: metadata.annotations.image-automation.io/forge: must be"),
        (1, "branch: image-automation/production", "branch: main",
         "automation-pr.yaml:24: metadata.annotations.image-automation.io/pull-request: "
         "spec.git.push.branch 'main' is the checkout branch"),
    ],
)  # fmt: skip
def test_a_broken_example_is_reported_at_its_line(
    tmp_path: Path, example: int, old: str, new: str, expected: str
) -> None:
    text = EXAMPLES[example].read_text()
    assert old in text
    (tmp_path / "automation-pr.yaml").write_text(text.replace(old, new))
    code, out, _ = validate(str(tmp_path))
    assert code == 1
    lines = [line.removeprefix(f"{tmp_path}/") for line in out]
    assert len(lines) == 1, lines
    assert lines[0].startswith(expected), lines[0]


def test_the_installed_command_checks_a_relative_path(tmp_path: Path) -> None:
    shutil.copy(EXAMPLES[1], tmp_path / "flux.yaml")
    text = (tmp_path / "flux.yaml").read_text().replace('pr-draft: "false"', "pr-draft: false")
    (tmp_path / "flux.yaml").write_text(text)
    run = subprocess.run(
        [str(EXE), "validate", "flux.yaml"], cwd=tmp_path, capture_output=True, text=True
    )
    assert run.returncode == 1
    assert run.stdout.startswith(
        "flux.yaml:30: metadata.annotations.image-automation.io/pr-draft: must be a string"
    )
