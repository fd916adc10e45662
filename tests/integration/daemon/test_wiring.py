"""The production engine of ``run``: policies from a real git remote, tags from a real registry."""

from __future__ import annotations

from pathlib import Path

from image_automation.daemon.metrics import Metrics
from image_automation.daemon.wiring import RepoEngine, RepoSettings
from tests.integration.git_fixtures import GitRemote
from tests.integration.registry_fixtures import RegistryServer, push_image


def policies(host: str, image: str = "team/app", range_: str = ">=1.0.0") -> dict[str, str]:
    return {
        "clusters/images.yaml": f"""\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {{name: app, namespace: flux-system}}
spec: {{image: "{host}/{image}", interval: 1m, insecure: true}}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {{name: app, namespace: flux-system}}
spec:
  imageRepositoryRef: {{name: app}}
  policy: {{semver: {{range: "{range_}"}}}}
""",
    }


async def test_load_reads_the_remote_and_scan_stores_tags_and_counts_requests(
    tmp_path: Path, git_remote: GitRemote, registry_anonymous: RegistryServer
) -> None:
    host = registry_anonymous.host
    with registry_anonymous.push_client() as client:
        push_image(client, registry_anonymous.url, "team/app", ["1.0.0", "1.1.0"])
    git_remote.commit_files(policies(host), "add policies")
    metrics = Metrics()
    settings = RepoSettings(repo=git_remote.url, data_dir=tmp_path / "data")
    async with RepoEngine(settings, metrics=metrics) as engine:
        config = await engine.load()
        assert config.errors == []
        assert config.scans == {f"{host}/team/app": 60.0}
        result = await engine.scan(f"{host}/team/app")
        assert (result.ok, result.tags) == (True, 2)
        assert await engine.check() is None
        unknown = await engine.scan("docker.io/library/nope")
        assert not unknown.ok
    value = metrics.registry.get_sample_value
    assert (value("image_automation_registry_requests_total", {"host": host, "status": "200"})
            or 0) >= 1  # fmt: skip


async def test_a_broken_policy_edit_keeps_the_last_good_file(
    tmp_path: Path, git_remote: GitRemote, registry_anonymous: RegistryServer
) -> None:
    host = registry_anonymous.host
    git_remote.commit_files(policies(host), "add policies")
    settings = RepoSettings(repo=git_remote.url, data_dir=tmp_path / "data")
    async with RepoEngine(settings, metrics=Metrics()) as engine:
        first = await engine.load()
        assert [p.key for p in first.policies] == ["flux-system/app"]
        broken = policies(host)["clusters/images.yaml"].replace("semver:", "semverr:")
        git_remote.commit_files({"clusters/images.yaml": broken}, "break it")
        second = await engine.load()
        assert [p.spec.semver_range for p in second.policies] == [">=1.0.0"]
        assert any("clusters/images.yaml" in e for e in second.errors)
        git_remote.commit_files(policies(host, range_=">=1.1.0"), "fix it")
        third = await engine.load()
        assert [p.spec.semver_range for p in third.policies] == [">=1.1.0"]
        assert third.errors == []
