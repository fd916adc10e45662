"""Pull-request settings become a PullRequestPlan; every problem is pinned to file:line."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from image_automation.config.loading import load_bytes
from image_automation.config.pull_requests import branch_problem
from image_automation.engine._pr_settings import default_branch
from image_automation.engine.automations import (
    AutomationPlan,
    PlanContext,
    PlanProblems,
    PullRequestPlan,
    RepoTarget,
    check_automations,
    plan_automations,
)
from image_automation.errors import ConfigError

NATIVE = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: web, namespace: apps}
spec:
  git:
    url: {url}
    branch: main
{push}  pullRequest:
{fields}"""

GITHUB = "https://github.com/org/fleet.git"


def native(*fields: str, url: str = GITHUB, push: str = "") -> str:
    body = "".join(f"    {f}\n" for f in fields) or "    enabled: true\n"
    push_block = f"    push: {{branch: {push}}}\n" if push else ""
    return NATIVE.replace("{url}", url).replace("{push}", push_block).replace("{fields}", body)


FLUX = """\
apiVersion: source.toolkit.fluxcd.io/v1
kind: GitRepository
metadata: {name: fleet, namespace: apps}
spec:
  url: {url}
  ref: {branch: main}
---
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata:
  name: apps
  namespace: apps
  annotations:
{annotations}spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: fleet}
  git:
    checkout: {ref: {branch: main}}
    commit: {author: {email: bot@example.com}}
{push}"""
ANNOTATION_LINE = 14
"""The line of the first annotation."""


def flux(*annotations: str, url: str = GITHUB, push: str | None = "image-updates") -> str:
    lines = "".join(f"    {a}\n" for a in annotations) or "    other.io/x: y\n"
    block = f"    push: {{branch: {push}}}\n" if push is not None else ""
    return FLUX.replace("{url}", url).replace("{annotations}", lines).replace("{push}", block)


def opt_in(*more: str) -> tuple[str, ...]:
    return ('image-automation.io/pull-request: "true"', *more)


def plan_of(text: str, context: PlanContext | None = None) -> AutomationPlan:
    loaded = load_bytes(text.encode(), file="a.yaml")
    assert loaded.errors == []
    plans = plan_automations(loaded, context or PlanContext())
    assert plans.errors == [], [str(e) for _, e in plans.errors]
    (plan,) = plans.plans
    return plan


def problems_of(text: str, context: PlanContext | None = None) -> list[str]:
    loaded = load_bytes(text.encode(), file="a.yaml")
    assert loaded.errors == [], loaded.errors
    errors, _ = check_automations(loaded, context or PlanContext())
    return [str(e) for e in errors]


# --- native ---------------------------------------------------------------------------------


def test_a_native_block_resolves_to_the_plan_the_engine_runs() -> None:
    plan = plan_of(
        native(
            "provider: github",
            "apiURL: https://ghe.example.com/api/v3",
            "secretRef: {name: forge}",
            "branch: bumps/web",
            "grouping: policy",
            "title: 'update {{ x }}'",
            "body: 'body'",
            "labels: [deps]",
            "reviewers: [alice]",
            "assignees: [bob]",
            "draft: true",
            "autoMerge: merge",
            "limits: {perHour: 2, open: 3}",
        )
    )
    assert plan.pull_request == PullRequestPlan(
        provider="github",
        api_url="https://ghe.example.com/api/v3",
        secret="forge",
        branch="bumps/web",
        grouping="policy",
        title_template="update {{ x }}",
        body_template="body",
        labels=("deps",),
        reviewers=("alice",),
        assignees=("bob",),
        draft=True,
        auto_merge="merge",
        per_hour=2,
        max_open=3,
    )
    assert plan.repo.branch == "main"  # the base


@pytest.mark.parametrize(
    ("fields", "push", "branch"),
    [
        ((), "", "image-automation/web"),
        ((), "bumps", "bumps"),
        (("branch: mine",), "bumps", "mine"),
    ],
)
def test_the_head_is_the_pull_request_branch_else_the_push_branch_else_the_default(
    fields: tuple[str, ...], push: str, branch: str
) -> None:
    plan = plan_of(native(*fields, push=push))
    assert plan.pull_request is not None
    assert plan.pull_request.branch == branch


def test_no_block_or_enabled_false_is_push_mode() -> None:
    plain = native().replace("  pullRequest:\n    enabled: true\n", "")
    assert plan_of(plain).pull_request is None
    assert plan_of(native("enabled: false", url="file:///x.git")).pull_request is None


def test_a_default_branch_from_a_hostile_name_is_still_a_safe_ref() -> None:
    text = native().replace("name: web,", "name: 'We..b ~^:x" + "y" * 200 + "',")
    plan = plan_of(text)
    assert plan.pull_request is not None
    branch = plan.pull_request.branch
    assert branch.startswith("image-automation/we.b-x")
    assert branch_problem(branch) is None


