"""The one YAML reader: bounded aliases and nesting, later anchors win, errors at file:line."""

from __future__ import annotations

import itertools
from pathlib import Path
from typing import Any

import pytest
from ruamel.yaml import YAML

from image_automation.config.safe_yaml import MAX_ALIAS_NODES, MAX_DEPTH, load_all, load_one
from image_automation.errors import ConfigError


def laughs(levels: int = 9, *, head: str = "") -> str:
    """The classic billion laughs: each level lists the previous one nine times."""
    lines = [head + 'a: &a ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    names = "abcdefghijklmnopqrstuvwxyz"
    for prev, name in itertools.pairwise(names[:levels]):
        lines.append(f"{name}: &{name} [" + ",".join([f"*{prev}"] * 9) + "]")
    return "\n".join(lines) + "\n"


def value(text: str) -> Any:
    return load_one(text, file="f.yaml")


def refusal(text: str) -> str:
    with pytest.raises(ConfigError) as info:
        load_all(text, file="f.yaml")
    return str(info.value)


def test_billion_laughs_is_refused_at_the_alias_that_crosses_the_bound() -> None:
    # a..d expand to ~7.4k nodes, e adds ~66k, the first *e in f crosses 100k.
    message = refusal(laughs(9))
    assert message == f"f.yaml:6: too many aliases: they expand to over {MAX_ALIAS_NODES} nodes"


def test_lines_count_from_the_offset_of_the_slice_parsed() -> None:
    with pytest.raises(ConfigError, match=r"^f\.yaml:16: too many aliases"):
        load_all(laughs(9), file="f.yaml", line_offset=10)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x [*x]\n", "f.yaml:1: alias *x is inside the node it names (a cycle)"),
        ("a:\n  b: &x {c: *x}\n", "f.yaml:2: alias *x is inside the node it names (a cycle)"),
        ("a: 1\nb: *nope\n", "f.yaml:2: alias *nope names no anchor before it"),
        ("a: &x 1\n---\nb: *x\n", "f.yaml:3: alias *x names no anchor before it"),
        ("a: " + "[" * (MAX_DEPTH + 1) + "]" * (MAX_DEPTH + 1) + "\n",
         f"f.yaml:1: nested more than {MAX_DEPTH} levels deep"),
        ("a: " + "[" * 300_000 + "]" * 300_000 + "\n",  # ruamel's C composer segfaults here
         f"f.yaml:1: nested more than {MAX_DEPTH} levels deep"),
        ('a: 1\nb: "never\nc: 2\nd: 3\n',
         "f.yaml:2: not valid YAML: a quoted scalar starts here and is never closed"),
        ("a: 1\nb: [1, 2,\nc: 2\n",
         "f.yaml:2: not valid YAML: a flow sequence starts here and is never closed"),
        ("a: 1\n  b: 2\n", "f.yaml:2: not valid YAML: mapping values are not allowed"),
        ("a: 1\na: 2\n", "f.yaml:2: not valid YAML: "),
        ("a: !custom 1\n", "f.yaml:1: not valid YAML: "),
    ],
)  # fmt: skip
def test_hostile_and_broken_text_is_refused_at_its_line(text: str, expected: str) -> None:
    assert refusal(text).startswith(expected)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("a: &x 1\nb: &x 2\nc: *x\n", {"a": 1, "b": 2, "c": 2}),
        ("a: &x [1]\nb: &x [2]\nc: *x\n", {"a": [1], "b": [2], "c": [2]}),
        ("a: &x [&x 1]\nb: *x\n", {"a": [1], "b": 1}),  # the inner anchor comes later
        ("base: &b {x: 1}\nm:\n  <<: *b\n  y: 2\n", {"base": {"x": 1}, "m": {"x": 1, "y": 2}}),
        (laughs(3), {"a": ["lol"] * 9, "b": [["lol"] * 9] * 9, "c": [[["lol"] * 9] * 9] * 9}),
    ],
)
def test_aliases_within_bounds_and_redefined_anchors_load(text: str, expected: Any) -> None:
    assert value(text) == expected


def test_aliases_share_one_object_rather_than_copying_it() -> None:
    data = value("a: &x {k: [1, 2]}\nb: *x\n")
    assert data["a"] is data["b"]


SCALARS = (
    "a: yes\nb: no\nc: on\nd: 0o12\ne: 012\nf: 1_000\ng: .inf\nh: ~\ni: null\nj: 2001-12-14\n"
    "k: 1e3\nl: 0x1F\nm: !!str 12\nn: '12'\no: 1.0\np: -.5\nq: True\nr: NULL\ns: ''\n"
    "t: !!binary aGk=\nu: |\n  block\nv: >-\n  folded\n  text\nw: [1, {x: y}]\n"
)


@pytest.mark.parametrize("text", [SCALARS, "%YAML 1.1\n---\n" + SCALARS, "", "---\n", "# c\n"])
def test_values_are_those_ruamels_own_safe_loader_gives(text: str) -> None:
    yaml = YAML(typ="safe", pure=False)
    expected = [yaml.constructor.construct_document(n) for n in yaml.compose_all(text)]
    assert [v for _, v in load_all(text, file="f.yaml")] == expected


def test_nodes_keep_their_lines_for_error_reports() -> None:
    [(node, _)] = load_all("a: 1\nb:\n  - c\n", file="f.yaml")
    (_, _), (key_b, seq) = node.value
    assert (key_b.start_mark.line, seq.value[0].start_mark.line) == (1, 2)


def test_a_settings_file_holds_one_document() -> None:
    assert value("") is None
    with pytest.raises(ConfigError, match=r"^f\.yaml:3: expected one YAML document"):
        value("a: 1\n---\nb: 2\n")


def test_every_yaml_read_of_the_package_goes_through_this_module() -> None:
    """A new ``YAML(...).load``/``compose`` elsewhere would bypass the bounds."""
    package = Path(__file__).resolve().parents[3] / "image_automation"
    offenders = [
        path.relative_to(package).as_posix()
        for path in package.rglob("*.py")
        if path.name != "safe_yaml.py"
        and any(
            needle in path.read_text(encoding="utf-8")
            for needle in ("YAML(", ".compose(", ".compose_all(", "construct_document(")
        )
    ]
    assert offenders == []
