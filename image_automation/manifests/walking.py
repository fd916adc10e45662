"""Walk a checkout, screen files for the marker, edit the marked ones, write atomically.

API::

    update_tree(root: Path, *, namespace: str, policies: Mapping[str, ImageRef],
                include: Sequence[str] | None = None, line_include: Sequence[str] = (),
                dry_run: bool = False, max_file_size: int = DEFAULT_MAX_FILE_SIZE,
                ) -> UpdateResult

This is the only part of ``manifests`` that touches the filesystem. The rules:

* ``include`` globs pick YAML files (default as Flux: ``*.yaml``, ``*.yml`` and files named
  ``Kustomization``). A glob without ``/`` matches the file name, one with ``/`` the path
  relative to ``root``. ``line_include`` globs (default none: opt-in) pick Dockerfiles, ``.env``
  and HCL files for :mod:`~image_automation.manifests.lines`; they win over ``include``.
* ``.git`` directories are skipped. Symlinks are never followed: one that points outside
  ``root`` is refused and reported as an error; one inside is skipped (its target is walked).
* A file larger than ``max_file_size`` bytes is skipped with a warning.
* Files are screened for the bytes ``$imagepolicy`` before any parse, so unmarked files cost
  one read. A file that fails to decode or parse is reported as an error; the others are
  still updated.
* Writes go to a temporary file in the same directory, take the old file's mode, and are
  renamed over the original (atomic on POSIX). ``dry_run`` writes nothing and puts a unified
  diff in ``UpdateResult.diff``. No fsync: the commit that follows is the durable record.

Paths in changes, warnings and errors are POSIX paths relative to ``root``.
"""

from __future__ import annotations

import contextlib
import difflib
import os
import re
import secrets
import stat
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from fnmatch import translate
from pathlib import Path

from image_automation.domain import Change, ImageRef, UpdateResult
from image_automation.errors import ManifestError
from image_automation.manifests.editing import FileEdit, apply_setters
from image_automation.manifests.lines import apply_line_setters
from image_automation.manifests.markers import MARKER_BYTES

DEFAULT_INCLUDE: tuple[str, ...] = ("*.yaml", "*.yml", "Kustomization")
DEFAULT_MAX_FILE_SIZE = 4 * 1024 * 1024
_CHUNK = 1 << 16
_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_CLOEXEC", 0)

Editor = Callable[..., FileEdit]


@dataclass(frozen=True, slots=True)
class _Matcher:
    """Compiled globs: one regex for file names, one for relative paths."""

    names: re.Pattern[str] | None
    paths: re.Pattern[str] | None

    @classmethod
    def compile(cls, globs: Sequence[str]) -> _Matcher:
        names = [translate(g) for g in globs if "/" not in g]
        paths = [translate(g.lstrip("/")) for g in globs if "/" in g]
        return cls(
            re.compile("|".join(names)) if names else None,
            re.compile("|".join(paths)) if paths else None,
        )

    def __call__(self, name: str, rel: str) -> bool:
        if self.names is not None and self.names.match(name):
            return True
        return self.paths is not None and self.paths.match(rel) is not None


@dataclass(slots=True)
class _Found:
    rel: str
    path: str
    data: bytes
    editor: Editor


@dataclass(slots=True)
class _Report:
    warnings: list[str]
    errors: list[str]


def update_tree(
    root: Path,
    *,
    namespace: str,
    policies: Mapping[str, ImageRef],
    include: Sequence[str] | None = None,
    line_include: Sequence[str] = (),
    dry_run: bool = False,
    max_file_size: int = DEFAULT_MAX_FILE_SIZE,
) -> UpdateResult:
    """Apply every visible marker under ``root``; see the module docstring."""
    report = _Report([], [])
    yaml_match = _Matcher.compile(DEFAULT_INCLUDE if include is None else include)
    line_match = _Matcher.compile(line_include)
    found = _screen(root, yaml_match, line_match, max_file_size, report)
    changes: list[Change] = []
    written: list[str] = []
    diffs: list[str] = []
    for item in sorted(found, key=lambda f: f.rel):
        try:
            edit = item.editor(item.data, file=item.rel, namespace=namespace, policies=policies)
        except ManifestError as exc:
            report.errors.append(str(exc))
            continue
        report.warnings.extend(edit.warnings)
        if not edit.changed:
            continue
        if dry_run:
            diffs.append(_diff(item.rel, item.data, edit.new_bytes))
        else:
            try:
                _write_atomic(item.path, edit.new_bytes)
            except OSError as exc:
                report.errors.append(f"{item.rel}: cannot write: {exc.strerror or exc}")
                continue
            written.append(item.rel)
        changes.extend(edit.changes)
    return UpdateResult(
        changes=tuple(changes),
        warnings=tuple(report.warnings),
        errors=tuple(report.errors),
        files_written=tuple(written),
        diff="".join(diffs),
    )


