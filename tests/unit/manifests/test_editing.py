"""Pure edits, table-driven: apply_setters, quoting, markers."""

from __future__ import annotations

import pytest

from image_automation.domain import ImageRef
from image_automation.errors import ManifestError
from image_automation.manifests import apply_line_setters, apply_setters, parse_setter
from image_automation.manifests._scalars import plain_is_safe, render
from image_automation.manifests.markers import Setter, find_marker_comments

POLICIES = {"app": ImageRef.parse("ghcr.io/org/app:2.0")}
MARK = '# {"$imagepolicy": "ns:app"}'


def _apply(text: str) -> tuple[str, list[str]]:
    edit = apply_setters(text.encode(), file="f.yaml", namespace="ns", policies=POLICIES)
    return edit.new_bytes.decode(), list(edit.warnings)


@pytest.mark.parametrize(
    ("before", "after"),
    [
        # libyaml counts U+2028, NEL and lone CR as line breaks: offsets must still be right.
        (
            f'a: "x\u2028y"\nb: ghcr.io/org/app:1.0 {MARK}\n',
            f'a: "x\u2028y"\nb: ghcr.io/org/app:2.0 {MARK}\n',
        ),
        (f"a: x\rb: ghcr.io/org/app:1.0 {MARK}\r", f"a: x\rb: ghcr.io/org/app:2.0 {MARK}\r"),
        (
            f"a: x\x85\nb: ghcr.io/org/app:1.0 {MARK}\n",
            f"a: x\x85\nb: ghcr.io/org/app:2.0 {MARK}\n",
        ),
        # A marker in a value's text is not a comment.
        (f"a: 'ghcr.io/org/app:1.0 {MARK}'\n", f"a: 'ghcr.io/org/app:1.0 {MARK}'\n"),
        # An anchored item keeps its anchor; the alias that refers to it is left alone.
        (f"- &x ghcr.io/org/app:1.0 {MARK}\n- *x\n", f"- &x ghcr.io/org/app:2.0 {MARK}\n- *x\n"),
        (f"a: !!str 1.0 {MARK}\n", f"a: !!str ghcr.io/org/app:2.0 {MARK}\n"),
        (
            f"? complex\n: ghcr.io/org/app:1.0 {MARK}\n",
            f"? complex\n: ghcr.io/org/app:2.0 {MARK}\n",
        ),
    ],
)
def test_values_are_spliced_at_the_right_offsets(before: str, after: str) -> None:
    assert _apply(before)[0] == after


@pytest.mark.parametrize(
    ("text", "warning"),
    [
        (
            f"a: !!binary aGVsbG8= {MARK}\n",
            "f.yaml:1: marker on a value tagged tag:yaml.org,2002:binary; ignored",
        ),
        (f"a: !custom x {MARK}\n", "f.yaml:1: marker on a value tagged !custom; ignored"),
        (
            f"s: |\n  echo ghcr.io/org/app:1.0 {MARK}\n",
            "f.yaml:2: marker is not on a scalar map value or sequence item; ignored",
        ),
    ],
)
def test_values_that_are_not_plain_strings_are_left_alone(text: str, warning: str) -> None:
    assert _apply(text) == (text, [warning])


def test_identity_is_found_when_metadata_follows_the_value() -> None:
    text = (
        f"apiVersion: v1\nkind: Pod\nspec:\n  image: ghcr.io/org/app:1.0 {MARK}\n"
        + ("  x: y\n" * 50)
        + "metadata:\n  name: late\n  namespace: ns1\n"
    )
    edit = apply_setters(text.encode(), file="f.yaml", namespace="ns", policies=POLICIES)
    (change,) = edit.changes
    assert (change.api_version, change.kind, change.namespace, change.name) == (
        "v1",
        "Pod",
        "ns1",
        "late",
    )


def test_invalid_yaml_after_the_last_marker_is_still_an_error() -> None:
    text = f"a: ghcr.io/org/app:1.0 {MARK}\n" + "b: c\n" * 100 + "d: [\n"
    with pytest.raises(ManifestError, match=r"^f\.yaml:103: invalid YAML"):
        apply_setters(text.encode(), file="f.yaml", namespace="ns", policies=POLICIES)


def test_nothing_to_change_returns_the_input_object() -> None:
    data = b"a: ghcr.io/org/app:2.0 " + MARK.encode() + b"\n"
    edit = apply_setters(data, file="f.yaml", namespace="ns", policies=POLICIES)
    assert edit.new_bytes is data and not edit.changed


@pytest.mark.parametrize("data", [b"\xff\xfea\x00:\x00", b"a: \xe9\n" + MARK.encode()])
def test_undecodable_files_raise_manifest_error(data: bytes) -> None:
    with pytest.raises(ManifestError):
        apply_setters(data, file="f.yaml", namespace="ns", policies=POLICIES)


