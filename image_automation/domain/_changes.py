"""An edit of manifests as a value: what changed where. Commit messages render from it."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Change:
    """One replaced scalar. ``file`` is relative to the update root; ``line`` is 1-based."""

    file: str
    line: int
    api_version: str
    kind: str
    namespace: str
    name: str
    setter: str
    old: str
    new: str


@dataclass(frozen=True, slots=True)
class UpdateResult:
    """Everything one update run did: changes, and per-file warnings and errors.

    ``files_written`` lists the files rewritten (relative to the update root); ``diff`` is a
    unified diff of the would-be edits, filled by dry runs only.
    """

    changes: tuple[Change, ...] = ()
    warnings: tuple[str, ...] = ()
    errors: tuple[str, ...] = ()
    files_written: tuple[str, ...] = field(default=())
    diff: str = ""

    @property
    def changed(self) -> bool:
        return bool(self.changes)
