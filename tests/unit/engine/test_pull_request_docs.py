"""docs/pull-requests.md "Settings": its examples do what it shows and its tables are whole."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from click.testing import CliRunner

from image_automation.cli import root
from image_automation.cli._commands import register
from image_automation.config.loading import load_bytes
from image_automation.config.pull_requests import (
    ANNOTATION_FIELDS,
    PULL_REQUEST_ANNOTATION,
    NativePullRequest,
    PullRequestLimits,
)
from image_automation.engine.automations import PlanContext, plan_automations

register(root)

REPO = Path(__file__).resolve().parents[3]
DOC = REPO / "docs" / "pull-requests.md"


def settings() -> str:
    text = DOC.read_text()
    section = text.split("\n## Settings\n", 1)[1]
    return section.split("\n## ", 1)[0]


def blocks(kind: str, section: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", section, flags=re.S)


def table_rows(heading: str) -> list[str]:
    part = settings().split(heading, 1)[1].split("\n### ", 1)[0]
    return re.findall(r"^\| `([^`]+)` \|", part, flags=re.M)


def test_the_head_branch_example_prints_what_the_page_shows() -> None:
    section = settings().split("### Head branches", 1)[1]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(blocks("python", section)[0], str(DOC), "exec"), {})
    assert out.getvalue() == blocks("text", section)[0]


def test_the_native_example_is_a_pull_request_automation() -> None:
    (plan,) = plan_automations(
        load_bytes(blocks("yaml", settings())[0].encode(), file="doc.yaml"), PlanContext()
    ).plans
    assert plan.pull_request is not None
    assert plan.pull_request.grouping == "policy"


def test_the_native_table_lists_every_field() -> None:
    def aliases(model: type[NativePullRequest] | type[PullRequestLimits]) -> set[str]:
        return {f.alias or name for name, f in model.model_fields.items()}

    listed = set(table_rows("### Native"))
    fields = aliases(NativePullRequest) - {"secretRef", "limits"}
    expected = fields | {"secretRef.name"} | {f"limits.{a}" for a in aliases(PullRequestLimits)}
    assert listed == expected


def test_the_annotation_table_lists_every_annotation() -> None:
    listed = set(table_rows("### Flux"))
    assert listed == {PULL_REQUEST_ANNOTATION, *ANNOTATION_FIELDS}


def test_the_validate_example_prints_what_the_page_shows(tmp_path: Path) -> None:
    example = (REPO / "policies" / "flux" / "automation-pr.yaml").read_text()
    broken = example.replace('pr-draft: "false"', 'pr-draft: "no"').replace(
        "branch: image-automation/production", "branch: main"
    )
    (tmp_path / "automation-pr.yaml").write_text(broken)
    console = blocks("console", settings())[0].splitlines()
    assert console[0] == "$ image-automation validate automation-pr.yaml"
    with contextlib.chdir(tmp_path):
        result = CliRunner().invoke(root, ["validate", "automation-pr.yaml"])
    assert result.stdout.splitlines() == console[1:]
