"""Hostile and unusual policy files: refused at their line, and never at the others' cost."""

from __future__ import annotations

import pytest

from image_automation.config.loading import load_bytes
from image_automation.config.models import ImagePolicy, ImageRepository
from tests.unit.config.test_loading import POLICY, REPO
from tests.unit.config.test_safe_yaml import laughs

HEAD = "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\nmetadata: {name: lol}\n"


@pytest.mark.parametrize(
    ("hostile", "message"),
    [
        (laughs(9, head=HEAD), "f.yaml:18: too many aliases"),  # at the first *e in f:
        (HEAD + "spec: &s {x: *s}\n", "f.yaml:13: alias *s is inside the node it names"),
        (HEAD + "spec: " + "[" * 100_000 + "]" * 100_000 + "\n", "f.yaml:13: nested more than"),
    ],
    ids=["billion-laughs", "cycle", "deep"],
)
def test_a_hostile_document_is_refused_and_the_others_load(hostile: str, message: str) -> None:
    text = f"{REPO}---\n{hostile}---\n{POLICY}"
    result = load_bytes(text.encode(), file="f.yaml")
    assert [str(e)[: len(message)] for e in result.errors] == [message]
    assert [type(d.obj) for d in result.documents] == [ImageRepository, ImagePolicy]


def test_an_unterminated_quote_is_reported_where_it_opens() -> None:
    text = REPO.replace("interval: 5m", 'interval: "5m') + "  suspend: false\n  insecure: true\n"
    [error] = load_bytes(text.encode(), file="f.yaml").errors
    assert str(error) == "f.yaml:8: not valid YAML: a quoted scalar starts here and is never closed"


def test_an_anchor_defined_twice_is_valid_and_the_later_one_wins() -> None:
    text = (
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImageRepository\n"
        "metadata: {name: &n first, namespace: &n apps}\n"
        "spec: {image: ghcr.io/org/app}\n"
        "---\n"
        "apiVersion: image.toolkit.fluxcd.io/v1\nkind: ImagePolicy\n"
        "metadata: {name: &n app, namespace: &n apps}\n"
        "spec:\n  imageRepositoryRef: {name: *n}\n  policy: {semver: {range: '>=1.0.0'}}\n"
    )
    result = load_bytes(text.encode(), file="f.yaml")
    assert result.errors == []
    repo, policy = (d.obj for d in result.documents)
    assert isinstance(repo, ImageRepository) and isinstance(policy, ImagePolicy)
    assert repo.metadata.namespace == "apps"
    assert policy.spec.image_repository_ref.name == "apps"  # the second &n of its document
