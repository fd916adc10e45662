"""Re-read policy files again and again; a file that breaks keeps its last good version.

A long-running process reads the repository's policy files before every reconcile. When
someone pushes a broken edit to one file, dropping that file's policies would make the
automation stop updating (or worse, forget receivers); instead the file's previous good
documents stay in effect and the problem is reported (``errors`` of the result, plus a
warning naming the file). Files that were never good contribute their valid documents only.
A deleted file is forgotten.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

from image_automation.config.loading import YAML_SUFFIXES, LoadResult, load_file


class LastGoodFiles:
    """Loads a directory tree, remembering each file's last error-free result."""

    def __init__(self) -> None:
        self._good: dict[str, LoadResult] = {}

    def load(self, root: Path) -> LoadResult:
        """Every ``*.yaml``/``*.yml`` under ``root`` (dot directories skipped); documents are
        named by their path relative to ``root``."""
        out = LoadResult()
        seen: set[str] = set()
        for path in _yaml_files(root):
            name = path.relative_to(root).as_posix()
            seen.add(name)
            fresh = load_file(path)
            _rename(fresh, str(path), name)
            previous = self._good.get(name)
            if not fresh.errors:
                self._good[name] = fresh
                out.extend(fresh)
            elif previous is not None:
                out.documents.extend(previous.documents)
                out.warnings.extend(previous.warnings)
                out.errors.extend(fresh.errors)
                out.warnings.append(
                    f"{name}: {len(fresh.errors)} problem(s); keeping its last good version"
                )
            else:
                out.extend(fresh)
        for name in set(self._good) - seen:
            del self._good[name]
        return out


def _yaml_files(root: Path) -> Iterator[Path]:
    for directory, subdirs, files in os.walk(root):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            if name.endswith(YAML_SUFFIXES):
                yield Path(directory, name)


def _rename(result: LoadResult, old: str, new: str) -> None:
    """Name documents and errors by ``new`` (the path inside the repository)."""
    for index, doc in enumerate(result.documents):
        if doc.file == old:
            result.documents[index] = type(doc)(obj=doc.obj, file=new, line=doc.line,
                                                lines=doc.lines)  # fmt: skip
    for error in result.errors:
        if error.location is not None and error.location.file == old:
            error.location = type(error.location)(new, error.location.line, error.location.field)
            error.args = (f"{error.location}: {error.message}",)


__all__ = ["LastGoodFiles"]
