"""``explain`` against a real bare remote and a real state store: the trace shows what Git
holds at which line, what the next reconcile changes, a hold, and refuses hostile input."""

from __future__ import annotations

import asyncio
import json
import os
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from image_automation.cli._explain import explain_command
from image_automation.domain import TagInfo
from image_automation.state import open_store
from tests.integration.gates.test_rollback import NOW, Tags, human_sets, run, setup
from tests.integration.git_fixtures import GitRemote
from tests.integration.image_push import push_image
from tests.integration.registry_fixtures import RegistryServer


async def stored(tmp_path: Path, *names: str) -> None:
    async with await open_store(tmp_path / "state.db") as store:
        await store.replace_tags("registry.local/app", [TagInfo(n) for n in names], now=NOW)


def explain(tmp_path: Path, remote: GitRemote, *extra: str) -> tuple[int, str]:
    args = ["apps:app", "--repo", remote.url, "--state", str(tmp_path / "state.db")]
    args += ["--work-dir", str(tmp_path / "explain-work"), "--now", NOW.isoformat(), *extra]
    result = CliRunner().invoke(explain_command, args)
    return result.exit_code, result.output


async def test_explain_shows_the_marked_line_and_the_next_change(tmp_path: Path) -> None:
    remote = setup(tmp_path)
    await stored(tmp_path, "1.0.0", "1.1.0", "1.2.0", "1.3.0-rc.1")
    code, text = await asyncio.to_thread(explain, tmp_path, remote)
    assert code == 0, text
    assert "selected: 1.2.0\n" in text
    assert "  1.3.0-rc.1  prerelease    prerelease not allowed\n" in text
    assert "  1.1.0       outranked     older than 1.2.0\n" in text
    assert (
        "  deploy/app.yaml:1: apps:app: registry.local/app:1.1.0 (ImageAutomation/apps/auto)\n"
        in text
    )
    assert "next reconcile: change 1 value\n" in text
    assert "  deploy/app.yaml:1: registry.local/app:1.1.0 -> registry.local/app:1.2.0" in text
    code, out = await asyncio.to_thread(explain, tmp_path, remote, "--output", "json")
    data = json.loads(out)
    assert data["selected"] == "1.2.0" and data["source"] == "state"
    assert data["git"] == [
        {"automation": "ImageAutomation/apps/auto", "file": "deploy/app.yaml", "line": 1,
         "setter": "apps:app", "value": "registry.local/app:1.1.0"}
    ]  # fmt: skip
    assert data["next"]["changes"][0]["new"] == "registry.local/app:1.2.0"
    assert remote.read("deploy/app.yaml").startswith("image: registry.local/app:1.1.0")


async def test_explain_shows_a_hold_and_a_rollback_the_next_reconcile_would_hold(
    tmp_path: Path,
) -> None:
    remote = setup(tmp_path)
    tags = Tags("1.1.0", "1.2.0")
    await run(remote, tmp_path, tags)  # we push 1.2.0
    await stored(tmp_path, "1.1.0", "1.2.0")
    commit = human_sets(remote, "1.1.0")
    code, text = await asyncio.to_thread(explain, tmp_path, remote)
    assert code == 0, text
    assert "note: the next reconcile of ImageAutomation/apps/auto holds the policy\n" in text
    assert "rolled back from 1.2.0 by Someone Else" in text and commit[:12] in text
    async with await open_store(tmp_path / "state.db") as store:
        assert await store.hold("apps/app") is None  # explain saved nothing
    await run(remote, tmp_path, tags)  # now the hold is stored
    code, text = await asyncio.to_thread(explain, tmp_path, remote)
    assert code == 0, text
    assert "\nhold: held at 1.1.0: rolled back from 1.2.0" in text
    assert "  1.2.0  held          held back: held at 1.1.0" in text
    assert "next reconcile: nothing: held at 1.1.0\n" in text


async def test_explain_with_relative_paths(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    remote = setup(tmp_path)
    await stored(tmp_path, "1.1.0", "1.2.0")
    monkeypatch.chdir(tmp_path)
    repo = os.path.relpath(remote.url.removeprefix("file://"), tmp_path)
    args = ["apps:app", "--repo", repo, "--state", "state.db", "--work-dir", "rel-work"]
    result = await asyncio.to_thread(CliRunner().invoke, explain_command, args)
    assert result.exit_code == 0, result.output
    assert "selected: 1.2.0" in result.output and (tmp_path / "rel-work").is_dir()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["nocolon"], "is not NAMESPACE:NAME"),
        (["a:b:c/d"], "is not NAMESPACE:NAME"),
        (["x" * 100_000 + ":y"], "is not NAMESPACE:NAME"),
        (["apps:app\n--injected"], "is not NAMESPACE:NAME"),
        (["apps:app", "--now", "yesterday"], "is not an RFC 3339 time"),
        (["apps:app", "--limit", "-1"], "--limit"),
        (["apps:app", "--state", "a.db", "--data-dir", "."], "at most one of --state"),
        (["apps:app", "--git-secret", "x"], "--git-secret needs --secrets-dir"),
    ],
)
def test_explain_refuses_hostile_arguments(tmp_path: Path, args: list[str], needle: str) -> None:
    full = [*args, "--config", str(tmp_path)] if "--config" not in args else args
    result = CliRunner().invoke(explain_command, full)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert len(result.output) < 2000  # a huge value is not echoed back whole