def _screen(
    root: Path,
    yaml_match: _Matcher,
    line_match: _Matcher,
    limit: int,
    report: _Report,
) -> list[_Found]:
    """Every included regular file under ``root`` that holds the marker bytes.

    The hot loop of the whole updater (10,000 files, ~1 % marked): unmarked files cost
    one open, one read and one ``in``. Keep per-file work here minimal.
    """
    top = os.path.realpath(root)
    found: list[_Found] = []
    stack: list[tuple[str, str]] = [(str(root), "")]
    lines_on = line_match.names is not None or line_match.paths is not None
    while stack:
        directory, prefix = stack.pop()
        try:
            entries = list(os.scandir(directory))
        except OSError as exc:
            report.errors.append(f"{prefix or '.'}: cannot list: {exc.strerror or exc}")
            continue
        for entry in entries:
            name = entry.name
            if entry.is_symlink():
                _check_symlink(entry, prefix + name, top, (yaml_match, line_match), report)
            elif entry.is_dir(follow_symlinks=False):
                if name != ".git":
                    stack.append((entry.path, prefix + name + "/"))
            elif lines_on and line_match(name, prefix + name):
                _read_marked(entry.path, prefix + name, apply_line_setters, limit, report, found)
            elif yaml_match(name, prefix + name):
                _read_marked(entry.path, prefix + name, apply_setters, limit, report, found)
    return found


def _check_symlink(
    entry: os.DirEntry[str],
    rel: str,
    top: str,
    matchers: tuple[_Matcher, _Matcher],
    report: _Report,
) -> None:
    """Refuse (report) a symlink that leads out of the tree; never follow any."""
    is_dir = entry.is_dir()  # follows the link: a dir link may hide included files
    if not is_dir and not any(m(entry.name, rel) for m in matchers):
        return
    target = os.path.realpath(entry.path)
    if target != top and not target.startswith(top.rstrip(os.sep) + os.sep):
        report.errors.append(f"{rel}: symlink leads out of the repository; refused")


def _read_marked(
    path: str,
    rel: str,
    editor: Editor,
    max_file_size: int,
    report: _Report,
    found: list[_Found],
) -> None:
    try:
        fd = os.open(path, _OPEN_FLAGS)
    except OSError as exc:
        report.errors.append(f"{rel}: cannot open: {exc.strerror or exc}")
        return
    try:
        data = os.read(fd, _CHUNK)
        if len(data) == _CHUNK:
            size = os.fstat(fd).st_size
            if size > max_file_size:
                report.warnings.append(
                    f"{rel}: skipped: {size} bytes is over the {max_file_size}-byte limit"
                )
                return
            data += _read_rest(fd, max_file_size - len(data))
    except OSError as exc:
        report.errors.append(f"{rel}: cannot read: {exc.strerror or exc}")
        return
    finally:
        os.close(fd)
    if len(data) > max_file_size:
        report.warnings.append(f"{rel}: skipped: over the {max_file_size}-byte limit")
    elif MARKER_BYTES in data:
        found.append(_Found(rel, path, data, editor))


def _read_rest(fd: int, budget: int) -> bytes:
    chunks: list[bytes] = []
    while budget >= 0:
        chunk = os.read(fd, _CHUNK)
        if not chunk:
            break
        chunks.append(chunk)
        budget -= len(chunk)
    return b"".join(chunks)


def _write_atomic(path: str, data: bytes) -> None:
    """Write ``data`` to a sibling temp file with ``path``'s mode, then rename it over."""
    mode = stat.S_IMODE(os.lstat(path).st_mode)
    directory, name = os.path.split(path)
    tmp = os.path.join(directory, f".{name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_CLOEXEC", 0), 0o600)
    try:
        try:
            view = memoryview(data)
            while view:
                view = view[os.write(fd, view) :]
            os.fchmod(fd, mode)
        finally:
            os.close(fd)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise


def _diff(rel: str, old: bytes, new: bytes) -> str:
    before = old.decode("utf-8", "replace").splitlines(keepends=True)
    after = new.decode("utf-8", "replace").splitlines(keepends=True)
    lines = difflib.unified_diff(before, after, f"a/{rel}", f"b/{rel}")
    return "".join(line if line.endswith("\n") else line + "\n" for line in lines)


__all__ = ["DEFAULT_INCLUDE", "DEFAULT_MAX_FILE_SIZE", "update_tree"]
