"""Grouping images into pull requests, refused versions, and the small pure pieces of the
lifecycle (report lines, body comparison, forge clients kept per settings)."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

import pytest

from image_automation.config.loading import load_bytes
from image_automation.domain import Change, ImageRef
from image_automation.engine._pr_forges import forge_settings
from image_automation.engine._pr_groups import (
    foreign_warning,
    groups_for,
    policy_of,
    refused_policies,
    setter_changes,
)
from image_automation.engine._pr_outcome import PullRequestOutcome
from image_automation.engine._pr_run import _normal
from image_automation.engine.automations import (
    PlanContext,
    PullRequestPlan,
    RepoTarget,
    plan_automations,
)
from image_automation.engine.pullrequests import ForgePool
from image_automation.forges import ForgeSettings
from image_automation.state import IgnoredVersion, SetterChange

NOW = datetime(2026, 12, 1, tzinfo=UTC)
IMAGES = {
    "web": ImageRef.parse("registry.test/team/web:1.1.0"),
    "web-canary": ImageRef.parse("registry.test/team/web:1.2.0-rc.1"),
    "api": ImageRef.parse("docker.io/library/nginx:1.27"),
}


def _plan(grouping: Literal["automation", "policy", "image"]) -> PullRequestPlan:
    return PullRequestPlan(
        provider=None, api_url=None, secret=None, branch="image-automation/fleet",
        grouping=grouping,
    )  # fmt: skip


@pytest.mark.parametrize(
    ("grouping", "expected"),
    [
        ("automation", {"image-automation/fleet": ["api", "web", "web-canary"]}),
        (
            "policy",
            {
                "image-automation/fleet-api": ["api"],
                "image-automation/fleet-web": ["web"],
                "image-automation/fleet-web-canary": ["web-canary"],
            },
        ),
        (
            "image",
            {
                "image-automation/fleet-nginx": ["api"],
                "image-automation/fleet-registry.test-team-web": ["web", "web-canary"],
            },
        ),
    ],
)
def test_groups_split_images_by_automation_policy_or_image_repository(
    grouping: Literal["automation", "policy", "image"], expected: dict[str, list[str]]
) -> None:
    groups = groups_for(_plan(grouping), IMAGES)
    assert {g.head: sorted(g.images) for g in groups} == expected
    assert [g.head for g in groups] == sorted(expected)  # deterministic order


def test_automation_grouping_keeps_its_group_when_nothing_is_selected() -> None:
    (group,) = groups_for(_plan("automation"), {})
    assert group.head == "image-automation/fleet" and group.images == {}
    assert groups_for(_plan("policy"), {}) == []


@pytest.mark.parametrize(
    ("setter", "policy"),
    [
        ("apps:web", "web"),
        ("apps:web:tag", "web"),
        ("apps:web:name", "web"),
        ("apps:web:digest", "web"),
        ("apps:web-tag", "web-tag"),
        ("web", "web"),
    ],
)
def test_policy_of_a_setter_drops_namespace_and_field(setter: str, policy: str) -> None:
    assert policy_of(setter) == policy


def _change(setter: str, new: str, old: str = "x:1") -> Change:
    return Change("f.yaml", 1, "v1", "Deployment", "ns", "d", setter, old, new)


def _ignored(setter: str, value: str) -> IgnoredVersion:
    return IgnoredVersion("A", "h", setter, value, 3, "closed", NOW)


def test_a_policy_is_refused_only_for_the_exact_value_that_was_refused() -> None:
    changes = [_change("apps:web:tag", "1.1.0"), _change("apps:api", "nginx:1.27")]
    assert refused_policies(changes, [_ignored("apps:web:tag", "1.1.0")]) == {"web"}
    assert refused_policies(changes, [_ignored("apps:web:tag", "1.0.9")]) == set()
    assert refused_policies(changes, [_ignored("apps:web", "1.1.0")]) == set()


def test_setter_changes_are_distinct_and_sorted() -> None:
    changes = [_change("b:x", "2", "1"), _change("a:y", "3", "2"), _change("b:x", "2", "1")]
    assert setter_changes(changes) == (SetterChange("a:y", "2", "3"), SetterChange("b:x", "1", "2"))


def test_unknown_policy_warnings_of_other_groups_are_recognised() -> None:
    others = ["web", "api"]
    assert foreign_warning("f.yaml:3: unknown policy apps:web", namespace="apps", others=others)
    assert not foreign_warning("f.yaml:3: unknown policy apps:db", namespace="apps", others=others)
    assert not foreign_warning("f.yaml:3: unknown policy ops:web", namespace="apps", others=others)


@pytest.mark.parametrize(
    ("outcome", "line"),
    [
        (PullRequestOutcome("h", "opened", 3, "https://f/pull/3"), "opened #3 https://f/pull/3"),
        (
            PullRequestOutcome("h", "updated", 3, "u", detail="the branch is ours again"),
            "updated #3 u (the branch is ours again)",
        ),
        (PullRequestOutcome("h", "deferred", detail="limit: 2 open"), "deferred: limit: 2 open"),
        (PullRequestOutcome("h", "unchanged"), "unchanged"),
    ],
)
def test_outcome_summaries_read_as_report_lines(outcome: PullRequestOutcome, line: str) -> None:
    assert outcome.summary() == line


@pytest.mark.parametrize(
    ("theirs", "same"),
    [
        ("a\nb\n", True),
        ("a\r\nb\r\n", True),
        ("a  \nb", True),
        ("a\n\nb", False),
        ("a\nc", False),
    ],
)
def test_a_body_counts_as_unchanged_through_a_forges_line_endings(theirs: str, same: bool) -> None:
    assert (_normal(theirs) == _normal("a\nb\n")) is same


async def test_the_pool_keeps_one_client_per_forge_repository_and_token() -> None:
    seen: list[str] = []
    async with ForgePool(on_token=seen.append) as pool:
        one = ForgeSettings("github", "https://api.github.test", "org/fleet", token="t-one")
        first = pool.forge(one)
        assert pool.forge(one) is first
        assert pool.forge(ForgeSettings("github", "https://api.github.test", "org/other",
                                        token="t-one")) is not first  # fmt: skip
        assert pool.forge(ForgeSettings("github", "https://api.github.test", "org/fleet",
                                        token="t-two")) is not first  # fmt: skip
        assert len(pool) == 3
        assert seen == ["t-one", "t-one", "t-two"]
    assert len(pool) == 0


NATIVE = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: fleet, namespace: apps}
spec:
  commit: {author: {email: bot@example.test}}
  pullRequest: {}
"""


@pytest.mark.parametrize(
    ("url", "files", "username"),
    [
        ("https://bitbucket.org/ws/fleet.git", {"username": "ann", "password": "app-pw"}, "ann"),
        ("https://bitbucket.org/ws/fleet.git", {"bearerToken": "tok", "username": "ann"}, ""),
        ("https://github.com/org/fleet.git", {"username": "ann", "password": "pat"}, ""),
    ],
)
def test_a_bitbucket_app_password_goes_with_its_user_name(
    tmp_path: Path, url: str, files: dict[str, str], username: str
) -> None:
    secret = tmp_path / "fleet-git"
    secret.mkdir()
    for name, value in files.items():
        (secret / name).write_text(value + "\n")
    loaded = load_bytes(NATIVE.encode(), file="a.yaml")
    (plan,) = plan_automations(loaded, PlanContext(repo=RepoTarget(url, "main", "fleet-git"))).plans
    settings = forge_settings(plan, secrets_dir=tmp_path)
    assert settings.username == username
    assert settings.token == files.get("bearerToken", files.get("password"))