@pytest.mark.parametrize(
    ("text", "line", "field", "fragment"),
    [
        (native("branch: main"), 9, "spec.pullRequest.branch", "is the checkout branch"),
        (native(push="main"), 8, "spec.git.push.branch", "is the checkout branch"),
        (native(push="a..b"), 8, "spec.git.push.branch", "'..'"),
        (native(push="refs/heads/x"), 8, "spec.git.push.branch", "refs/heads/"),
        (native(url="https://git.example.com/org/fleet.git"), 8, "spec.pullRequest",
         "set spec.pullRequest.provider"),
        (native(url="git@git.example.com:org/fleet.git"), 8, "spec.pullRequest",
         "host 'git.example.com'"),
        (native(url="file:///srv/fleet.git"), 8, "spec.pullRequest", "cannot tell the forge"),
        (native("provider: gitea", url="file:///srv/fleet.git"), 9,
         "spec.pullRequest.provider", "local path"),
        (native(url="https://github.com/org/fleet/extra.git"), 8, "spec.pullRequest",
         "'owner/name'"),
        (native("title: '{{ oops'"), 9, "spec.pullRequest.title", "template line 1"),
        (native("body: |", "  fine", "  {% if %}"), 11, "spec.pullRequest.body", "line 2"),
        (native("body: " + "'" + "{{" * 2000 + "'"), 9, "spec.pullRequest.body", ""),
    ],
)  # fmt: skip
def test_a_native_problem_is_reported_at_its_line(
    text: str, line: int, field: str, fragment: str
) -> None:
    (problem,) = problems_of(text)
    assert problem.startswith(f"a.yaml:{line}: {field}: "), problem
    assert fragment in problem


def test_the_unknown_host_message_names_what_to_set_without_the_credentials() -> None:
    (problem,) = problems_of(native(url="https://git.example.com/org/fleet.git"))
    assert "provider" in problem and "github, gitlab, gitea" in problem
    # A URL that carries a credential is refused before its host is looked at, masked.
    (problem,) = problems_of(native(url="https://bot:hunter2@git.example.com/org/fleet.git"))
    assert "hunter2" not in problem
    assert "bot:***@" in problem and "embeds credentials" in problem


def test_a_known_host_or_a_provider_needs_nothing_else() -> None:
    for text in (
        native(url="git@gitlab.com:group/sub/fleet.git"),
        native(url="https://dev.azure.com/org/proj/_git/fleet"),
        native("provider: gitea", url="https://git.example.com/org/fleet.git"),
        native("provider: github", "apiURL: http://127.0.0.1:8080/api/v3",
               url="http://127.0.0.1:8080/org/fleet.git"),
    ):  # fmt: skip
        assert problems_of(text) == []


def test_without_repo_a_native_automation_on_the_repo_is_checked_but_not_its_forge() -> None:
    text = native().replace(f"    url: {GITHUB}\n", "")
    assert problems_of(text) == []
    assert problems_of(text, PlanContext(repo=RepoTarget("https://git.example.com/o/r", "main")))


def test_every_problem_of_one_automation_is_listed_and_reconcile_sees_the_first() -> None:
    text = native("branch: main", "title: '{{'", url="https://git.example.com/org/fleet.git")
    assert len(problems_of(text)) == 3
    plans = plan_automations(load_bytes(text.encode(), file="a.yaml"), PlanContext())
    ((key, error),) = plans.errors
    assert key == "ImageAutomation/apps/web"
    assert isinstance(error, PlanProblems) and len(error.problems) == 3
    assert str(error).startswith("a.yaml:9: spec.pullRequest.branch: ")
    assert str(error).endswith("(and 2 more; see validate)")


def test_two_automations_with_one_head_on_one_repository_are_an_error() -> None:
    second = native(push="bumps").replace("name: web", "name: api")
    text = native(push="bumps") + "---\n" + second
    (problem,) = problems_of(text)
    assert problem.startswith("a.yaml:20: spec.pullRequest: head branch 'bumps' is already")
    assert "ImageAutomation/apps/web" in problem


# --- Flux -----------------------------------------------------------------------------------


def test_a_flux_automation_opts_in_with_its_annotations() -> None:
    plan = plan_of(
        flux(
            *opt_in(
                "image-automation.io/forge: gitlab",
                "image-automation.io/forge-api-url: https://git.example.com/api/v4",
                "image-automation.io/forge-secret: gitlab-token",
                "image-automation.io/pr-grouping: image",
                'image-automation.io/pr-labels: "deps, images"',
                "image-automation.io/pr-reviewers: alice,bob",
                "image-automation.io/pr-assignees: carol",
                'image-automation.io/pr-draft: "true"',
                "image-automation.io/pr-auto-merge: squash",
                "image-automation.io/pr-title: 'chore: {{ x }}'",
            ),
            url="https://git.example.com/platform/fleet.git",
        )
    )
    assert plan.pull_request == PullRequestPlan(
        provider="gitlab",
        api_url="https://git.example.com/api/v4",
        secret="gitlab-token",
        branch="image-updates",
        grouping="image",
        title_template="chore: {{ x }}",
        labels=("deps", "images"),
        reviewers=("alice", "bob"),
        assignees=("carol",),
        draft=True,
        auto_merge="squash",
    )
    assert (plan.repo.branch, plan.push.branch) == ("main", "image-updates")


