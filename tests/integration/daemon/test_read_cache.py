"""The daemon's reading of the policy files is reused only while nothing it came from moved."""

from __future__ import annotations

from pathlib import Path

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.wiring import RepoEngine, RepoSettings
from tests.integration.daemon.test_wiring import policies
from tests.integration.git_fixtures import GitRemote


async def test_a_reading_is_reused_until_the_head_or_the_secrets_change(
    tmp_path: Path, git_remote: GitRemote
) -> None:
    host = "127.0.0.1:5000"
    git_remote.commit_files(policies(host), "add policies")
    secrets = tmp_path / "secrets"
    (secrets / "hook").mkdir(parents=True)
    (secrets / "hook" / "token").write_text("one")
    settings = RepoSettings(repo=git_remote.url, data_dir=tmp_path / "data", secrets_dir=secrets)
    async with RepoEngine(settings, metrics=Metrics()) as engine:
        first = await engine.load()
        assert await engine.load() is first  # same commit, same secrets: not planned again
        git_remote.commit_files(policies(host, range_=">=1.1.0"), "narrow the range")
        second = await engine.load()
        assert second is not first
        assert [p.spec.semver_range for p in second.policies] == [">=1.1.0"]
        assert await engine.load() is second
        (secrets / "signing").mkdir()
        (secrets / "signing" / "git.asc").write_text("a key")
        third = await engine.load()
        assert third is not second  # a secret appeared: a signing key may exist now
        (secrets / "hook" / "token").write_text("rotated, longer")
        assert await engine.load() is not third
