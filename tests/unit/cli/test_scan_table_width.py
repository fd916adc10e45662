"""The `scan --policies` table never cuts a name: whole lines when piped, folded on a terminal."""

from __future__ import annotations

import io
import re
from collections.abc import Mapping, Sequence
from contextlib import AbstractAsyncContextManager, nullcontext
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from click.testing import CliRunner
from rich.console import Console

from image_automation.cli import _scan_policies
from image_automation.cli._scan import scan
from image_automation.cli._scan_policies import PolicyScan, run_policy_scan
from image_automation.domain import TagInfo
from image_automation.engine.scanning import ScanTarget, TagListing
from image_automation.errors import RegistryUnavailable

LONG = "registry.example.com/platform-team/" + "very-long-service-name-" * 6 + "api"
ERROR = "503 Service Unavailable: " + "the registry said something long and useful " * 5
POLICIES = f"""
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: long, namespace: apps}}
spec: {{image: {LONG}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: long-policy-name-that-goes-on-and-on, namespace: apps}}
spec:
  imageRepositoryRef: {{name: long}}
  policy: {{semver: {{range: ">=1.0.0"}}}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: down, namespace: apps}}
spec: {{image: registry.example.com/down}}
"""


class Lister:
    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        if target.repository.endswith("/down"):
            raise RegistryUnavailable(ERROR)
        return TagListing((TagInfo("1.0.0"), TagInfo("1.2.3")), requests=1)


def _fake_lister(targets: Sequence[ScanTarget], **_: Any) -> AbstractAsyncContextManager[Lister]:
    return nullcontext(Lister())


@pytest.fixture
def policies(tmp_path: Path) -> Path:
    path = tmp_path / "policies.yaml"
    path.write_text(POLICIES)
    return path


def test_piped_table_keeps_every_cell_whole_on_one_line(
    policies: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(_scan_policies, "open_registry_lister", _fake_lister)
    args = ["--policies", str(policies), "--state", str(tmp_path / "state.db")]
    result = CliRunner().invoke(scan, args)  # stdout is not a terminal here
    assert result.exit_code == 1, result.output
    lines = result.stdout.splitlines()
    assert any(
        LONG in line and "apps/long-policy-name-that-goes-on-and-on: 1.2.3" in line
        for line in lines
    )
    assert any(ERROR.strip() in line for line in lines)
    assert "…" not in result.stdout


async def test_terminal_table_folds_long_cells_instead_of_cutting_them(
    policies: Path, tmp_path: Path
) -> None:
    buffer = io.StringIO()
    out = Console(file=buffer, force_terminal=True, width=60, color_system=None)
    err = Console(file=io.StringIO(), width=60, color_system=None)
    code = await run_policy_scan(
        PolicyScan(paths=(policies,), state=tmp_path / "state.db"),
        make_lister=lambda _: nullcontext(Lister()),
        clock=lambda: datetime(2026, 5, 1, tzinfo=UTC),
        out=out,
        err=err,
    )
    assert code == 1
    text = buffer.getvalue()
    assert "…" not in text
    assert all(len(line) <= 60 for line in text.splitlines())
    rows = [line.split("│")[1:-1] for line in text.splitlines() if line.startswith("│")]
    columns = ["".join(row[i].strip() for row in rows) for i in range(5)]
    assert LONG in columns[0]  # folded over several lines, every character kept
    assert re.sub(r"\s", "", ERROR) in re.sub(r"\s", "", columns[4])