def test_a_flux_automation_without_the_opt_in_pushes_as_flux_does() -> None:
    assert plan_of(flux()).pull_request is None
    assert plan_of(flux('image-automation.io/pull-request: "false"')).pull_request is None


@pytest.mark.parametrize(
    ("text", "line", "key", "fragment"),
    [
        (flux(*opt_in(), push=None), 14, "pull-request", "needs spec.git.push.branch"),
        (flux(*opt_in(), push="main"), 14, "pull-request", "is the checkout branch"),
        (flux(*opt_in(), url="https://git.example.com/o/r.git"), 14, "pull-request",
         "image-automation.io/forge"),
        (flux(*opt_in("image-automation.io/forge: gitea"), url="file:///srv/r.git"), 15,
         "forge", "local path"),
        (flux(*opt_in("image-automation.io/pr-draft: 'no'")), 15, "pr-draft", '"true"'),
        (flux(*opt_in("image-automation.io/pr-labels: 'a,a'")), 15, "pr-labels", "twice"),
        (flux(*opt_in("image-automation.io/pr-grouping: team")), 15, "pr-grouping",
         "'automation'"),
        (flux(*opt_in("image-automation.io/forge: github.com")), 15, "forge", "'github'"),
        (flux(*opt_in("image-automation.io/forge-api-url: ftp://x")), 15, "forge-api-url",
         "https://"),
        (flux(*opt_in("image-automation.io/forge-secret: ../../etc")), 15, "forge-secret",
         "secret name"),
        (flux(*opt_in("image-automation.io/pr-reviewers: 'a b'")), 15, "pr-reviewers",
         "space"),
        (flux(*opt_in("image-automation.io/pr-assignees: 7")), 15, "pr-assignees",
         "must be a string"),
        (flux(*opt_in("image-automation.io/pr-auto-merge: always")), 15, "pr-auto-merge",
         "'merge'"),
        (flux(*opt_in("image-automation.io/pr-title: '{{ x'")), 15, "pr-title",
         "template line 1"),
        (flux(*opt_in("image-automation.io/pr-titel: x")), 15, "pr-titel", "unknown"),
        (flux("image-automation.io/pull-request: yes"), 14, "pull-request", '"true" or'),
        (flux("image-automation.io/pull-request: true"), 14, "pull-request", "must be a string"),
        (flux("image-automation.io/pr-labels: deps"), 14, "pr-labels", "has no effect"),
    ],
)  # fmt: skip
def test_a_bad_annotation_is_reported_at_its_own_line(
    text: str, line: int, key: str, fragment: str
) -> None:
    (problem,) = problems_of(text)
    prefix = f"a.yaml:{line}: metadata.annotations.image-automation.io/{key}: "
    assert problem.startswith(prefix), problem
    assert fragment in problem


def test_a_bad_push_branch_is_reported_at_the_push_branch() -> None:
    (problem,) = problems_of(flux(*opt_in(), push="'a b'"))
    assert problem.startswith("a.yaml:21: spec.git.push.branch: head branch 'a b' holds")


def test_every_bad_annotation_and_the_branch_are_all_reported() -> None:
    text = flux(
        *opt_in("image-automation.io/pr-draft: maybe", "image-automation.io/pr-labels: 'a,a'"),
        push="main",
    )
    lines = sorted(p.split(":")[1] for p in problems_of(text))
    assert lines == ["14", "15", "16"]


def test_annotations_in_flow_style_have_their_lines_too() -> None:
    text = (
        FLUX.replace("{url}", GITHUB)
        .replace(
            "  annotations:\n{annotations}",
            '  annotations: {image-automation.io/pull-request: "true",\n'
            "    image-automation.io/pr-draft: nope}\n",
        )
        .replace("{push}", "    push: {branch: image-updates}\n")
    )
    (problem,) = problems_of(text)
    assert problem.startswith("a.yaml:14: metadata.annotations.image-automation.io/pr-draft")


def test_with_repo_the_forge_is_told_from_the_repo_url() -> None:
    text = flux(*opt_in(), url="https://git.example.com/o/r.git")
    assert problems_of(text, PlanContext(repo=RepoTarget(GITHUB, "main"))) == []
    plan = plan_of(text, PlanContext(repo=RepoTarget(GITHUB, "main")))
    assert plan.pull_request is not None and plan.pull_request.provider is None


def test_a_plan_error_is_a_config_error_for_callers_that_catch_those() -> None:
    plans = plan_automations(
        load_bytes(flux(*opt_in(), push="main").encode(), file="a.yaml"), PlanContext()
    )
    ((_, error),) = plans.errors
    assert isinstance(error, ConfigError)
    assert error.location is not None and error.location.line == ANNOTATION_LINE


@given(st.text(max_size=300))
def test_any_native_name_gives_a_default_branch_git_accepts(name: str) -> None:
    assert branch_problem(default_branch(name)) is None
