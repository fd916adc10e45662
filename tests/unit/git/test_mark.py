"""The clean mark's file reads: refs (loose, packed, odd) and what voids a mark."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest

from image_automation.git._mark import MARK, leave_mark, read_head, read_ref, take_mark

A, B = "a" * 40, "b" * 40
SETTINGS = ["file:///r.git", "main", None, []]


def _git_dir(tmp_path: Path) -> Path:
    git_dir = tmp_path / ".git"
    (git_dir / "refs" / "heads").mkdir(parents=True)
    (git_dir / "HEAD").write_text("ref: refs/heads/main\n")
    (git_dir / "refs" / "heads" / "main").write_text(f"{A}\n")
    (git_dir / "index").write_bytes(b"DIRC")
    return git_dir


@pytest.mark.parametrize(
    ("loose", "packed", "expected"),
    [
        (f"{A}\n", "", A),
        (None, f"# pack-refs with: peeled\n{B} refs/remotes/origin/main\n^{A}\n", B),
        (f"{A}\n", f"{B} refs/remotes/origin/main\n", A),  # loose wins over packed
        ("ref: refs/remotes/origin/other\n", "", None),  # symbolic: ask git
        (None, f"{B} refs/remotes/origin/mainline\n", None),
        ("not a sha\n", "", None),
    ],
)
def test_read_ref(tmp_path: Path, loose: str | None, packed: str, expected: str | None) -> None:
    ref = tmp_path / "refs" / "remotes" / "origin" / "main"
    if loose is not None:
        ref.parent.mkdir(parents=True)
        ref.write_text(loose)
    (tmp_path / "packed-refs").write_text(packed)
    assert read_ref(tmp_path, "refs/remotes/origin/main") == expected


def test_read_head_follows_the_branch_or_reads_a_detached_sha(tmp_path: Path) -> None:
    git_dir = _git_dir(tmp_path)
    assert read_head(git_dir) == A
    (git_dir / "HEAD").write_text(f"{B}\n")
    assert read_head(git_dir) == B


def test_a_mark_vouches_once(tmp_path: Path) -> None:
    git_dir = _git_dir(tmp_path)
    leave_mark(git_dir, SETTINGS)
    assert take_mark(git_dir, SETTINGS) is None
    assert not (git_dir / MARK).exists()
    assert take_mark(git_dir, SETTINGS) == "no clean mark from a finished run"


@pytest.mark.parametrize(
    ("damage", "reason"),
    [
        (lambda g: (g / "index.lock").write_text(""), "left over: index.lock"),
        (lambda g: (g / "refs" / "heads" / "main.lock").write_text(""), "left over: main.lock"),
        (lambda g: (g / "MERGE_HEAD").write_text(A), "left over: MERGE_HEAD"),
        (lambda g: (g / "rebase-merge").mkdir(), "left over: rebase-merge"),
        (lambda g: (g / "HEAD").write_text(f"{A}\n"), "HEAD or index changed"),
        (lambda g: (g / "refs" / "heads" / "main").write_text(f"{B}\n"), "HEAD or index changed"),
        (lambda g: (g / "index").write_bytes(b"DIRC more"), "HEAD or index changed"),
        (lambda g: (g / "index").unlink(), "HEAD or index changed"),
        (lambda g: (g / MARK).write_text("{"), "clean mark unreadable"),
    ],
)
def test_a_mark_is_void_after(
    tmp_path: Path, damage: Callable[[Path], object], reason: str
) -> None:
    git_dir = _git_dir(tmp_path)
    leave_mark(git_dir, SETTINGS)
    damage(git_dir)
    assert (take_mark(git_dir, SETTINGS) or "").startswith(reason)
    assert not (git_dir / MARK).exists()


def test_a_mark_for_other_settings_is_void(tmp_path: Path) -> None:
    git_dir = _git_dir(tmp_path)
    leave_mark(git_dir, SETTINGS)
    assert take_mark(git_dir, ["file:///r.git", "main", 1, []]) == "checkout settings changed"
