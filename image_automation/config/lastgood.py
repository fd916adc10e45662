"""Re-read policy files again and again; a file that breaks keeps its last good version.

A long-running process reads the repository's policy files before every reconcile. When
someone pushes a broken edit to one file, dropping that file's policies would make the
automation stop updating (or worse, forget receivers); instead the file's previous good
documents stay in effect and the problem is reported (``errors`` of the result, plus a
warning naming the file). Files that were never good contribute their valid documents only.
A deleted file is forgotten. A file whose bytes are the same as last time is not parsed
again (parsing is most of the cost, and most files do not change between reconciles).
"""

from __future__ import annotations

from pathlib import Path

from image_automation.config.loading import (
    LoadResult,
    load_bytes,
    read_file,
    yaml_files_under,
)


class LastGoodFiles:
    """Loads a directory tree, remembering each file's last error-free result."""

    def __init__(self) -> None:
        self._good: dict[str, LoadResult] = {}
        self._parsed: dict[str, tuple[bytes, LoadResult]] = {}

    def load(self, root: Path) -> LoadResult:
        """Every ``*.yaml``/``*.yml`` under ``root`` (dot directories skipped); documents are
        named by their path relative to ``root``."""
        out = LoadResult()
        seen: set[str] = set()
        for path in yaml_files_under(root):
            name = path.relative_to(root).as_posix()
            seen.add(name)
            fresh = self._parse(path, name)
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
        for name in set(self._parsed) - seen:
            del self._parsed[name]
        return out

    def _parse(self, path: Path, name: str) -> LoadResult:
        """``load_file`` named by ``name``; the last result again if the bytes are the same."""
        data = read_file(path, name=name)
        if isinstance(data, LoadResult):  # unreadable or skipped: say why, cache nothing
            self._parsed.pop(name, None)
            return data
        cached = self._parsed.get(name)
        if cached is not None and cached[0] == data:
            return cached[1]
        fresh = load_bytes(data, file=str(path))
        _rename(fresh, str(path), name)
        self._parsed[name] = (data, fresh)
        return fresh


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
