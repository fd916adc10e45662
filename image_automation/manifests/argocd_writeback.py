"""Argo CD write-back targets, edited byte-minimally: the parameter override file, a
kustomization's ``images:``, a Helm values file at named keys.

API (pure: bytes in, :class:`~image_automation.manifests.editing.FileEdit` out)::

    edit_override(data | None, file=..., app_type="helm"|"kustomize", images=[ImageWrite])
    edit_kustomization(data, file=..., images=[ImageWrite])
    edit_helm_values(data, file=..., images=[ImageWrite])

* ``.argocd-source-<app>.yaml`` is Argo CD's ApplicationSource override, in the shape AIU
  writes it: ``helm.parameters`` (``name``, ``value``, ``forcestring: true``) or
  ``kustomize.images`` (``[name=]image:tag[@digest]``). A missing file is created holding only
  the image parameters, sorted by name; in an existing one each parameter's value is set in
  place and a missing parameter is added after the last one. Other keys stay as they are.
* A kustomization: the ``images:`` entry whose ``name`` is the image's Kustomize name gets
  ``newTag`` (and ``newName``/``digest`` when needed), as ``kustomize edit set image`` would;
  a missing entry is added at the end of ``images:`` (created when absent).
* A Helm values file: the keys named by the image's Helm parameters (``image.name`` and
  ``image.tag`` unless set; ``a.b\\.c`` escapes a dot) must exist; their scalars are set.
  A key that is missing is an error naming it: keys are never invented in a values file.

One :class:`~image_automation.domain.Change` per image whose written value changed, old and
new as ``name:tag`` references; setting what is already there changes nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from image_automation.domain import Change
from image_automation.errors import ManifestError
from image_automation.manifests import _yaml_tree as tree
from image_automation.manifests._scalars import render
from image_automation.manifests.editing import FileEdit, Splice, decode, splice

DEFAULT_HELM_NAME = "image.name"
DEFAULT_HELM_TAG = "image.tag"


@dataclass(frozen=True, slots=True)
class ImageWrite:
    """One image to write. ``name``: the image as the files spell it (no tag); ``tag`` and
    ``digest``: the selection; ``kustomize_name``: the name Kustomize knows it by (default
    ``name``); ``helm_*``: parameter keys (``helm_spec`` wins: the whole reference in one)."""

    setter: str
    name: str
    tag: str
    digest: str | None = None
    kustomize_name: str | None = None
    helm_name: str | None = None
    helm_tag: str | None = None
    helm_spec: str | None = None

    @property
    def version(self) -> str:
        return f"{self.tag}@{self.digest}" if self.digest else self.tag

    @property
    def reference(self) -> str:
        return f"{self.name}:{self.version}"

    def helm_values(self) -> list[tuple[str, str]]:
        """(parameter, value) pairs this image sets in Helm."""
        if self.helm_spec:
            return [(self.helm_spec, self.reference)]
        return [
            (self.helm_name or DEFAULT_HELM_NAME, self.name),
            (self.helm_tag or DEFAULT_HELM_TAG, self.version),
        ]

    def kustomize_image(self) -> str:
        key = self.kustomize_name or self.name
        return self.reference if key == self.name else f"{key}={self.reference}"


@dataclass(slots=True)
class _Edit:
    text: str
    file: str
    splices: list[Splice]
    changes: list[Change]

    def change(self, image: ImageWrite, line: int, old: str) -> None:
        if old != image.reference:
            self.changes.append(Change(self.file, line, "", "", "", "", image.setter, old,
                                       image.reference))  # fmt: skip

    def result(self, data: bytes, bom: str) -> FileEdit:
        if not self.splices:
            return FileEdit(data, tuple(self.changes))
        return FileEdit((bom + splice(self.text, self.splices)).encode(), tuple(self.changes))


def _start(data: bytes, file: str) -> tuple[str, _Edit, Node | None]:
    bom, text = decode(data, file=file)
    return bom, _Edit(text, file, [], []), tree.parse(text, file=file)


# --- .argocd-source-<app>.yaml ---------------------------------------------------------------


def new_override(*, app_type: str, images: Sequence[ImageWrite]) -> str:
    """The override file AIU would create: only the image parameters, sorted by name."""
    if app_type == "kustomize":
        entries = sorted({i.kustomize_image() for i in images})
        return "kustomize:\n  images:\n" + "".join(f"  - {render(e, style='')}\n" for e in entries)
    params = sorted({pair for image in images for pair in image.helm_values()})
    body = "".join(
        f"  - name: {render(n, style='')}\n    value: {render(v, style='')}\n"
        "    forcestring: true\n"
        for n, v in params
    )
    return "helm:\n  parameters:\n" + body


def edit_override(
    data: bytes | None, *, file: str, app_type: str, images: Sequence[ImageWrite]
) -> FileEdit:
    """Set the image parameters in an override file, creating it when ``data`` is None."""
    if data is None or not data.strip():
        text = new_override(app_type=app_type, images=images)
        changes = tuple(Change(file, 1, "", "", "", "", i.setter, "", i.reference) for i in images)
        return FileEdit(text.encode(), changes)
    bom, edit, root = _start(data, file)
    if app_type == "kustomize":
        _override_kustomize(edit, root, images)
    else:
        _override_helm(edit, root, images)
    return edit.result(data, bom)


def _section(edit: _Edit, root: Node | None, outer: str, inner: str) -> SequenceNode | None:
    """``root.outer.inner`` as a block sequence; None when either level is missing."""
    if root is not None and not isinstance(root, MappingNode):
        raise ManifestError(f"{edit.file}: not a mapping of override fields")
    found = tree.value(root, outer)
    if found is None:
        return None
    seq = tree.value(found, inner)
    if seq is not None and not isinstance(seq, SequenceNode):
        raise ManifestError(f"{edit.file}:{tree.line(seq)}: {outer}.{inner} is not a list")
    return seq


def _missing_section(edit: _Edit, root: Node | None, outer: str, inner: str,
                     items: list[list[str]]) -> None:  # fmt: skip
    """Add ``outer.inner`` holding ``items`` (each: an item's lines) where it is absent."""
    body = [f"- {item[0]}" if i == 0 else f"  {item}" for lines in items for i, item in
            enumerate(lines)]  # fmt: skip
    found = tree.value(root, outer)
    if found is None:
        edit.splices.append(tree.append_lines(edit.text, [f"{outer}:", f"  {inner}:",
                                                          *("  " + b for b in body)]))  # fmt: skip
    elif isinstance(found, MappingNode) and found.value:
        edit.splices.append(tree.add_entries(edit.text, found, [f"{inner}:", *body],
                                             file=edit.file, what=outer))  # fmt: skip
    else:
        raise ManifestError(f"{edit.file}:{tree.line(found)}: {outer} is not a mapping")


def _override_helm(edit: _Edit, root: Node | None, images: Sequence[ImageWrite]) -> None:
    seq = _section(edit, root, "helm", "parameters")
    by_name: dict[str, MappingNode] = {}
    for item in seq.value if seq is not None else []:
        name = tree.text_of(tree.value(item, "name"))
        if isinstance(item, MappingNode) and name is not None:
            by_name.setdefault(name, item)
    missing: list[list[str]] = []
    for image in images:
        olds: list[str] = []
        first_line = 0
        for name, wanted in image.helm_values():
            item = by_name.get(name)
            if item is None:
                missing.append(
                    [
                        f"name: {render(name, style='')}",
                        f"value: {render(wanted, style='')}",
                        "forcestring: true",
                    ]
                )
                olds.append("")
                continue
            found = tree.entry(item, "value")
            if found is None:
                raise ManifestError(f"{edit.file}:{tree.line(item)}: parameter {name} has no value")
            old = tree.text_of(found[1]) or ""
            olds.append(old)
            first_line = tree.line(found[1])
            if old != wanted:
                edit.splices.append(tree.set_scalar(edit.text, found[0], found[1], wanted,
                                                    file=edit.file))  # fmt: skip
        edit.change(image, first_line or 1, _old_reference(image, olds))
    if missing and seq is not None:
        for lines in missing:
            edit.splices.append(tree.add_item(edit.text, seq, lines, file=edit.file,
                                              what="helm.parameters"))  # fmt: skip
    elif missing:
        _missing_section(edit, root, "helm", "parameters", missing)


def _old_reference(image: ImageWrite, olds: list[str]) -> str:
    if image.helm_spec or not any(olds):
        return olds[0] if olds else ""
    return f"{olds[0]}:{olds[1]}" if olds[0] else olds[1]


def _kustomize_key(entry: str) -> str:
    """The image an override's ``kustomize.images`` entry is about (``[name=]image:tag``)."""
    key, sep, _ = entry.partition("=")
    if sep:
        return key
    name = entry.split("@", 1)[0]
    slash, colon = name.rfind("/"), name.rfind(":")
    return name[:colon] if colon > slash else name


def _override_kustomize(edit: _Edit, root: Node | None, images: Sequence[ImageWrite]) -> None:
    seq = _section(edit, root, "kustomize", "images")
    items: dict[str, ScalarNode] = {}
    for item in seq.value if seq is not None else []:
        if isinstance(item, ScalarNode):
            items.setdefault(_kustomize_key(str(item.value)), item)
    missing: list[list[str]] = []
    for image in images:
        wanted = image.kustomize_image()
        item = items.get(image.kustomize_name or image.name)
        if item is None:
            missing.append([render(wanted, style="")])
            edit.change(image, 1, "")
            continue
        old = str(item.value)
        if old != wanted:
            start, end = int(item.start_mark.index), int(item.end_mark.index)
            style = item.style if item.style in ("'", '"') else ""
            edit.splices.append(Splice(start, end, render(wanted, style=style or "")))
        edit.change(image, tree.line(item), old.partition("=")[2] or old)
    if missing and seq is not None:
        for lines in missing:
            edit.splices.append(tree.add_item(edit.text, seq, lines, file=edit.file,
                                              what="kustomize.images"))  # fmt: skip
    elif missing:
        _missing_section(edit, root, "kustomize", "images", missing)


# --- kustomization.yaml -----------------------------------------------------------------------


def edit_kustomization(data: bytes, *, file: str, images: Sequence[ImageWrite]) -> FileEdit:
    """Set each image's entry in ``images:`` as ``kustomize edit set image`` would."""
    bom, edit, root = _start(data, file)
    if not isinstance(root, MappingNode):
        raise ManifestError(f"{file}: not a kustomization (a mapping of fields)")
    seq = tree.value(root, "images")
    if seq is not None and not isinstance(seq, SequenceNode):
        raise ManifestError(f"{file}:{tree.line(seq)}: images is not a list")
    entries: dict[str, MappingNode] = {}
    for item in seq.value if seq is not None else []:
        name = tree.text_of(tree.value(item, "name"))
        if isinstance(item, MappingNode) and name is not None:
            entries.setdefault(name, item)
    added: list[list[str]] = []
    for image in images:
        key = image.kustomize_name or image.name
        fields = _kustomize_fields(image, key)
        item = entries.get(key)
        if item is None:
            added.append([f"{k}: {render(v, style='')}" for k, v in [("name", key), *fields]])
            edit.change(image, 1, "")
            continue
        _set_fields(edit, item, fields, image)
    if added and seq is not None:
        for lines in added:
            edit.splices.append(tree.add_item(edit.text, seq, lines, file=file, what="images"))
    elif added:
        body = [f"  - {line}" if i == 0 else f"    {line}" for lines in added
                for i, line in enumerate(lines)]  # fmt: skip
        edit.splices.append(tree.add_entries(edit.text, root, ["images:", *body], file=file,
                                             what="the kustomization"))  # fmt: skip
    return edit.result(data, bom)


def _kustomize_fields(image: ImageWrite, key: str) -> list[tuple[str, str]]:
    fields = [("newName", image.name)] if key != image.name else []
    fields.append(("newTag", image.tag))
    if image.digest:
        fields.append(("digest", image.digest))
    return fields


def _set_fields(
    edit: _Edit, item: MappingNode, fields: list[tuple[str, str]], image: ImageWrite
) -> None:
    current = {k: tree.text_of(tree.value(item, k)) for k in ("name", "newName", "newTag",
                                                              "digest")}  # fmt: skip
    old_name = current["newName"] or current["name"] or ""
    old = f"{old_name}:{current['newTag'] or ''}" + (
        f"@{current['digest']}" if current["digest"] else ""
    )
    new_lines = []
    for key, wanted in fields:
        found = tree.entry(item, key)
        if found is None:
            new_lines.append(f"{key}: {render(wanted, style='')}")
        elif tree.text_of(found[1]) != wanted:
            edit.splices.append(tree.set_scalar(edit.text, found[0], found[1], wanted,
                                                file=edit.file))  # fmt: skip
    if current["digest"] and not image.digest:
        raise ManifestError(f"{edit.file}:{tree.line(item)}: images entry {current['name']} pins "
                            "a digest; remove it to follow tags")  # fmt: skip
    if new_lines:
        edit.splices.append(tree.add_entries(edit.text, item, new_lines, file=edit.file,
                                             what="an images entry"))  # fmt: skip
    tag_node = tree.value(item, "newTag")
    edit.change(image, tree.line(tag_node) if tag_node is not None else tree.line(item), old)


# --- Helm values ----------------------------------------------------------------------------


def edit_helm_values(data: bytes, *, file: str, images: Sequence[ImageWrite]) -> FileEdit:
    """Set each image's Helm parameters at their keys in a values file."""
    bom, edit, root = _start(data, file)
    for image in images:
        olds, first_line = [], 0
        for dotted, wanted in image.helm_values():
            key, node = _find_key(edit, root, dotted)
            old = tree.text_of(node)
            olds.append(old or "")
            first_line = tree.line(node)
            if old != wanted:
                edit.splices.append(tree.set_scalar(edit.text, key, node, wanted, file=file))
        edit.change(image, first_line, _old_reference(image, olds))
    return edit.result(data, bom)


def _find_key(edit: _Edit, root: Node | None, dotted: str) -> tuple[ScalarNode, Node]:
    node, found = root, None
    walked: list[str] = []
    for part in tree.key_path(dotted):
        found = tree.entry(node, part)
        walked.append(part)
        if found is None:
            raise ManifestError(
                f"{edit.file}: no key {'.'.join(walked)} (for {dotted}); keys are never added "
                "to a values file: add it, or name the key in manifestTargets.helm"
            )
        if found[1].start_mark.index < found[0].end_mark.index:  # composed aliases share nodes
            raise ManifestError(f"{edit.file}:{tree.line(found[0])}: {part}: is an alias; set "
                                "the anchored value instead")  # fmt: skip
        node = found[1]
    assert found is not None
    return found


__all__ = [
    "DEFAULT_HELM_NAME",
    "DEFAULT_HELM_TAG",
    "ImageWrite",
    "edit_helm_values",
    "edit_kustomization",
    "edit_override",
    "new_override",
]
