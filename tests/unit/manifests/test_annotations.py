"""Setting and removing the hold annotation: byte-minimal, round-trips, refuses the unsafe."""

from __future__ import annotations

import pytest
from ruamel.yaml import YAML

from image_automation.manifests.annotations import remove_annotation, set_annotation

KEY = "image-automation.io/hold"
WHERE = {"kind": "TrackedImage", "name": "app", "namespace": "apps"}

LAYOUTS = {
    "flow_metadata": "kind: TrackedImage\nmetadata: {name: app, namespace: apps}\nspec: {}\n",
    "block_metadata": "kind: TrackedImage\nmetadata:\n  name: app\n  namespace: apps\nspec: {}\n",
    "block_annotations": (
        "kind: TrackedImage\nmetadata:\n    name: app\n    namespace: apps\n"
        "    annotations:\n        other: x\nspec: {}\n"
    ),
    "flow_annotations": (
        "kind: TrackedImage\nmetadata:\n  annotations: {other: x}\n  name: app\n  namespace: apps\n"
    ),
    "crlf": "kind: TrackedImage\r\nmetadata:\r\n  name: app\r\n  namespace: apps\r\n",
    "no_final_newline": "kind: TrackedImage\nmetadata:\n  name: app\n  namespace: apps",
    "non_ascii_before": (
        "# café 😀\nkind: TrackedImage\nmetadata: {name: app, namespace: apps, x: ü}\n"
    ),
    "second_document": (
        "kind: ImageAutomation\nmetadata: {name: app, namespace: apps}\n---\n"
        "# the policy\nkind: TrackedImage\nmetadata:\n  labels:\n    a: b\n  name: app\n"
        "  namespace: apps\n"
    ),
}


@pytest.mark.parametrize("layout", sorted(LAYOUTS))
def test_set_then_remove_gives_back_the_file_byte_for_byte(layout: str) -> None:
    before = LAYOUTS[layout]
    edited = set_annotation(before, **WHERE, key=KEY, value="1.1.0 (from 1.2.0)")
    assert edited is not None
    docs = list(YAML(typ="safe").load_all(edited))
    policy = next(d for d in docs if d["kind"] == "TrackedImage")
    assert policy["metadata"]["annotations"][KEY] == "1.1.0 (from 1.2.0)"
    assert len(edited.splitlines()) - len(before.splitlines()) <= 2
    assert remove_annotation(edited, **WHERE, key=KEY) == before


@pytest.mark.parametrize(
    "value", ['a "quoted" \\ value', "line\nbreak: injected\n- x", "x" * 100_000, "\x00\x1b"]
)
def test_a_hostile_value_stays_one_scalar(value: str) -> None:
    edited = set_annotation(LAYOUTS["block_metadata"], **WHERE, key=KEY, value=value)
    assert edited is not None
    loaded = YAML(typ="safe").load(edited)
    assert loaded["metadata"]["annotations"] == {KEY: value}
    assert set(loaded) == {"kind", "metadata", "spec"}


def test_setting_again_replaces_only_the_value() -> None:
    once = set_annotation(LAYOUTS["block_metadata"], **WHERE, key=KEY, value="one")
    assert once is not None
    twice = set_annotation(once, **WHERE, key=KEY, value="two")
    assert twice == once.replace('"one"', '"two"')


@pytest.mark.parametrize(
    "text",
    [
        "kind: TrackedImage\nmetadata: {name: other, namespace: apps}\n",  # another policy
        "kind: TrackedImage\nmetadata: {name: app, namespace: elsewhere}\n",
        "kind: TrackedImage\nmetadata:\n  name: app\n  namespace: apps\n  annotations:\n",
        "kind: TrackedImage\nmetadata: [name, app]\n",
        "kind: [unclosed\n",
        "[" * 5000 + "]" * 5000,  # deep
        "kind: TrackedImage\nmetadata: {name: app, namespace: apps}\nl0: &l0 [x, x, x, x, x]\n"
        + "".join(f"l{i}: &l{i} [{', '.join([f'*l{i - 1}'] * 9)}]\n" for i in range(1, 9)),
        "",
    ],
)
def test_no_safe_edit_gives_none(text: str) -> None:
    assert set_annotation(text, **WHERE, key=KEY, value="v") is None
    assert remove_annotation(text, **WHERE, key=KEY) is None
