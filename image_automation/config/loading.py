"""Policy files → models, with every error pinned to ``file:line: field: message``.

Documents are read with :mod:`~image_automation.config.safe_yaml` (libyaml's parser, aliases
and nesting bounded); each node keeps its line, so a pydantic error location
(``spec.policy.semver.range``) maps back to the line a user must edit. One bad document never
stops the others: errors are collected, valid documents are kept.
Documents of other kinds (a Deployment next to the policies) are ignored.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml.nodes import MappingNode, Node, ScalarNode, SequenceNode

from image_automation.config.argocd_models import ArgoObject, argocd_model, is_ours
from image_automation.config.models import (
    FLUX_GROUP,
    FLUX_V1BETA2,
    KINDS,
    NATIVE_API_VERSION,
    SOURCE_API_PREFIX,
    GitRepository,
    ImageAutomation,
    ImagePolicy,
    ImageRepository,
    ImageUpdateAutomation,
    PolicyObject,
    TrackedImage,
)
from image_automation.config.notifications import (
    NOTIFICATION_KIND,
    NOTIFICATION_V1BETA3,
    Alert,
    Notification,
    Provider,
)
from image_automation.config.promotions import PROMOTION_API_VERSION, PROMOTION_KIND, Promotion
from image_automation.config.receivers import NOTIFICATION_V1, RECEIVER_KIND, Receiver
from image_automation.config.safe_yaml import load_all
from image_automation.config.templates import CHART_FILE, is_template
from image_automation.errors import ConfigError, Location

PathKey = tuple[str | int, ...]
LoadedObject = PolicyObject | Receiver | ArgoObject | Provider | Alert | Notification | Promotion
YAML_SUFFIXES = (".yaml", ".yml")
MAX_FILE_BYTES = 4 * 1024 * 1024


@dataclass(frozen=True, slots=True)
class Loaded:
    """One valid document: the model, where it came from, and the line of each field."""

    obj: LoadedObject
    file: str
    line: int
    lines: Mapping[PathKey, int] = field(repr=False, compare=False)

    def location(self, *path: str | int) -> Location:
        """The location of the field at ``path`` (or its closest present parent)."""
        return Location(self.file, line_of(self.lines, path, default=self.line), dotted(path))


@dataclass(slots=True)
class LoadResult:
    """Everything read from a set of files: valid documents, errors, warnings."""

    documents: list[Loaded] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    rejected: set[str] = field(default_factory=set)
    """``Kind/namespace/name`` of documents of ours that failed validation: whatever refers
    to one is not reported again (the document's own errors say what to fix)."""

    def extend(self, other: LoadResult) -> None:
        self.documents.extend(other.documents)
        self.errors.extend(other.errors)
        self.warnings.extend(other.warnings)
        self.rejected |= other.rejected

    def of_kind(self, kind: type[LoadedObject]) -> list[Loaded]:
        return [d for d in self.documents if isinstance(d.obj, kind)]

    @property
    def repositories(self) -> list[Loaded]:
        return self.of_kind(ImageRepository)

    @property
    def policies(self) -> list[Loaded]:
        return self.of_kind(ImagePolicy)

    @property
    def tracked(self) -> list[Loaded]:
        return self.of_kind(TrackedImage)

    @property
    def automations(self) -> list[Loaded]:
        """Flux ``ImageUpdateAutomation`` and native ``ImageAutomation`` documents."""
        return [
            d for d in self.documents if isinstance(d.obj, ImageUpdateAutomation | ImageAutomation)
        ]

    @property
    def git_repositories(self) -> list[Loaded]:
        return self.of_kind(GitRepository)

    @property
    def receivers(self) -> list[Loaded]:
        return self.of_kind(Receiver)

    @property
    def notifications(self) -> list[Loaded]:
        """Flux ``Provider`` and ``Alert`` (v1beta3) and native ``Notification`` documents."""
        return [d for d in self.documents if isinstance(d.obj, Provider | Alert | Notification)]

    @property
    def promotions(self) -> list[Loaded]:
        return self.of_kind(Promotion)


def dotted(path: Iterable[str | int]) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


def line_of(lines: Mapping[PathKey, int], path: Sequence[str | int], *, default: int) -> int:
    for end in range(len(path), 0, -1):
        line = lines.get(tuple(path[:end]))
        if line:
            return line
    return default


def load_paths(paths: Iterable[Path | str]) -> LoadResult:
    """Load every ``*.yaml``/``*.yml`` file under each path (a file or a directory)."""
    result = LoadResult()
    for path in paths:
        for file in _yaml_files(Path(path), result):
            result.extend(load_file(file))
    return result


def load_file(path: Path) -> LoadResult:
    """Load one file; unreadable or oversized files become errors, never exceptions."""
    data = read_file(path)
    return data if isinstance(data, LoadResult) else load_bytes(data, file=str(path))


def read_file(path: Path, *, name: str | None = None) -> bytes | LoadResult:
    """The bytes of a policy file, or why not, named ``name`` (default: the path).

    A file over :data:`MAX_FILE_BYTES` (generated CRDs, bundles: not policy files) and a
    dangling symlink are skipped with a warning, as ``update`` skips them; other I/O
    problems are errors.
    """
    name = str(path) if name is None else name
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            return _skipped(
                f"{name}: skipped: {size} bytes is over the {MAX_FILE_BYTES}-byte limit"
            )
        return path.read_bytes()
    except FileNotFoundError as exc:
        if path.is_symlink():
            return _skipped(f"{name}: dangling symlink; skipped")
        return _failed(name, f"cannot read: {exc.strerror or exc}")
    except OSError as exc:
        return _failed(name, f"cannot read: {exc.strerror or exc}")


def load_bytes(data: bytes, *, file: str) -> LoadResult:
    """Parse a multi-document YAML stream. Raises nothing: problems land in ``errors``.

    Documents are split at ``---`` lines (always document markers at column 0) and parsed one
    by one, so a syntax error in one document does not hide the documents around it. A file
    that is a Go template rather than YAML (:func:`~.templates.is_template`) gives nothing.
    """
    result = LoadResult()
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        return _failed(file, f"not UTF-8 text (byte {exc.start})")
    for offset, chunk in _split_documents(text):
        try:
            values = load_all(chunk, file=file, line_offset=offset)
        except ConfigError as exc:
            if is_template(chunk):
                return LoadResult()
            result.errors.append(exc)
            continue
        for node, value in values:
            line = node.start_mark.line + 1 + offset
            _load_document(value, node, file=file, line=line, offset=offset, into=result)
    return result


def _split_documents(text: str) -> Iterator[tuple[int, str]]:
    """Yield ``(line offset, text)`` per document, cutting before each ``---`` line."""
    lines = text.splitlines(keepends=True)
    start = 0
    for index, line in enumerate(lines):
        if index > start and line.startswith("---") and line[3:4] in ("", " ", "\t", "\r", "\n"):
            yield start, "".join(lines[start:index])
            start = index
    if start < len(lines):
        yield start, "".join(lines[start:])


def _load_document(
    value: Any, node: Node, *, file: str, line: int, offset: int, into: LoadResult
) -> None:
    if not isinstance(value, dict):
        return  # a scalar or list document is not an object of ours
    api_version, kind = value.get("apiVersion"), value.get("kind")
    if not isinstance(api_version, str) or not isinstance(kind, str):
        return
    model = _model_for(api_version, kind) or argocd_model(api_version, kind, value)
    lines = _line_map(node, offset)
    if model is None:
        ours = (FLUX_GROUP, NATIVE_API_VERSION.split("/")[0])
        if api_version.split("/")[0] in ours or is_ours(api_version):
            where = Location(file, lines.get(("apiVersion",), line), "apiVersion")
            into.errors.append(
                ConfigError(f"unsupported apiVersion/kind {api_version} {kind}", location=where)
            )
        return
    try:
        obj = model.model_validate(value)
    except ValidationError as exc:
        into.rejected.add(_identity(kind, value.get("metadata")))
        for error in exc.errors():
            path = tuple(p for p in error["loc"] if isinstance(p, str | int))
            where = Location(file, line_of(lines, path, default=line), dotted(path))
            into.errors.append(ConfigError(_pydantic_message(error), location=where))
        return
    if api_version == FLUX_V1BETA2:
        into.warnings.append(
            f"{file}:{line}: apiVersion: {api_version} is deprecated; "
            f"use {FLUX_GROUP}/v1 (accepted as is)"
        )
    into.documents.append(Loaded(obj=obj, file=file, line=line, lines=lines))


def _identity(kind: str, metadata: object) -> str:
    meta = metadata if isinstance(metadata, dict) else {}
    return f"{kind}/{meta.get('namespace') or 'default'}/{meta.get('name')}"


def _model_for(api_version: str, kind: str) -> type[Any] | None:
    if kind == "GitRepository" and api_version.startswith(SOURCE_API_PREFIX):
        return GitRepository
    if (api_version, kind) == (NOTIFICATION_V1, RECEIVER_KIND):
        return Receiver
    if api_version == NOTIFICATION_V1BETA3:
        return _NOTIFICATION_KINDS.get(kind)
    if (api_version, kind) == (NATIVE_API_VERSION, NOTIFICATION_KIND):
        return Notification
    if (api_version, kind) == (PROMOTION_API_VERSION, PROMOTION_KIND):
        return Promotion
    return KINDS.get((api_version, kind))


_NOTIFICATION_KINDS: dict[str, type[Any]] = {"Provider": Provider, "Alert": Alert}


def _pydantic_message(error: Mapping[str, Any]) -> str:
    kind = error.get("type", "")
    if kind == "extra_forbidden":
        return "unknown field"
    if kind == "missing":
        return "required field is missing"
    if kind == "literal_error":
        return str(error.get("msg", "invalid value")).replace("Input should be", "must be")
    message = str(error.get("msg", "invalid value"))
    return message.removeprefix("Value error, ")


def _line_map(root: Node, offset: int) -> dict[PathKey, int]:
    """Map each path in the document to the 1-based line of its key (maps) or item (lists)."""
    lines: dict[PathKey, int] = {}
    stack: list[tuple[PathKey, Node]] = [((), root)]
    while stack:
        path, node = stack.pop()
        if isinstance(node, MappingNode):
            for key_node, value_node in node.value:
                if isinstance(key_node, ScalarNode):
                    child = (*path, str(key_node.value))
                    lines[child] = key_node.start_mark.line + 1 + offset
                    stack.append((child, value_node))
        elif isinstance(node, SequenceNode):
            for index, item in enumerate(node.value):
                child = (*path, index)
                lines[child] = item.start_mark.line + 1 + offset
                stack.append((child, item))
    return lines


def _yaml_files(path: Path, result: LoadResult) -> Iterator[Path]:
    if path.is_file():
        yield path
        return
    if not path.is_dir():
        result.errors.append(ConfigError("no such file or directory", location=Location(str(path))))
        return
    yield from yaml_files_under(path)


def yaml_files_under(root: Path) -> Iterator[Path]:
    """Every ``*.yaml``/``*.yml`` below ``root`` in a stable order; dot directories and Helm
    charts (a directory holding ``Chart.yaml``, see :mod:`~.templates`) skipped."""
    for directory, subdirs, files in os.walk(root):
        if CHART_FILE in files:
            subdirs[:] = []
            continue
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(YAML_SUFFIXES):
                yield Path(directory, name)


def _failed(file: str, message: str) -> LoadResult:
    return LoadResult(errors=[ConfigError(message, location=Location(file))])


def _skipped(warning: str) -> LoadResult:
    return LoadResult(warnings=[warning])
