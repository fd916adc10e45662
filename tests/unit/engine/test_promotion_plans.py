"""Promotion documents → plans: where each stage is, its pull-request settings over the
promotion's, its head branch, the order of evaluation; problems at their lines."""

from __future__ import annotations

from image_automation.config.loading import load_bytes
from image_automation.config.resolving import resolve
from image_automation.engine.automations import PlanContext, RepoTarget, head_branch
from image_automation.engine.promotion import PromotionPlans, plan_promotions

POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata: {name: web, namespace: apps}
spec: {image: ghcr.io/acme/web}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata: {name: web, namespace: apps}
spec:
  imageRepositoryRef: {name: web}
  policy: {semver: {range: ">=1.0.0"}}
---
"""
REPO = RepoTarget("https://github.com/acme/fleet.git", "trunk", "fleet-git")


def plan(promotion: str, repo: RepoTarget | None = REPO) -> PromotionPlans:
    loaded = load_bytes((POLICY + promotion).encode(), file="p.yaml")
    assert loaded.errors == []
    return plan_promotions(loaded, PlanContext(repo=repo), resolve(loaded).policies)


LAYOUTS = """\
apiVersion: image-automation.io/v1alpha1
kind: Promotion
metadata: {name: web, namespace: apps}
spec:
  policies: [web]
  pullRequest: {labels: [promotion], autoMerge: merge, reviewers: [alice]}
  stages:
    - {name: dev, path: clusters/dev}
    - name: qa
      from: staging
      branch: qa
      path: deploy
    - name: staging
      from: dev           # not the one before it in the list (qa, which follows staging)
      path: clusters/staging
      pullRequest: {grouping: image, labels: [staging], autoMerge: false}
    - name: prod
      from: staging
      repository: {url: "https://gitlab.com/acme/prod.git", secretRef: {name: prod-git}}
      pullRequest: {secretRef: {name: prod-token}}
"""


def test_stages_resolve_to_their_places_and_their_settings_merge_over_the_promotions() -> None:
    planned = plan(LAYOUTS)
    assert planned.errors == []
    (promotion,) = planned.plans
    dev, qa, staging, prod = promotion.stages
    fleet, other = "https://github.com/acme/fleet.git", "https://gitlab.com/acme/prod.git"
    assert [s.place for s in promotion.stages] == [
        (fleet, "trunk"), (fleet, "qa"), (fleet, "trunk"), (other, "trunk"),
    ]  # fmt: skip
    assert (dev.source, qa.source, staging.source, prod.source) == (None, 2, 0, 2)
    assert [s.name for s in promotion.order()] == ["staging", "qa", "prod"]
    assert prod.repo.secret == "prod-git" and prod.elsewhere and not qa.elsewhere
    pr = staging.automation.pull_request
    assert pr is not None
    assert (pr.labels, pr.auto_merge, pr.reviewers, pr.grouping) == (
        ("staging",), None, ("alice",), "image",
    )  # fmt: skip
    assert head_branch(pr, policy=None, image="ghcr.io/acme/web:1.0") == (
        "image-automation/promote-web-staging-ghcr.io-acme-web"
    )
    prod_pr = prod.automation.pull_request
    assert (
        prod_pr is not None and prod_pr.secret == "prod-token" and prod_pr.labels == ("promotion",)
    )
    assert staging.automation.key == "Promotion/apps/web/staging"
    assert staging.automation.commit.author_email == "image-automation@localhost"


def test_a_repository_whose_forge_cannot_be_told_is_an_error_at_its_line() -> None:
    text = LAYOUTS.replace("https://gitlab.com/acme/prod.git", "https://git.internal/acme/prod.git")
    (key, problems) = plan(text).errors[0]
    assert key == "Promotion/apps/web"
    assert [str(p).split(": ")[0] for p in problems] == ["p.yaml:31"]
    assert "cannot tell the forge" in str(problems[0])


def test_without_a_repository_anywhere_the_promotion_says_so() -> None:
    ((_, problems),) = plan(LAYOUTS, repo=None).errors
    assert "spec.git.url is not set and no --repo was given" in str(problems[0])


def test_a_head_branch_git_would_refuse_is_an_error() -> None:
    text = LAYOUTS.replace(
        "pullRequest: {labels: [promotion]",
        "pullRequest: {branch: " + "x" * 200 + ", labels: [promotion]",
    )
    ((_, problems),) = plan(text).errors
    assert any("over the 200 byte limit" in str(p) for p in problems)
