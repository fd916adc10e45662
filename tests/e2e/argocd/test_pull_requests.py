"""AIU's ``gitConfig.pullRequest`` through the pull-request lifecycle on the fake GitHub: one
pull request per write-back target, kept current, the base branch never written."""

from __future__ import annotations

import os

import pytest

from tests.e2e.argocd.fleet import fleet_files
from tests.e2e.pullrequests.fleet import SECRET, PrFleet

pytestmark = pytest.mark.integration


def _seed(fleet: PrFleet) -> None:
    secrets = fleet.root / "secrets" / SECRET
    secrets.mkdir(parents=True, exist_ok=True)
    (secrets / "bearerToken").write_text(fleet.fake.token + "\n")
    suffix = os.urandom(3).hex()
    fleet.images = {k: f"team/{k}-{suffix}" for k in ("web", "api", "mon")}
    for policy in fleet.images:
        fleet.push("1.0.0", policy=policy)
    git_config = (
        f"    gitConfig:\n      branch: main\n      pullRequest: {{{fleet.fake.provider}: {{}}}}\n"
    )
    annotations = f'{{image-automation.io/forge-api-url: "{fleet.fake.api_url}"}}'
    files = fleet_files(fleet.registry.host, fleet.images, git_config=git_config,
                        annotations=annotations)  # fmt: skip
    fleet.fake.move_base(files, "the fleet")


def test_each_write_back_target_gets_one_pull_request_updated_in_place(
    github_fleet: PrFleet,
) -> None:
    fleet = github_fleet
    _seed(fleet)
    base = fleet.fake.repo.read("apps/web/values.yaml", "main")
    for policy in fleet.images:
        fleet.push("1.0.1", policy=policy)

    fleet.reconcile()
    pulls = fleet.pulls("open")
    assert len(pulls) == 4, [p.head for p in pulls]  # one per Application write-back target
    heads = {p.head for p in pulls}
    assert all(h.startswith("image-updater-") for h in heads)
    assert fleet.fake.repo.read("apps/web/values.yaml", "main") == base  # base untouched
    web = next(p for p in pulls if "web" in fleet.fake.repo.read(
        "apps/web/.argocd-source-web.yaml", p.head))  # fmt: skip
    assert "value: 1.0.1" in fleet.fake.repo.read("apps/web/.argocd-source-web.yaml", web.head)

    for policy in fleet.images:
        fleet.push("1.0.2", policy=policy)
    fleet.reconcile()
    again = fleet.pulls("open")
    assert {p.number for p in again} == {p.number for p in pulls}  # updated, not reopened
    text = fleet.fake.repo.read("apps/web/.argocd-source-web.yaml", web.head)
    assert "value: 1.0.2" in text
