"""The data a Flux commit message template sees, shaped as Flux's Go types.

``TemplateData{AutomationObject, Changed, Values}`` as image-automation-controller v1 passes
it: ``AutomationObject`` is a ``types.NamespacedName`` (prints ``namespace/name``),
``Changed.FileChanges`` maps file → ``ObjectIdentifier`` → ``[]Change``, and
``Changed.Changes`` / ``Changed.Objects`` are the projections Flux offers as methods. An
``ObjectIdentifier`` prints and sorts as Go's nested struct does
(``{{{apps/v1 Deployment} {app prod}}}``, ordered by APIVersion, Kind, Name, Namespace), so
``range`` and ``toString`` give what Flux gives. ``.Updated`` (removed in Flux v1) fails with
Flux's wording; ``.Changed.ImageResult`` (an older Flux's image view) still renders, with a
note, because current Flux refuses it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from typing import Any, ClassVar

from image_automation.domain import Change as DomainChange
from image_automation.domain import ImageRef, InvalidReference, UpdateResult
from image_automation.git._gotemplate_values import Budget, GoStruct, format_into
from image_automation.git.messages import policy_of

_DOCS = "See: https://fluxcd.io/flux/components/image/imageupdateautomations/#message-template"
REMOVED_UPDATED = (
    f"template uses removed '.Updated' field. Please use '.Changed' instead. {_DOCS} "
    "(migrate: .Updated.Images -> .Changed.Changes and each .NewValue, "
    ".Updated.Files -> .Changed.FileChanges, .Updated.Objects -> .Changed.Objects)"
)
"""Flux's error for a template that reads ``.Updated``, plus how to rewrite it."""
IMAGE_RESULT_NOTE = (
    "template uses removed '.Changed.ImageResult' field. Please use '.Changed.FileChanges' "
    f"or '.Changed.Objects' instead. {_DOCS} (rendered here; current Flux refuses it)"
)


@dataclass(frozen=True)
class NamespacedName(GoStruct):
    Namespace: str
    Name: str

    go_type = "types.NamespacedName"
    go_fields = ("Namespace", "Name")

    def go_string(self) -> str:
        return f"{self.Namespace}/{self.Name}"


@dataclass(frozen=True)
class ObjectIdentifier(GoStruct):
    """``update.ObjectIdentifier`` (a kyaml ``ResourceIdentifier``: TypeMeta then NameMeta)."""

    APIVersion: str
    Kind: str
    Name: str
    Namespace: str

    go_type = "update.ObjectIdentifier"
    go_fields = ("APIVersion", "Kind", "Name", "Namespace")

    def go_format(self, budget: Budget, verb: str) -> None:
        for text, value in (
            ("{{{", self.APIVersion),
            (" ", self.Kind),
            ("} {", self.Name),
            (" ", self.Namespace),
        ):
            budget.write(text)
            format_into(value, budget, verb)
        budget.write("}}}")


@dataclass(frozen=True)
class Change(GoStruct):
    OldValue: str
    NewValue: str
    Setter: str

    go_type = "update.Change"
    go_fields = ("OldValue", "NewValue", "Setter")


@dataclass(frozen=True)
class FluxImageRef(GoStruct):
    """Flux's ``update.ImageRef``: prints as the value written; its methods as attributes."""

    value: str
    Name: str
    Identifier: str
    Registry: str
    Repository: str
    Policy: NamespacedName

    go_type = "update.ImageRef"
    go_methods = ("Name", "Identifier", "Registry", "Repository", "Policy")

    def go_string(self) -> str:
        return self.value


@dataclass(frozen=True)
class FileResult(GoStruct):
    Objects: dict[ObjectIdentifier, list[FluxImageRef]]

    go_type = "update.FileResult"
    go_fields = ("Objects",)


@dataclass(frozen=True)
class ImageResult(GoStruct):
    """The image view older Flux versions offered as ``.Changed.ImageResult``."""

    Files: dict[str, FileResult]
    Images: list[FluxImageRef]
    Objects: dict[ObjectIdentifier, list[FluxImageRef]]

    go_type = "update.ImageResult"
    go_fields = ("Files",)
    go_methods = ("Images", "Objects")


