"""The last reading of the policy files, reused while nothing it was made from changed.

Every reconcile fetches the policy repository and reads its files again, so that an edit
applies at the next run. With thousands of documents, resolving policies and planning
automations costs far more than the fetch (about half a second of CPU for 6,000 documents),
and it is the same work every time the repository's head did not move. A reading depends on
the checked-out commit (the work dir is reset to it, untracked files cleaned) and on the
secrets dir (a signing key's file must exist); so it is kept under the head commit and a
fingerprint of the secrets dir (names, sizes and modification times, two levels deep,
symlinks followed, as Kubernetes rotates Secrets by swapping links).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Generic, TypeVar

_T = TypeVar("_T")
Key = tuple[str, tuple[tuple[str, int, int], ...]]


def secrets_fingerprint(secrets_dir: Path | None) -> tuple[tuple[str, int, int], ...]:
    """(relative path, size, mtime in ns) of every file one or two levels below the dir."""
    if secrets_dir is None:
        return ()
    found: list[tuple[str, int, int]] = []
    for top in _entries(secrets_dir):
        for entry in [top, *(_entries(Path(top.path)) if _is_dir(top) else [])]:
            try:
                stat = entry.stat()
            except OSError:
                continue
            found.append((os.path.relpath(entry.path, secrets_dir), stat.st_size,
                          stat.st_mtime_ns))  # fmt: skip
    return tuple(sorted(found))


def _entries(path: Path) -> list[os.DirEntry[str]]:
    try:
        with os.scandir(path) as it:
            return list(it)
    except OSError:
        return []


def _is_dir(entry: os.DirEntry[str]) -> bool:
    try:
        return entry.is_dir()
    except OSError:
        return False


class ReadCache(Generic[_T]):
    """One remembered reading and the key it was made under."""

    def __init__(self) -> None:
        self._key: Key | None = None
        self._value: _T | None = None

    def get(self, key: Key) -> _T | None:
        return self._value if key == self._key else None

    def put(self, key: Key, value: _T) -> None:
        self._key, self._value = key, value


__all__ = ["ReadCache", "secrets_fingerprint"]
