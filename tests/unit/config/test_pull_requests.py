"""spec.pullRequest and the Flux pull-request annotations: defaults, bounds, hostile values."""

from __future__ import annotations

import subprocess

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.models import ImageAutomation, NativePullRequest
from image_automation.config.pull_requests import (
    ANNOTATION_FIELDS,
    MAX_BRANCH_BYTES,
    PROVIDERS,
    PULL_REQUEST_ANNOTATION,
    PullRequestLimits,
    branch_problem,
    pull_request_from_annotations,
)
from image_automation.forges import PROVIDERS as FORGE_PROVIDERS

HEAD = """\
apiVersion: image-automation.io/v1alpha1
kind: ImageAutomation
metadata: {name: web, namespace: apps}
spec:
  pullRequest:
"""
FIRST_LINE = 6
"""The line of the first field inside ``pullRequest``."""


def native(*fields: str) -> str:
    return HEAD + "".join(f"    {f}\n" for f in fields)


def loaded(text: str) -> NativePullRequest | None:
    result = load_bytes(text.encode(), file="a.yaml")
    assert result.errors == [], result.errors
    (doc,) = result.documents
    assert isinstance(doc.obj, ImageAutomation)
    return doc.obj.spec.pull_request


def errors(text: str) -> list[str]:
    return [str(e) for e in load_bytes(text.encode(), file="a.yaml").errors]


def test_an_empty_block_switches_pull_requests_on_with_the_documented_defaults() -> None:
    for text in (HEAD.replace("pullRequest:\n", "pullRequest: {}\n"), HEAD):
        settings = loaded(text)
        assert settings == NativePullRequest()
        assert settings is not None
        assert settings.enabled is True
        assert settings.provider is None
        assert settings.api_url is None
        assert settings.secret_ref is None
        assert settings.branch is None
        assert settings.grouping == "automation"
        assert (settings.title, settings.body) == (None, None)
        assert (settings.labels, settings.reviewers, settings.assignees) == ([], [], [])
        assert settings.draft is False
        assert settings.auto_merge is None
        assert settings.limits == PullRequestLimits(per_hour=10, open=10)


def test_no_block_means_push_mode() -> None:
    text = HEAD.replace("  pullRequest:\n", "  interval: 5m\n")
    assert loaded(text) is None


def test_every_field_is_read_under_its_camel_case_name() -> None:
    settings = loaded(
        native(
            "enabled: true",
            "provider: gitea",
            "apiURL: https://git.example.com/api/v1/",
            "secretRef: {name: forge-token}",
            "branch: image-automation/web",
            "grouping: image",
            "title: 'chore: {{ title }}'",
            "body: |",
            "  line one",
            "  line two",
            "labels: [dependencies, 'good first issue']",
            "reviewers: [alice, org/platform, '{1b2c3d4e-0000-4000-8000-000000000000}']",
            "assignees: [bob]",
            "draft: true",
            "autoMerge: squash",
            "limits: {perHour: 3, open: 1000}",
        )
    )
    assert settings is not None
    assert settings.provider == "gitea"
    assert settings.api_url == "https://git.example.com/api/v1"  # trailing slash dropped
    assert settings.secret_ref is not None and settings.secret_ref.name == "forge-token"
    assert settings.branch == "image-automation/web"
    assert settings.grouping == "image"
    assert settings.title == "chore: {{ title }}"
    assert settings.body == "line one\nline two\n"
    assert settings.labels == ["dependencies", "good first issue"]
    assert settings.reviewers == ["alice", "org/platform", "{1b2c3d4e-0000-4000-8000-000000000000}"]
    assert settings.assignees == ["bob"]
    assert (settings.draft, settings.auto_merge) == (True, "squash")
    assert settings.limits == PullRequestLimits(per_hour=3, open=1000)


@pytest.mark.parametrize("value", ["false", "'false'", "null"])
def test_auto_merge_false_means_off(value: str) -> None:
    settings = loaded(native(f"autoMerge: {value}"))
    assert settings is not None and settings.auto_merge is None


def test_enabled_false_keeps_the_block_but_switches_it_off() -> None:
    settings = loaded(native("enabled: false"))
    assert settings is not None and settings.enabled is False


