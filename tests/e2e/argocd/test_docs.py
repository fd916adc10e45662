"""docs/argocd.md "Try it": the page's shell block, run as it is against a real registry,
prints what the page shows (the registry's address and the directory aside)."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tests.integration.local_registry import LocalRegistry

pytestmark = pytest.mark.integration

DOC = Path(__file__).resolve().parents[3] / "docs" / "argocd.md"


def _section() -> str:
    return DOC.read_text().split("\n### Try it", 1)[1].split("\n## ", 1)[0]


def _block(kind: str) -> str:
    (found,) = re.findall(rf"```{kind}\n(.*?)```", _section(), flags=re.S)
    return str(found)


def _normal(text: str, *, host: str, root: Path) -> str:
    text = text.replace(str(root), "/tmp/try").replace(host, "REGISTRY")
    return re.sub(r"\n{2,}", "\n", text).strip()


def test_the_try_it_block_prints_what_the_page_shows(
    registry: LocalRegistry, tmp_path: Path
) -> None:
    registry.push("example/web", "1.0.0", "1.0.1", "1.1.0")
    env = {
        **os.environ,
        "REGISTRY": registry.host,
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
        "GIT_AUTHOR_NAME": "Docs", "GIT_AUTHOR_EMAIL": "docs@example.test",
        "GIT_COMMITTER_NAME": "Docs", "GIT_COMMITTER_EMAIL": "docs@example.test",
    }  # fmt: skip
    script = "set -e\n" + _block("sh")
    done = subprocess.run(["bash", "-c", script], cwd=tmp_path, env=env, capture_output=True,
                          text=True, timeout=120, check=False)  # fmt: skip
    assert done.returncode == 0, done.stdout + done.stderr
    shown = _normal(done.stdout, host=registry.host, root=tmp_path)
    assert shown == _block("text").strip(), shown
    assert ", 0 problems" in done.stderr, done.stderr  # validate argocd/ found nothing wrong
    values = (tmp_path / "fleet" / "apps" / "web" / "values.yaml").read_text()
    assert "tag: 1.0.0" in values  # a dry run: nothing written, nothing pushed
