"""`update --dry-run` prints a diff that `patch -p1` and `git apply` take at the repository root.

Names with spaces (git ends them with a TAB), names git quotes, UTF-8 names, CRLF files and a
file without a final newline: applying the printed diff to a copy must give exactly the bytes
the real update writes.
"""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

CLI = Path(sys.executable).with_name("image-automation")
OLD, NEW = "ghcr.io/org/app:1.0", "ghcr.io/org/app:2.0"
MARKED = f'image: {OLD} # {{"$imagepolicy": "apps:app"}}'
FILES = {
    "clusters/my app/deploy file.yaml": f"kind: Deployment\nspec:\n  {MARKED}\n",
    "clusters/no newline.yaml": f"a: 1\n{MARKED}",
    "clusters/crlf.yaml": f"a: 1\r\n{MARKED}\r\nb: 2\r\n",
    'clusters/q"uote\\d.yaml': f"{MARKED}\n",
    "clusters/ünï côdé.yaml": f"{MARKED}\n",
    "clusters/tab\tname.yaml": f"{MARKED}\n",
    "clusters/plain.yaml": f"x: y\n{MARKED}\nz: w\n",
}


def _repo(root: Path) -> Path:
    for name, text in FILES.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(text.encode())
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def _update(path: Path, *args: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [str(CLI), "update", str(path), "--namespace", "apps", "--set", f"apps:app={NEW}", *args],
        capture_output=True,
        cwd=path.anchor,  # not the repository: the names must not depend on the cwd
        timeout=60,
        check=False,
    )


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in root.rglob("*")
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


@pytest.mark.parametrize("tool", [["patch", "-p1", "--batch", "--forward"], ["git", "apply"]])
def test_the_printed_diff_applies_at_the_repository_root(tmp_path: Path, tool: list[str]) -> None:
    repo = _repo(tmp_path / "repo")
    copy = tmp_path / "copy"
    shutil.copytree(repo, copy)
    dry = _update(repo / "clusters", "--dry-run")
    assert dry.returncode == 0, dry.stderr
    assert b"--- a/clusters/my app/deploy file.yaml\t\n" in dry.stdout
    assert _tree(repo) == _tree(copy)  # a dry run writes nothing

    applied = subprocess.run(
        tool, input=dry.stdout, cwd=copy, capture_output=True, timeout=60, check=False
    )
    assert applied.returncode == 0, applied.stdout + applied.stderr
    done = _update(repo / "clusters")
    assert done.returncode == 0, done.stderr
    assert _tree(copy) == _tree(repo)
    assert _tree(repo)["clusters/no newline.yaml"].endswith(
        NEW.encode() + b' # {"$imagepolicy": "apps:app"}'
    )
