"""Every example in docs/notifications.md works: each YAML block loads, the console lines that
make the secret files run in a shell, and the examples then plan with no problem."""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from image_automation.config.loading import LoadResult, load_bytes
from image_automation.engine.notifications import plan_notifications

DOC = Path(__file__).parents[3] / "docs" / "notifications.md"
TYPES = {"slack", "msteams", "discord", "generic", "generic-hmac", "pagerduty", "github", "gitlab"}


def blocks(kind: str) -> list[str]:
    return re.findall(rf"```{kind}\n(.*?)```", DOC.read_text(), flags=re.S)


def test_every_yaml_block_loads_without_an_error() -> None:
    yaml = blocks("yaml")
    assert len(yaml) >= 9
    for index, text in enumerate(yaml):
        result = load_bytes(text.encode(), file=f"block{index}")
        assert result.errors == [] and result.documents, text


def test_the_examples_with_their_secret_files_plan_every_provider_type(tmp_path: Path) -> None:
    for text in blocks("console"):
        for line in text.splitlines():
            if line.startswith("$ "):
                subprocess.run(line[2:], shell=True, cwd=tmp_path, check=True)
    loaded = LoadResult()
    for index, text in enumerate(blocks("yaml")):
        loaded.extend(load_bytes(text.encode(), file=f"block{index}"))
    plan = plan_notifications(loaded, secrets_dir=tmp_path / "secrets")
    assert plan.problems == [] and plan.warnings == []
    assert {p.type for p in plan.settings.providers} == TYPES
    assert len(plan.settings.rules) == 9
