"""Hostile write-back targets: a values file, override file or kustomization that is huge,
deep, aliased, malformed or of the wrong shape, and Helm key paths that lead nowhere, are
refused with a ManifestError naming the file (and line or key) and never half-edited."""

from __future__ import annotations

from typing import Any

import pytest

from image_automation.errors import ManifestError
from image_automation.manifests.argocd_writeback import (
    ImageWrite,
    edit_helm_values,
    edit_kustomization,
    edit_override,
)
from tests.e2e.hostile_yaml import billion_laughs

WEB = ImageWrite("argocd:u/web/web", "ghcr.io/org/web", "1.1.0")


def _keys(name: str, tag: str = "image.tag") -> ImageWrite:
    return ImageWrite(WEB.setter, WEB.name, WEB.tag, helm_name=name, helm_tag=tag)


VALUES = "image:\n  name: ghcr.io/org/web\n  tag: 1.0.0\n"
DEEP = "".join("  " * i + "a:\n" for i in range(300)) + "  " * 300 + "x: 1\n"

HELM = [
    # the file itself
    (billion_laughs(""), WEB, "too many aliases"),
    ("[" * 5000 + "]" * 5000, WEB, "nested more than"),
    (DEEP, _keys("a." * 300 + "x"), "nested more than"),
    ("a: [\n", WEB, "values.yaml"),
    ("image: {name: x}\n---\nimage: {}\n", WEB, "expected one YAML document"),
    ("- image\n", WEB, "no key image"),
    ("just a string\n", WEB, "no key image"),
    ("", WEB, "no key image"),
    # key paths that lead nowhere, or to what is not a value
    (VALUES, _keys("image..name"), "no key image."),
    (VALUES, _keys("image.name.deeper"), "no key image.name.deeper"),
    (VALUES, _keys("x" * 5000), "no key xxxx"),
    (VALUES, _keys(".".join(["image"] * 1000)), "no key image.image"),
    (VALUES, _keys("image"), "is a mapping or list, not a value"),
    ("image: &i\n  name: a\n  tag: b\nother: *i\n", _keys("other.name", "other.tag"),
     "other: is an alias"),
    ("image: &i\n  name: a\n  tag: b\nother: *i\n", _keys("image.name", "other.tag"),
     "other: is an alias"),
    ("base: &t 1.0.0\nimage:\n  name: ghcr.io/org/web\n  tag: *t\n", WEB, "is an alias"),
    ("image:\n  name: ghcr.io/org/web\n  tag: |\n    1.0.0\n", WEB, "block scalar"),
]  # fmt: skip


@pytest.mark.parametrize(("text", "image", "message"), HELM)
def test_a_hostile_values_file_or_key_path_is_refused_naming_the_file(
    text: str, image: ImageWrite, message: str
) -> None:
    data = text.encode()
    with pytest.raises(ManifestError) as caught:
        edit_helm_values(data, file="values.yaml", images=[image])
    assert str(caught.value).startswith("values.yaml"), caught.value
    assert message in str(caught.value), caught.value


OVERRIDE = [
    ("- a\n", "helm", "not a mapping of override fields"),
    ("helm: [1]\n", "helm", "helm is not a mapping"),
    ("helm:\n  parameters: {a: 1}\n", "helm", "helm.parameters is not a list"),
    ("helm:\n  parameters:\n  - name: image.tag\n", "helm", "parameter image.tag has no value"),
    ("helm:\n  parameters: [{name: image.tag, value: '1'}]\n", "helm", "flow style"),
    ("kustomize:\n  images: x\n", "kustomize", "kustomize.images is not a list"),
    (billion_laughs(""), "helm", "too many aliases"),
    ("\xff\xfe", "helm", "UTF-16"),
    ("\xc3\x28", "helm", "UTF-8"),
]


@pytest.mark.parametrize(("text", "app_type", "message"), OVERRIDE)
def test_a_hostile_override_file_is_refused_naming_the_file(
    text: str, app_type: str, message: str
) -> None:
    data = text.encode("latin-1") if text[:1] in "\xff\xc3" else text.encode()
    with pytest.raises(ManifestError) as caught:
        edit_override(data, file=".argocd-source-web.yaml", app_type=app_type, images=[WEB])
    assert str(caught.value).startswith(".argocd-source-web.yaml"), caught.value
    assert message in str(caught.value), caught.value


KUSTOMIZATION = [
    ("- a\n", "not a kustomization"),
    ("images: {a: 1}\n", "images is not a list"),
    ("images: [{name: other}]\n", "flow style"),  # an entry to add to a flow list
    ("images:\n- name: ghcr.io/org/web\n  digest: sha256:" + "a" * 64 + "\n", "pins a digest"),
    ("images:\n- name: ghcr.io/org/web\n  newTag:\n    nested: 1\n", "not a value"),
    (billion_laughs(""), "too many aliases"),
    ("images:\n" + "- name: x\n" * 1 + "  newTag: [" * 300 + "\n", "kustomization.yaml"),
]


@pytest.mark.parametrize(("text", "message"), KUSTOMIZATION)
def test_a_hostile_kustomization_is_refused_naming_the_file(text: str, message: str) -> None:
    with pytest.raises(ManifestError) as caught:
        edit_kustomization(text.encode(), file="kustomization.yaml", images=[WEB])
    assert str(caught.value).startswith("kustomization.yaml"), caught.value
    assert message in str(caught.value), caught.value


def test_a_huge_values_file_is_edited_at_the_key_alone() -> None:
    """Size alone is no reason to refuse (the reader bounds it by bytes): 20 000 other keys
    stay byte-identical around the one value set."""
    filler = "".join(f"k{i}: v{i}  # c{i}\n" for i in range(20_000))
    data = (filler + VALUES).encode()
    edit = edit_helm_values(data, file="values.yaml", images=[WEB])
    assert edit.new_bytes == data.replace(b"tag: 1.0.0", b"tag: 1.1.0")


@pytest.mark.parametrize(
    ("edit", "before", "after"),
    [
        (edit_helm_values, "image: {name: ghcr.io/org/web, tag: 1.0.0}  # c\n",
         "image: {name: ghcr.io/org/web, tag: 1.1.0}  # c\n"),
        (edit_kustomization, "images: [{name: ghcr.io/org/web, newTag: '1.0.0'}]\n",
         "images: [{name: ghcr.io/org/web, newTag: '1.1.0'}]\n"),
    ],
)  # fmt: skip
def test_a_value_in_flow_style_is_set_in_place(edit: Any, before: str, after: str) -> None:
    """Only adding to a flow collection is refused; a scalar in one is replaced in place."""
    result = edit(before.encode(), file="f.yaml", images=[WEB])
    assert result.new_bytes.decode() == after