def test_explain_of_a_policy_no_document_defines_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "p.yaml").write_text("")
    args = ["apps:nope", "--config", str(tmp_path), "--state", str(tmp_path / "s.db")]
    result = CliRunner().invoke(explain_command, args)
    assert result.exit_code == 2 and "no policy apps/nope" in result.output


async def test_explain_scan_reads_the_real_registry_and_stores_the_scan(
    tmp_path: Path, registry_anonymous: RegistryServer
) -> None:
    repo = f"explain/app-{uuid.uuid4().hex[:8]}"
    with registry_anonymous.push_client() as push:
        for version in ("1.0.0", "1.4.0", "2.0.0-rc.1"):
            push_image(push, registry_anonymous.url, repo, [version], salt=version)
    image = f"{registry_anonymous.host}/{repo}"
    policy = POLICY.replace("registry.local/app", image)
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "policy.yaml").write_text(policy)
    settings = tmp_path / "registries.yaml"
    settings.write_text(f"hosts:\n  {registry_anonymous.host}:\n    insecure: true\n")
    args = ["apps:app", "--config", str(tmp_path / "conf"), "--state", str(tmp_path / "s.db"),
            "--scan", "--registries", str(settings), "--output", "json"]  # fmt: skip
    result = await asyncio.to_thread(CliRunner().invoke, explain_command, args)
    assert result.exit_code == 0, result.output
    data = json.loads(result.output)
    assert data["source"] == "scan" and data["selected"] == "1.4.0"
    assert {t["tag"]: t["fate"] for t in data["tags"]} == {
        "1.4.0": "selected", "1.0.0": "outranked", "2.0.0-rc.1": "prerelease"
    }  # fmt: skip
    assert data["next"]["summary"] == "nothing: no marked value of this policy in Git"
    assert data["notes"] == ["no automation of the policy's namespace selects it"]
    stored = ["--state", str(tmp_path / "s.db")]
    again = await asyncio.to_thread(
        CliRunner().invoke, explain_command, ["apps:app", "--config", str(tmp_path / "conf"),
                                              *stored]
    )  # fmt: skip
    assert again.exit_code == 0 and "selected: 1.4.0" in again.output  # the scan was stored
    assert "(from the state store)" in again.output


POLICY = """\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: app, namespace: apps}
spec:
  image: registry.local/app
  select: {semver: {range: ">=1.0.0"}}
"""


def test_explain_takes_relative_config_and_data_dir(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "conf").mkdir()
    (tmp_path / "conf" / "p.yaml").write_text(POLICY)
    (tmp_path / "data").mkdir()
    monkeypatch.chdir(tmp_path)
    result = CliRunner().invoke(explain_command, ["apps:app", "--config", "conf", "--data-dir",
                                                  "data"])  # fmt: skip
    assert result.exit_code == 0, result.output
    assert "next reconcile: nothing: registry.local/app has no good scan yet" in result.output
    assert (tmp_path / "data" / "state.db").is_file()


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["--repo", "ext::sh -c 'touch /tmp/pwned'"], "error:"),
        (["--repo", "-uhack"], "error:"),
        (["--output", "yaml"], "Invalid value for '--output'"),
        (["--config", "does/not/exist"], "does not exist"),
    ],
)
def test_explain_refuses_a_hostile_repo_or_option(
    tmp_path: Path, args: list[str], needle: str
) -> None:
    full = ["apps:app", "--state", str(tmp_path / "s.db"), "--work-dir", str(tmp_path / "w"),
            *args]  # fmt: skip
    result = CliRunner().invoke(explain_command, full)
    assert result.exit_code == 2, result.output
    assert needle in result.output
    assert not Path("/tmp/pwned").exists()


def test_explain_with_a_state_file_that_is_not_a_store_fails_clearly(tmp_path: Path) -> None:
    (tmp_path / "conf.yaml").write_text(POLICY)
    (tmp_path / "s.db").write_bytes(b"\x00garbage" * 1000)
    result = CliRunner().invoke(explain_command, ["apps:app", "--config",
                                                  str(tmp_path / "conf.yaml"), "--state",
                                                  str(tmp_path / "s.db")])  # fmt: skip
    assert result.exit_code == 2 and result.output.startswith("error: "), result.output


async def test_an_automation_whose_git_cannot_be_read_is_a_note_not_a_failure(
    tmp_path: Path,
) -> None:
    remote = setup(tmp_path)
    policies = remote.read("policies.yaml").replace(
        "update: {path: deploy}", "update: {path: gone}"
    )
    remote.commit_files({"policies.yaml": policies}, "point the automation at nothing")
    await stored(tmp_path, "1.1.0", "1.2.0")
    code, text = await asyncio.to_thread(explain, tmp_path, remote)
    assert code == 0, text
    assert "selected: 1.2.0" in text
    assert "note: ImageAutomation/apps/auto: Git not read: update.path 'gone'" in text
