"""docs/pull-requests.md, "Title and body": the example prints what the page shows, and the
variables it lists are the ones a template sees."""

from __future__ import annotations

import contextlib
import io
import re
from pathlib import Path

from image_automation.domain import Change, Decision, UpdateResult
from image_automation.git import PullRequestContent
from image_automation.git._pr_data import shape
from image_automation.git.pull_requests import BODY_LIMITS

DOC = Path(__file__).resolve().parents[3] / "docs" / "pull-requests.md"


def _section() -> str:
    text = DOC.read_text()
    start = text.index("## Title and body\n")
    following = re.search(r"^## ", text[start + 3 :], flags=re.M)
    return text[start : start + 3 + following.start()] if following else text[start:]


def _blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", _section(), flags=re.S)


def test_the_example_prints_what_the_page_shows() -> None:
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        exec(compile(_blocks("python")[0], str(DOC), "exec"), {})
    assert out.getvalue() == _blocks("text")[0]


def test_the_variable_table_lists_exactly_the_template_variables() -> None:
    table = _section().split("| variable | value |", 1)[1].split("\n\n", 1)[0]
    listed = {
        name
        for row in table.splitlines()[2:]
        for name in re.findall(r"`(\w+)`", row.split(" | ")[0])
    }
    given = PullRequestContent(
        automation="a",
        head="h",
        base="main",
        result=UpdateResult(changes=(Change("f", 1, "v1", "K", "", "n", "ns:p", "r:1", "r:2"),)),
        decisions={"ns/p": Decision(policy="p", tag="2")},
        images={},
    )
    assert listed == set(shape(given, provider="github", limit=1))


def test_the_limit_table_matches_the_code() -> None:
    table = _section().split("| provider | longest body | source |", 1)[1].split("\n\n", 1)[0]
    shown = {}
    for row in table.splitlines()[2:]:
        names, limit = row.split(" | ")[:2]
        for name in re.findall(r"`(\w+)`", names):
            shown[name] = int(limit.strip("| ").split()[0].replace(",", ""))
    assert shown == dict(BODY_LIMITS)