@dataclass(frozen=True)
class Result(GoStruct):
    FileChanges: dict[str, dict[ObjectIdentifier, list[Change]]]
    Changes: list[Change]
    Objects: dict[ObjectIdentifier, list[Change]]
    ordered: tuple[DomainChange, ...] = field(default=(), repr=False, compare=False)

    go_type = "update.Result"
    go_fields = ("FileChanges",)
    go_methods = ("Changes", "Objects", "ImageResult")
    deprecated: ClassVar[Mapping[str, str]] = {"ImageResult": IMAGE_RESULT_NOTE}

    @cached_property
    def ImageResult(self) -> ImageResult:
        """Built only for the templates that read it (it parses every image)."""
        return _image_result(self.ordered)


@dataclass(frozen=True)
class TemplateData(GoStruct):
    AutomationObject: NamespacedName
    Changed: Result
    Values: dict[str, str] = field(default_factory=dict)

    go_type = "source.TemplateData"
    go_fields = ("AutomationObject", "Changed", "Values")
    removed: ClassVar[Mapping[str, str]] = {"Updated": REMOVED_UPDATED}


def _image(value: str, policy: str) -> FluxImageRef:
    """A Flux ``ImageRef`` for a written value; a bare tag (``:tag`` setter) has no name."""
    name, tag, registry, repo = "", value, "", ""
    if "/" in value or ":" in value:
        try:
            ref = ImageRef.parse(value)
            name, tag, registry, repo = value, ref.tag or "", ref.registry, ref.repository
        except InvalidReference:
            pass
    namespace, _, policy_name = policy.partition(":")
    return FluxImageRef(value, name, tag, registry, repo, NamespacedName(namespace, policy_name))


def _image_result(ordered: tuple[DomainChange, ...]) -> ImageResult:
    images: dict[str, FluxImageRef] = {}
    files: dict[str, dict[ObjectIdentifier, list[FluxImageRef]]] = {}
    objects: dict[ObjectIdentifier, list[FluxImageRef]] = {}
    for change in ordered:
        oid = _object_id(change)
        image = images.get(change.new) or _image(change.new, policy_of(change.setter))
        images[change.new] = image
        files.setdefault(change.file, {}).setdefault(oid, []).append(image)
        objects.setdefault(oid, []).append(image)
    return ImageResult(
        Files={f: FileResult(objs) for f, objs in files.items()},
        Images=[images[k] for k in sorted(images)],
        Objects=objects,
    )


def _object_id(change: DomainChange) -> ObjectIdentifier:
    return ObjectIdentifier(change.api_version, change.kind, change.name, change.namespace)


def template_data(
    result: UpdateResult, *, automation: str, values: Mapping[str, Any] | None
) -> TemplateData:
    """``result`` as Flux's ``TemplateData``; ``automation`` is ``namespace/name``."""
    ordered = tuple(sorted(result.changes, key=lambda c: (c.file, c.line)))
    files: dict[str, dict[ObjectIdentifier, list[Change]]] = {}
    objects: dict[ObjectIdentifier, list[Change]] = {}
    changes: dict[Change, None] = {}  # Flux's Changes() lists each distinct change once
    for change in ordered:
        oid = _object_id(change)
        item = Change(change.old, change.new, change.setter)
        changes.setdefault(item)
        files.setdefault(change.file, {}).setdefault(oid, []).append(item)
        objects.setdefault(oid, []).append(item)
    namespace, _, name = automation.rpartition("/")
    changed = Result(FileChanges=files, Changes=list(changes), Objects=objects, ordered=ordered)
    return TemplateData(
        AutomationObject=NamespacedName(namespace, name),
        Changed=changed,
        Values={str(k): str(v) for k, v in (values or {}).items()},
    )


__all__ = ["IMAGE_RESULT_NOTE", "REMOVED_UPDATED", "TemplateData", "template_data"]
