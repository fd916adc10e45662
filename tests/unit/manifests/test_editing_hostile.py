"""The editor walks parser events and never expands an alias: hostile files edit as others."""

from __future__ import annotations

from image_automation.domain import ImageRef
from image_automation.manifests import apply_setters
from tests.e2e.hostile_yaml import billion_laughs

MARK = '# {"$imagepolicy": "ns:app"}'
POLICIES = {"app": ImageRef.parse("ghcr.io/org/app:2.0")}


def test_a_marked_value_next_to_an_alias_bomb_and_a_redefined_anchor_is_set() -> None:
    text = (
        billion_laughs(head="")
        + "x: &dup 1\ny: &dup 2\nz: *dup\n"
        + f"image: ghcr.io/org/app:1.0 {MARK}\n"
    )
    edit = apply_setters(text.encode(), file="f.yaml", namespace="ns", policies=POLICIES)
    assert edit.new_bytes.decode() == text.replace("app:1.0", "app:2.0")
    assert [c.line for c in edit.changes] == [text.count("\n")]
