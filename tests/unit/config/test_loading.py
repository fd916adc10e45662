"""Policy files load into models; every problem is reported as file:line: field: message."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from image_automation.config.loading import load_bytes, load_paths
from image_automation.config.models import (
    ImagePolicy,
    ImageRepository,
    ImageUpdateAutomation,
    TrackedImage,
    parse_duration,
)
from image_automation.config.resolving import resolve
from image_automation.errors import ConfigError

REPO = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageRepository
metadata:
  name: podinfo
  namespace: apps
spec:
  image: ghcr.io/stefanprodan/podinfo
  interval: 5m
"""

POLICY = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImagePolicy
metadata:
  name: podinfo
  namespace: apps
spec:
  imageRepositoryRef:
    name: podinfo
  policy:
    semver:
      range: '>=6.0.0'
"""


def errors_of(text: str) -> list[str]:
    return [str(e) for e in load_bytes(text.encode(), file="f.yaml").errors]


def test_flux_documents_load_with_their_defaults() -> None:
    result = load_bytes(f"{REPO}---\n{POLICY}".encode(), file="f.yaml")
    assert result.errors == []
    repo, policy = (d.obj for d in result.documents)
    assert isinstance(repo, ImageRepository)
    assert isinstance(policy, ImagePolicy)
    assert repo.spec.interval == timedelta(minutes=5)
    assert repo.spec.exclusions == (r"^.*\.sig$",)
    assert policy.spec.policy.semver is not None
    assert policy.spec.policy.semver.range == ">=6.0.0"
    assert [d.line for d in result.documents] == [1, 10]


def test_user_exclusion_list_replaces_the_default() -> None:
    text = REPO + "  exclusionList: ['^.*-rc$']\n"
    (doc,) = load_bytes(text.encode(), file="f.yaml").documents
    assert isinstance(doc.obj, ImageRepository)
    assert doc.obj.spec.exclusions == ("^.*-rc$",)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (REPO + "  colour: blue\n", "f.yaml:9: spec.colour: unknown field"),
        (REPO.replace("5m", "5 minutes"), "f.yaml:8: spec.interval: invalid duration"),
        (REPO.replace("  image: ghcr.io/stefanprodan/podinfo\n", ""), "f.yaml:6: spec.image:"),
        (
            POLICY.replace("semver:\n      range: '>=6.0.0'", "numerical:\n      order: up"),
            "f.yaml:11: spec.policy.numerical.order: must be 'asc' or 'desc'",
        ),
        (
            POLICY + "  digestReflectionPolicy: Always\n",
            "f.yaml:6: spec: interval is required when digestReflectionPolicy is Always",
        ),
        ("key: [unclosed\n", "f.yaml:1: not valid YAML: a flow sequence starts here and is never"),
        ("a: 1\na: 2\n", "f.yaml:2: not valid YAML"),
        (
            REPO.replace("image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v9"),
            "f.yaml:1: apiVersion: unsupported apiVersion/kind",
        ),
    ],
)
def test_errors_name_file_line_and_field(text: str, expected: str) -> None:
    errors = errors_of(text)
    assert len(errors) == 1, errors
    assert errors[0].startswith(expected), errors


def test_one_bad_document_never_stops_the_others() -> None:
    text = f"{REPO}---\nkey: [unclosed\n---\n{POLICY}"
    result = load_bytes(text.encode(), file="f.yaml")
    assert [type(d.obj) for d in result.documents] == [ImageRepository, ImagePolicy]
    assert [str(e) for e in result.errors] == [
        "f.yaml:10: not valid YAML: a flow sequence starts here and is never closed"
    ]


def test_v1beta2_is_accepted_with_a_deprecation_warning() -> None:
    text = REPO.replace("image.toolkit.fluxcd.io/v1", "image.toolkit.fluxcd.io/v1beta2")
    result = load_bytes(text.encode(), file="f.yaml")
    assert len(result.documents) == 1
    assert result.warnings == [
        "f.yaml:1: apiVersion: image.toolkit.fluxcd.io/v1beta2 is deprecated; "
        "use image.toolkit.fluxcd.io/v1 (accepted as is)"
    ]


def test_other_kinds_and_plain_yaml_are_ignored() -> None:
    text = "apiVersion: apps/v1\nkind: Deployment\nmetadata: {name: x}\n---\n- a\n---\nplain\n"
    result = load_bytes(text.encode(), file="f.yaml")
    assert (result.documents, result.errors) == ([], [])


def test_bom_and_crlf_files_load() -> None:
    data = b"\xef\xbb\xbf" + REPO.replace("\n", "\r\n").encode()
    result = load_bytes(data, file="f.yaml")
    assert result.errors == []
    assert len(result.documents) == 1


def test_native_and_automation_kinds_load() -> None:
    native = """\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: app, namespace: apps}
spec:
  image: nginx
  select:
    semver: {range: '~1.25', strict: false}
  suffix: -alpine
  minAge: 1d
  deny: ['^1\\.25\\.3']