LONG = "x" * 5000
BAD = [
    # (field line(s), reported field, message fragment)
    (["branch: refs/heads/main"], "branch", "without 'refs/heads/'"),
    (["branch: refs/tags/v1"], "branch", "full ref"),
    (["branch: a..b"], "branch", "'..'"),
    (['branch: "a\\tb"'], "branch", "control"),
    (['branch: "a\\u0000b"'], "branch", "control"),
    (['branch: "caf\\u00e9"'], "branch", "non-ASCII"),
    (['branch: "a\\u202eb"'], "branch", "non-ASCII"),
    ([f"branch: {'b' * (MAX_BRANCH_BYTES + 1)}"], "branch", "over the 200 byte limit"),
    ([f"branch: {LONG}"], "branch", "5000 bytes"),
    (["branch: '-x'"], "branch", "start with '-'"),
    (["branch: 'a b'"], "branch", "git refuses"),
    (["branch: 'a~1'"], "branch", "git refuses"),
    (["branch: 'a:b'"], "branch", "git refuses"),
    (["branch: 'a*'"], "branch", "git refuses"),
    (["branch: 'a\\b'"], "branch", "git refuses"),
    (["branch: web.lock"], "branch", ".lock"),
    (["branch: a/.hidden"], "branch", "start with '.'"),
    (["branch: /a"], "branch", "'/'"),
    (["branch: a/"], "branch", "'/'"),
    (["branch: a//b"], "branch", "'//'"),
    (["branch: a."], "branch", "end with '.'"),
    (["branch: '@'"], "branch", "reserved"),
    (["branch: HEAD"], "branch", "reserved"),
    (["branch: 'a@{1}'"], "branch", "'@{'"),
    (["branch: ''"], "branch", "empty"),
    (["provider: gitbucket"], "provider", "must be 'github'"),
    (["provider: GitHub"], "provider", "must be 'github'"),
    (["apiURL: ftp://git.example.com"], "apiURL", "https://"),
    (["apiURL: https://alice:secret@git.example.com"], "apiURL", "credentials"),
    (["apiURL: https://git.example.com/api?x=1"], "apiURL", "query"),
    (["apiURL: https://git.example.com:99999"], "apiURL", "not a valid URL"),
    (["apiURL: 'https://git example.com'"], "apiURL", "spaces"),
    ([f"apiURL: https://{LONG}"], "apiURL", "over 2048"),
    (["secretRef: {name: ../etc}"], "secretRef.name", "secret name"),
    (["secretRef: {name: a/b}"], "secretRef.name", "secret name"),
    (["secretRef: {name: '..'}"], "secretRef.name", "secret name"),
    (["secretRef: {}"], "secretRef.name", "required"),
    (["secretRef: {name: a, key: b}"], "secretRef.key", "unknown field"),
    (["grouping: repository"], "grouping", "must be 'automation'"),
    ([f"title: {'t' * 1025}"], "title", "over the 1024 character limit"),
    (['title: "a\\u0000b"'], "title", "control character"),
    (['title: "a\\u001bb"'], "title", "control character"),
    ([f"body: {'b' * 16385}"], "body", "over the 16384 character limit"),
    ([f"labels: [{', '.join(f'l{i}' for i in range(21))}]"], "labels", "at most 20"),
    (["labels: ['a,b']"], "labels[0]", "comma"),
    (["labels: ['  ']"], "labels[0]", "blank"),
    ([f"labels: [{'l' * 101}]"], "labels[0]", "over 100"),
    (["labels: [a, a]"], "labels", "listed twice"),
    (["labels: [1]"], "labels[0]", "valid string"),
    (["labels: deps"], "labels", "valid list"),
    (["reviewers: ['a b']"], "reviewers[0]", "space"),
    (["reviewers: ['a,b']"], "reviewers[0]", "comma"),
    ([f"reviewers: [{'r' * 101}]"], "reviewers[0]", "1 to 100"),
    ([f"reviewers: [{', '.join(f'r{i}' for i in range(21))}]"], "reviewers", "at most 20"),
    (['assignees: ["a\\u0000"]'], "assignees[0]", "non-printable"),
    (['assignees: ["\\u00e9"]'], "assignees[0]", "non-printable"),
    (["assignees: ['']"], "assignees[0]", "1 to 100"),
    (["draft: 'yes'"], "draft", "valid boolean"),
    (["enabled: 'true'"], "enabled", "valid boolean"),
    (["autoMerge: true"], "autoMerge", "names no method"),
    (["autoMerge: fast-forward"], "autoMerge", "must be 'merge'"),
    (["limits: {perHour: -1}"], "limits.perHour", "greater than or equal to 1"),
    (["limits: {perHour: 0}"], "limits.perHour", "greater than or equal to 1"),
    (["limits: {open: -5}"], "limits.open", "greater than or equal to 1"),
    (["limits: {open: 1001}"], "limits.open", "less than or equal to 1000"),
    (["limits: {perHour: 99999999999999999999}"], "limits.perHour", "less than or equal"),
    (["limits: {perHour: '10'}"], "limits.perHour", "valid integer"),
    (["limits: {perHour: true}"], "limits.perHour", "valid integer"),
    (["limits: {open: 1.5}"], "limits.open", "valid integer"),
    (["limits: {perDay: 1}"], "limits.perDay", "unknown field"),
    (["nope: 1"], "nope", "unknown field"),
]


