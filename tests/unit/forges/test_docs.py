"""docs/forges.md: its example prints what it shows, and it lists only real operations."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

import pytest

from tests.unit.forges.specs import contract

DOC = Path(__file__).resolve().parents[3] / "docs" / "forges.md"
AZURE_R = "/{organization}/{project}/_apis/git/repositories/{repositoryId}"


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_the_detection_example_prints_what_the_page_shows() -> None:
    code = _blocks("python")[0]
    shown = _blocks("text")[0]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(code, str(DOC), "exec"), {})
    assert out.getvalue() == shown


@pytest.mark.parametrize(
    ("heading", "forges"),
    [
        ("GitHub (REST", ("github",)),
        ("GitLab:", ("gitlab",)),
        ("Gitea and Forgejo", ("gitea",)),
        ("Bitbucket Cloud:", ("bitbucket-cloud",)),
        ("Azure DevOps (`R`", ("azure-devops",)),
    ],
)
def test_every_listed_operation_is_in_the_forge_description(
    heading: str, forges: tuple[str, ...]
) -> None:
    section = DOC.read_text().split("## Operations used", 1)[1]
    block = section.split(heading, 1)[1].split("```text\n", 1)[1].split("```", 1)[0]
    listed = [line.split() for line in block.strip().splitlines()]
    assert listed
    for forge in forges:
        known = {(m, t) for m, t, _ in contract(forge).templates}
        for method, path in listed:
            path = AZURE_R + path[1:] if path.startswith("R") else path
            assert (method, path) in known, f"{forge}: {method} {path}"