"""
    automation = """\
apiVersion: image.toolkit.fluxcd.io/v1
kind: ImageUpdateAutomation
metadata: {name: auto, namespace: apps}
spec:
  interval: 30m
  sourceRef: {kind: GitRepository, name: flux-system}
  git:
    checkout: {ref: {branch: main}}
    commit: {author: {email: bot@example.com, name: bot}}
    push: {branch: main}
  update: {path: ./clusters, strategy: Setters}
"""
    result = load_bytes(f"{native}---\n{automation}".encode(), file="f.yaml")
    assert result.errors == []
    tracked, auto = (d.obj for d in result.documents)
    assert isinstance(tracked, TrackedImage)
    assert tracked.spec.min_age == timedelta(days=1)
    assert isinstance(auto, ImageUpdateAutomation)
    assert auto.spec.update.path == "./clusters"


def test_directories_are_walked_for_yaml_files(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "repo.yaml").write_text(REPO)
    (tmp_path / "policy.yml").write_text(POLICY)
    (tmp_path / "notes.txt").write_text("kind: ImagePolicy")
    (tmp_path / ".hidden").mkdir()
    (tmp_path / ".hidden" / "x.yaml").write_text("bad: [")
    result = load_paths([tmp_path])
    assert result.errors == []
    assert sorted(type(d.obj).__name__ for d in result.documents) == [
        "ImagePolicy",
        "ImageRepository",
    ]


def test_missing_path_is_an_error(tmp_path: Path) -> None:
    result = load_paths([tmp_path / "nope"])
    assert [e.location.file if e.location else "" for e in result.errors] == [
        str(tmp_path / "nope")
    ]


@pytest.mark.parametrize(
    ("text", "seconds"),
    [("5m", 300), ("1h30m", 5400), ("90s", 90), ("1.5h", 5400), ("0", 0), ("2d", 172800)],
)
def test_durations_follow_go_syntax_plus_days(text: str, seconds: float) -> None:
    assert parse_duration(text).total_seconds() == seconds


@pytest.mark.parametrize(
    "text",
    ["", "5", "m", "5mm", "1h 30m", "-5m", "five minutes", "9" * 400 + "h", "99999999999d"],
)
def test_bad_durations_are_rejected(text: str) -> None:
    with pytest.raises(ValueError):
        parse_duration(text)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=400))
def test_random_bytes_never_raise_anything_but_our_error_type(data: bytes) -> None:
    try:
        result = load_bytes(data, file="random.yaml")
    except ConfigError:
        return
    assert all(isinstance(e, ConfigError) for e in result.errors)


YAMLISH = st.text(alphabet=st.sampled_from("ab:- \n[]{}'\"#&*!|>%@`,?.0\t"), max_size=200)


@settings(max_examples=300, deadline=None)
@given(YAMLISH)
def test_random_yamlish_text_never_raises(text: str) -> None:
    prefix = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
    result = load_bytes((prefix + text).encode(), file="random.yaml")
    assert all(isinstance(e, ConfigError) for e in result.errors)


NATIVE = """\
apiVersion: image-automation.io/v1alpha1
kind: TrackedImage
metadata: {name: app}
spec:
  image: nginx
  select:
    semver: {range: '1.x'}
  deny:
    - ok
    - '(?<=x)'
"""


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (NATIVE, "f.yaml:10: spec.deny[1]: "),
        (
            NATIVE.replace("'1.x'", "'>>1'").replace("    - '(?<=x)'\n", ""),
            "f.yaml:7: spec.select.semver.range: ",
        ),
        (
            REPO + "  exclusionList: ['(?<=x)']\n---\n" + POLICY,
            "f.yaml:9: spec.exclusionList[0]: ",
        ),
        (
            REPO + "---\n" + POLICY + "  filterTags: {pattern: '^(?P<v>.*)$', extract: '$nope'}\n",
            "f.yaml:21: spec.filterTags.extract: ",
        ),
        (REPO.replace("podinfo\n  interval", "podinfo:1.0\n  interval"), "f.yaml:7: spec.image: "),
    ],
)
def test_semantic_errors_point_at_the_field(text: str, expected: str) -> None:
    resolved = resolve(load_bytes(text.encode(), file="f.yaml"))
    assert [str(e)[: len(expected)] for e in resolved.errors] == [expected], resolved.errors
    assert resolved.policies == []


def test_policies_resolve_to_specs_with_the_repository_exclusions() -> None:
    text = REPO + "  exclusionList: ['^x']\n---\n" + POLICY
    (policy,) = resolve(load_bytes(text.encode(), file="f.yaml")).policies
    assert policy.key == "apps/podinfo"
    assert policy.spec.exclusion == ("^x",)
    assert policy.spec.semver_range == ">=6.0.0"
    assert str(policy.image) == "ghcr.io/stefanprodan/podinfo"
