"""``image-automation status`` from a state store: tables, JSON, and what it refuses."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime
from pathlib import Path

from click.testing import CliRunner

from image_automation.cli import root
from image_automation.domain import Decision, TagInfo
from image_automation.state import open_store

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def seed(path: Path, repository: str, policy: str) -> None:
    async def write() -> None:
        async with await open_store(path) as store:
            await store.replace_tags(repository, [TagInfo("1.0")], now=T0, requests=1)
            await store.save_decision(policy, Decision(policy, "1.0"), repository=repository,
                                      now=T0)  # fmt: skip
            await store.record_failure("r.test/broken", "401 token=s3cr3t", now=T0)

    asyncio.run(write())


def test_json_from_the_store_is_the_apis_overview(tmp_path: Path) -> None:
    seed(tmp_path / "state.db", "r.test/app", "apps/web")
    result = CliRunner().invoke(root, ["status", "--state", str(tmp_path / "state.db"),
                                       "--output", "json"])  # fmt: skip
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert [p["key"] for p in data["policies"]] == ["apps/web"]
    assert data["policies"][0]["state"] == "selected"  # no clone: what Git has is unknown
    assert "s3cr3t" not in result.output


def test_tables_print_hostile_names_as_text(tmp_path: Path) -> None:
    hostile = "apps/[bold red]x[/bold red]"
    seed(tmp_path / "state.db", "r.test/[link=file:///etc]y", hostile)
    result = CliRunner().invoke(root, ["status", "--data-dir", str(tmp_path)],
                                env={"COLUMNS": "250"})  # fmt: skip
    assert result.exit_code == 0, result.output
    assert hostile in result.output
    assert "[link=file:///etc]y" in result.output
    assert "401 token=***" in result.output


def test_a_missing_store_is_an_error_not_a_new_empty_one(tmp_path: Path) -> None:
    result = CliRunner().invoke(root, ["status", "--state", str(tmp_path / "none.db")])
    assert result.exit_code == 1
    assert "no state store at" in result.output
    assert not (tmp_path / "none.db").exists()


def test_server_and_state_are_exclusive(tmp_path: Path) -> None:
    result = CliRunner().invoke(root, ["status", "--server", "http://127.0.0.1:9",
                                       "--state", str(tmp_path / "x.db")])  # fmt: skip
    assert result.exit_code == 2
    bad = CliRunner().invoke(root, ["status", "--server", "ftp://host"])
    assert bad.exit_code == 2 and "http(s) URL" in bad.output
