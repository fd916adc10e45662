"""Branch-per-environment and repo-per-environment layouts, on GitHub, GitLab and Gitea fakes:
the stage's branch (or repository) is the pull request's base, the previous stage is read
from its own branch (or repository), and a human's merge moves the image on."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from pathlib import Path

import pytest

from tests.e2e.promotion.fleet import (
    IMAGE,
    PromoFleet,
    digest,
    manifest,
    policy_doc,
    promotion_doc,
    start_fleet,
)
from tests.forges.server import FakeForge

pytestmark = pytest.mark.integration

ONE = f"{IMAGE}:1.0.0@{digest('1.0.0')}"
TWO = f"{IMAGE}:1.1.0@{digest('1.1.0')}"
BRANCH_STAGES = """\
    - {name: dev, branch: dev, path: deploy}
    - {name: staging, branch: staging, path: deploy, soak: 1h}
    - {name: prod, branch: prod, path: deploy, soak: 1h}
"""


def test_branch_per_environment_promotes_into_each_stages_branch(fleet: PromoFleet) -> None:
    fleet.seed({"automation/policies.yaml": policy_doc(),
                "automation/promotion.yaml": promotion_doc(fleet.fake, BRANCH_STAGES)})  # fmt: skip
    for branch in ("dev", "staging", "prod"):
        fleet.fake.human_push(branch, {"deploy/app.yaml": manifest(ONE)}, f"{branch} starts")
    fleet.fake.human_push("dev", {"deploy/app.yaml": manifest(TWO)}, "dev takes 1.1.0")
    fleet.offset = timedelta(hours=2)
    first = "\n".join(fleet.promote())
    (staging,) = fleet.pulls()
    assert (staging.base, staging.head) == ("staging", "image-automation/promote-web-staging")
    assert f"opened #{staging.number}" in first, first
    assert fleet.marked("", staging.head, path="deploy/app.yaml") == TWO
    assert fleet.marked("", "prod", path="deploy/app.yaml") == ONE  # prod waits for staging

    fleet.fake.human_merge(staging.number)
    fleet.offset = timedelta(0)  # the merge landed just now: staging soaks from here
    fleet.promote()
    assert [p.base for p in fleet.pulls("open")] == []
    fleet.offset = timedelta(hours=2)
    fleet.promote()
    (prod,) = fleet.pulls("open")
    assert prod.base == "prod" and fleet.marked("", prod.head, path="deploy/app.yaml") == TWO


def test_repo_per_environment_reads_one_repository_and_proposes_to_another(
    fleet: PromoFleet, fake_forge_factory: Callable[..., FakeForge], tmp_path: Path
) -> None:
    other = fake_forge_factory(fleet.fake.provider, _sibling(fleet.fake.repository))
    prod = start_fleet(other, tmp_path / "prod")
    try:
        secret = fleet.secrets_dir / "prod-auth"
        secret.mkdir(parents=True)
        (secret / "bearerToken").write_text(other.token)
        stages = f"""\
    - {{name: staging, path: clusters/staging}}
    - name: prod
      path: clusters/prod
      soak: 1h
      repository: {{url: "{prod.git.url}", branch: main, secretRef: {{name: prod-auth}}}}
      pullRequest: {{apiURL: "{other.api_url}", secretRef: {{name: prod-auth}}}}
"""
        files = {"clusters/staging/app.yaml": manifest(ONE),
                 "automation/policies.yaml": policy_doc(),
                 "automation/promotion.yaml": promotion_doc(fleet.fake, stages)}  # fmt: skip
        fleet.seed(files)
        other.move_base({"clusters/prod/app.yaml": manifest(ONE)}, "prod starts")
        fleet.set_stage("staging", TWO)
        fleet.offset = timedelta(hours=2)
        lines = "\n".join(fleet.promote())
        assert fleet.pulls() == []  # nothing is proposed to the staging repository
        (pr,) = prod.pulls()
        assert pr.base == "main" and f"opened #{pr.number}" in lines, lines
        assert prod.marked("prod", pr.head) == TWO and "staging `1.1.0` since" in pr.body
    finally:
        prod.git.stop()


def _sibling(repository: str) -> str:
    """Another repository beside ``repository`` on the same forge (``fleet`` → ``fleet-prod``)."""
    head, _, name = repository.rpartition("/")
    return f"{head}/{name}-prod"