@pytest.mark.parametrize(("fields", "field", "fragment"), BAD)
def test_a_bad_value_is_an_error_at_its_own_line(
    fields: list[str], field: str, fragment: str
) -> None:
    found = errors(native("# the field below is on the second line", *fields))
    assert len(found) == 1, found
    (error,) = found
    assert error.startswith(f"a.yaml:{FIRST_LINE + 1}: spec.pullRequest.{field}: "), error
    assert fragment in error
    assert len(error) < 400  # a huge value is never echoed whole


def test_the_provider_list_is_the_forges_one() -> None:
    assert PROVIDERS == FORGE_PROVIDERS


# --- branch names: ours is git's rule plus a few of our own ---------------------------------

GIT_ACCEPTS = ["main", "image-automation/web", "a.b", "a_b", "x/y/z", "v1.2.3", "a-", "@x"]
GIT_REFUSES = [
    "a..b", "a b", "a~b", "a^b", "a:b", "a?b", "a*b", "a[b", "a\\b", "/a", "a/", "a//b",
    "a.", "a.lock", "a/.b", ".a", "a@{b", "a\tb", "a\x7fb",
]  # fmt: skip
OURS_ONLY = ["-x", "@", "HEAD", "refs/heads/main", "caf\u00e9", "a\u202eb", "b" * 201]


def git_accepts(name: str) -> bool:
    check = subprocess.run(
        ["git", "check-ref-format", f"refs/heads/{name}"], capture_output=True, check=False
    )
    return check.returncode == 0


@pytest.mark.parametrize("name", GIT_ACCEPTS)
def test_a_name_git_takes_is_a_valid_branch(name: str) -> None:
    assert git_accepts(name)
    assert branch_problem(name) is None


@pytest.mark.parametrize("name", GIT_REFUSES)
def test_a_name_git_refuses_is_refused(name: str) -> None:
    assert not git_accepts(name)
    assert branch_problem(name) is not None


@pytest.mark.parametrize("name", OURS_ONLY)
def test_names_git_would_take_but_a_reviewer_should_not_see_are_refused(name: str) -> None:
    assert branch_problem(name) is not None


# --- Flux annotations -----------------------------------------------------------------------

P = "image-automation.io/"


def annotated(**pairs: object) -> dict[str, object]:
    return {
        PULL_REQUEST_ANNOTATION: "true",
        **{P + k.replace("_", "-"): v for k, v in pairs.items()},
    }


@pytest.mark.parametrize(
    ("pairs", "attribute", "expected"),
    [
        ({"forge": "gitlab"}, "provider", "gitlab"),
        ({"forge_api_url": "https://git.example.com/api/v4"}, "api_url", "https://git.example.com/api/v4"),
        ({"pr_grouping": "policy"}, "grouping", "policy"),
        ({"pr_labels": " deps , images,,"}, "labels", ["deps", "images"]),
        ({"pr_reviewers": "alice,org/team"}, "reviewers", ["alice", "org/team"]),
        ({"pr_assignees": "bob"}, "assignees", ["bob"]),
        ({"pr_draft": "true"}, "draft", True),
        ({"pr_draft": "false"}, "draft", False),
        ({"pr_auto_merge": "rebase"}, "auto_merge", "rebase"),
        ({"pr_auto_merge": "false"}, "auto_merge", None),
        ({"pr_title": "chore: {{ x }}"}, "title", "chore: {{ x }}"),
    ],
)  # fmt: skip
def test_each_annotation_sets_its_setting(
    pairs: dict[str, str], attribute: str, expected: object
) -> None:
    result = pull_request_from_annotations(annotated(**pairs))
    assert result.errors == ()
    assert result.opted_in
    assert result.settings is not None
    assert getattr(result.settings, attribute) == expected