@pytest.mark.parametrize(
    ("value", "safe"),
    [
        ("ghcr.io/org/app:1.0", True),
        ("v1.2.3", True),
        ("sha256:" + "a" * 64, True),
        ("1.10", False),
        ("1", False),
        ("yes", False),
        ("on", False),
        ("null", False),
        ("~", False),
        ("2024-01-01", False),
        ("1e3", False),
        ("0x1F", False),
        ("1:20", False),
        ("-dash", False),
        ("a: b", False),
        ("a #b", False),
        ("", False),
    ],
)
def test_plain_is_safe_only_for_strings_in_yaml_1_1_and_1_2(value: str, safe: bool) -> None:
    assert plain_is_safe(value) is safe


@pytest.mark.parametrize(
    ("value", "style", "text"),
    [
        ("1.10", "", '"1.10"'),
        ("1.10", "'", "'1.10'"),
        ("it's", "'", "'it''s'"),
        ('say "hi"', '"', '"say \\"hi\\""'),
        ("app:1.0", "", "app:1.0"),
    ],
)
def test_render_keeps_the_style_and_quotes_when_needed(value: str, style: str, text: str) -> None:
    assert render(value, style=style) == text


@pytest.mark.parametrize(
    ("value", "setter"),
    [
        ("ns:app", Setter("ns", "app")),
        ("ns:app:tag", Setter("ns", "app", "tag")),
        ("ns:app:name", Setter("ns", "app", "name")),
        ("ns:app:digest", Setter("ns", "app", "digest")),
        ("ns:app:version", None),
        ("app", None),
        (":app", None),
        ("ns:", None),
        (42, None),
    ],
)
def test_parse_setter(value: object, setter: Setter | None) -> None:
    assert parse_setter(value) == setter


@pytest.mark.parametrize(
    ("before", "after"),
    [
        (f"IMAGE=ghcr.io/org/app:1.0 {MARK}\n", f"IMAGE=ghcr.io/org/app:2.0 {MARK}\n"),
        (
            f"{MARK}\r\nFROM ghcr.io/org/app:1.0 AS b\r\n",
            f"{MARK}\r\nFROM ghcr.io/org/app:2.0 AS b\r\n",
        ),
        (
            'x = "ghcr.io/org/app:1.0" // {"$imagepolicy": "ns:app"}\n',
            'x = "ghcr.io/org/app:2.0" // {"$imagepolicy": "ns:app"}\n',
        ),
        # Any number of `#`, blanks or none before the object, as Flux reads YAML markers.
        (
            '## {"$imagepolicy": "ns:app"}\nFROM ghcr.io/org/app:1.0\n',
            '## {"$imagepolicy": "ns:app"}\nFROM ghcr.io/org/app:2.0\n',
        ),
        (
            'IMAGE=ghcr.io/org/app:1.0 ##{"$imagepolicy":"ns:app"}\n',
            'IMAGE=ghcr.io/org/app:2.0 ##{"$imagepolicy":"ns:app"}\n',
        ),
    ],
)
def test_line_setters_replace_the_value_on_the_marked_line(before: str, after: str) -> None:
    edit = apply_line_setters(before.encode(), file="f", namespace="ns", policies=POLICIES)
    assert edit.new_bytes.decode() == after


def test_line_setter_without_a_value_warns() -> None:
    edit = apply_line_setters(f"{MARK}\n".encode(), file="f", namespace="ns", policies=POLICIES)
    assert edit.warnings == ("f:1: marker has no value on its line or the next; ignored",)


@pytest.mark.parametrize(
    ("line", "comment_start", "setter"),
    [
        ('a: b # {"$imagepolicy": "ns:app"}', 5, "ns:app"),
        ('a: b ## {"$imagepolicy": "ns:app"}', 5, "ns:app"),
        ('a: b #{"$imagepolicy":"ns:app"}', 5, "ns:app"),
        ('a: b ###\t {"$imagepolicy": "ns:app:tag"}  ', 5, "ns:app:tag"),
        ('## {"$imagepolicy": "ns:app"}', 0, "ns:app"),
        # Text before the object: Flux finds no JSON in that comment; the `#` inside it is
        # where we see one, and the editor refuses a marker with text before it.
        ('a: b # see # {"$imagepolicy": "ns:app"}', 11, "ns:app"),
    ],
)
def test_a_marker_comment_starts_at_its_first_hash(
    line: str, comment_start: int, setter: str
) -> None:
    [found] = find_marker_comments(line)
    assert found.comment_start == comment_start
    assert found.setter is not None
    assert found.setter.text == setter
