"""Property: in a random YAML document with one marked scalar, the edit changes the bytes
of that scalar's span and nothing else, and the document still means the same except there.

Documents mix plain and quoted scalars, CRLF, a BOM, comments, blank lines, anchors on
values (the marked one too), aliases and flow collections next to the real entries, and
markers at the end of the line or (sequence items) alone on the line above."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st
from ruamel.yaml import YAML

from image_automation.domain import ImageRef
from image_automation.manifests import apply_setters
from image_automation.manifests._scalars import plain_is_safe

_WORDS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzéü0123456789.-_/", min_size=1, max_size=12)
_KEYS = st.text(alphabet="abcdefghijklmnopqrstuvwxyzé_", max_size=8).map(lambda s: "k" + s)
_TAGS = st.from_regex(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,15}", fullmatch=True)
_MARKER = '# {"$imagepolicy": "ns:app:tag"}'

Tree = Any  # dict[str, Tree] | list[Tree] | str


@dataclass
class _Out:
    """Renders a tree as block YAML, remembering where the marked scalar's text is."""

    draw: Any
    newline: str
    indent: int
    marked: int  # index of the leaf to mark, in rendering order
    parts: list[str] = field(default_factory=list)
    leaf: int = 0
    span: tuple[int, int] | None = None
    path: list[Any] | None = None
    anchors: list[str] = field(default_factory=list)  # on unmarked scalars, for aliases

    def length(self) -> int:
        return sum(len(p) for p in self.parts)

    def scalar(self, value: str, path: list[Any], *, marked_above: bool = False) -> None:
        styles = ["'", '"'] + ([""] if plain_is_safe(value) else [])
        style = self.draw(st.sampled_from(styles))
        text = json.dumps(value, ensure_ascii=False) if style == '"' else value
        if style == "'":
            text = "'" + value.replace("'", "''") + "'"
        if self.draw(st.integers(0, 3)) == 0:  # an anchor right before the value
            anchor = "m" if self.leaf == self.marked else f"a{self.leaf}"
            self.parts.append(f"&{anchor} ")
            if anchor != "m":
                self.anchors.append(anchor)
        start = self.length()
        self.parts.append(text)
        if self.leaf == self.marked:
            self.span = (start, start + len(text))
            self.path = path
            if not marked_above:
                self.parts.append(self.draw(st.sampled_from([" ", "  ", "\t"])) + _MARKER)
        elif self.draw(st.booleans()):
            self.parts.append(" # just a comment: é")
        self.leaf += 1
        self.parts.append(self.draw(st.sampled_from(["", " ", "  "])) + self.newline)
        if self.draw(st.integers(0, 5)) == 0:
            self.parts.append(self.draw(st.sampled_from(["", "# note", "  "])) + self.newline)

    def node(self, tree: Tree, depth: int, path: list[Any]) -> None:
        pad = " " * (self.indent * depth)
        items = tree.items() if isinstance(tree, dict) else enumerate(tree)
        for key, child in items:
            is_item = not isinstance(tree, dict)
            above = False
            if is_item and isinstance(child, str) and self.leaf == self.marked:
                # Flux also reads a sequence item's marker alone on the line above.
                above = self.draw(st.booleans())
                if above:
                    self.parts.append(pad + _MARKER + self.newline)
            self.parts.append(f"{pad}-" if is_item else f"{pad}{key}:")
            if isinstance(child, str):
                self.parts.append(" ")
                self.scalar(child, [*path, key], marked_above=above)
            else:
                self.parts.append(self.newline)
                self.node(child, depth + 1, [*path, key])
        self.decoys(pad, is_map=isinstance(tree, dict))

    def decoys(self, pad: str, *, is_map: bool) -> None:
        """Aliases and flow collections after the real entries (indices stay valid)."""
        for n in range(self.draw(st.integers(0, 2))):
            lead = f"{pad}zdecoy{self.leaf}x{n}:" if is_map else f"{pad}-"
            choices = ['[a, "b", 1]', "{x: y, 'z': [1, 2]}"]
            choices += [f"*{a}" for a in self.anchors]
            decoy = self.draw(st.sampled_from(choices))
            self.parts.append(f"{lead} {decoy} # not a marker{self.newline}")


def _trees() -> st.SearchStrategy[Tree]:
    return st.recursive(
        _WORDS,
        lambda children: st.one_of(
            st.dictionaries(_KEYS, children, min_size=1, max_size=4),
            st.lists(children, min_size=1, max_size=4),
        ),
        max_leaves=12,
    ).filter(lambda t: not isinstance(t, str))


def _leaves(tree: Tree) -> int:
    if isinstance(tree, str):
        return 1
    children = tree.values() if isinstance(tree, dict) else tree
    return sum(_leaves(c) for c in children)


def _set(tree: Tree, path: list[Any], value: str) -> None:
    for key in path[:-1]:
        tree = tree[key]
    tree[path[-1]] = value


@settings(max_examples=200, deadline=None)
@given(tree=_trees(), tag=_TAGS, data=st.data())
def test_only_the_marked_scalar_changes(tree: Tree, tag: str, data: st.DataObject) -> None:
    out = _Out(
        draw=data.draw,
        newline=data.draw(st.sampled_from(["\n", "\r\n"])),
        indent=data.draw(st.sampled_from([2, 4])),
        marked=data.draw(st.integers(0, _leaves(tree) - 1)),
    )
    head = data.draw(st.sampled_from(["", "---" + out.newline, "# top" + out.newline]))
    out.parts.append(head)
    out.node(tree, 0, [])
    bom = data.draw(st.sampled_from(["", "\ufeff"]))
    text = "".join(out.parts)
    assert out.span is not None and out.path is not None
    before = (bom + text).encode()
    start = len((bom + text[: out.span[0]]).encode())
    end = len((bom + text[: out.span[1]]).encode())

    edit = apply_setters(
        before,
        file="doc.yaml",
        namespace="ns",
        policies={"app": ImageRef.parse(f"ghcr.io/org/app:{tag}")},
    )

    after = edit.new_bytes
    tail = len(before) - end
    assert after[:start] == before[:start]
    assert after[len(after) - tail :] == before[end:]
    yaml = YAML(typ="safe", pure=False)
    expected = yaml.load(before.decode("utf-8-sig"))
    _set(expected, out.path, tag)
    assert yaml.load(after.decode("utf-8-sig")) == expected
    assert edit.warnings == ()