def test_the_forge_secret_annotation_names_the_token_secret() -> None:
    result = pull_request_from_annotations(annotated(forge_secret="gitlab-api"))
    assert result.settings is not None
    assert result.settings.secret_ref is not None
    assert result.settings.secret_ref.name == "gitlab-api"


def test_every_documented_annotation_is_known() -> None:
    names = {k.removeprefix(P) for k in ANNOTATION_FIELDS}
    assert names == {
        "forge", "forge-api-url", "forge-secret", "pr-grouping", "pr-labels", "pr-reviewers",
        "pr-assignees", "pr-draft", "pr-auto-merge", "pr-title",
    }  # fmt: skip


@pytest.mark.parametrize(
    "annotations",
    [None, {}, [], "text", {"other.io/x": "1"}, {PULL_REQUEST_ANNOTATION: "false"}],
)
def test_without_the_opt_in_there_is_no_pull_request(annotations: object) -> None:
    result = pull_request_from_annotations(annotations)
    assert (result.settings, result.errors, result.opted_in) == (None, (), False)


@pytest.mark.parametrize(
    ("annotations", "key", "fragment"),
    [
        ({PULL_REQUEST_ANNOTATION: "yes"}, "pull-request", '"true" or "false"'),
        ({PULL_REQUEST_ANNOTATION: "True"}, "pull-request", '"true" or "false"'),
        ({PULL_REQUEST_ANNOTATION: True}, "pull-request", "must be a string"),
        ({PULL_REQUEST_ANNOTATION: "x" * 100_000}, "pull-request", "over the 4096"),
        (annotated(forge="gitbucket"), "forge", "must be 'github'"),
        (annotated(forge_api_url="https://u:p@h"), "forge-api-url", "credentials"),
        (annotated(forge_secret="../x"), "forge-secret", "secret name"),
        (annotated(pr_grouping="team"), "pr-grouping", "must be 'automation'"),
        (annotated(pr_labels=",".join(f"l{i}" for i in range(21))), "pr-labels", "at most 20"),
        (annotated(pr_labels="a,a"), "pr-labels", "listed twice"),
        (annotated(pr_labels="a\x00b"), "pr-labels", "entry 1: label"),
        (annotated(pr_reviewers="alice, bob smith"), "pr-reviewers", "entry 2: user"),
        (annotated(pr_assignees=1), "pr-assignees", "must be a string"),
        (annotated(pr_draft="1"), "pr-draft", '"true" or "false"'),
        (annotated(pr_auto_merge="true"), "pr-auto-merge", "must be 'merge'"),
        (annotated(pr_title="t" * 2000), "pr-title", "over the 1024"),
        (annotated(pr_lables="a"), "pr-lables", "unknown annotation"),
        (annotated(forge_url="https://x"), "forge-url", "unknown annotation"),
        ({P + "pull-requests": "true"}, "pull-requests", "unknown annotation"),
        ({P + "pr-labels": "a"}, "pr-labels", "has no effect without"),
    ],
)  # fmt: skip
def test_a_bad_annotation_is_reported_under_its_own_key(
    annotations: dict[str, object], key: str, fragment: str
) -> None:
    result = pull_request_from_annotations(annotations)
    assert result.settings is None
    assert [k for k, _ in result.errors] == [P + key], result.errors
    message = result.errors[0][1]
    assert fragment in message
    assert len(message) < 400


def test_every_bad_annotation_is_reported_not_just_the_first() -> None:
    result = pull_request_from_annotations(
        annotated(pr_draft="maybe", pr_labels="a,a", forge="nope", pr_typo="x")
    )
    assert sorted(k.removeprefix(P) for k, _ in result.errors) == [
        "forge", "pr-draft", "pr-labels", "pr-typo",
    ]  # fmt: skip
    assert result.opted_in


def test_other_annotations_are_left_alone() -> None:
    result = pull_request_from_annotations(
        {**annotated(), "kustomize.toolkit.fluxcd.io/prune": "disabled", P + "owner": "x"}
    )
    assert result.errors == ()
    assert result.settings == NativePullRequest()
