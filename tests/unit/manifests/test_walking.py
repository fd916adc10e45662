"""update_tree over real directories: safety rules, reporting, atomic writes."""

from __future__ import annotations

import os
import stat
from pathlib import Path
from typing import Any

from image_automation.domain import ImageRef, UpdateResult
from image_automation.manifests import update_tree

POLICIES = {"app": ImageRef.parse("ghcr.io/org/app:2.0")}
MARKED = 'image: ghcr.io/org/app:1.0 # {"$imagepolicy": "apps:app"}\n'
UPDATED = 'image: ghcr.io/org/app:2.0 # {"$imagepolicy": "apps:app"}\n'


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _update(root: Path, **kwargs: Any) -> UpdateResult:
    return update_tree(root, namespace="apps", policies=POLICIES, **kwargs)


def test_each_bad_file_is_reported_and_the_good_ones_are_still_updated(tmp_path: Path) -> None:
    repo, outside = tmp_path / "repo", tmp_path / "outside"
    good = _write(repo / "a/good.yaml", MARKED)
    good2 = _write(repo / "z/good.yml", MARKED)
    _write(repo / "b/invalid.yaml", MARKED + "  bad: [unclosed\n")
    _write(repo / "c/unknown.yaml", 'image: x:1 # {"$imagepolicy": "apps:nope"}\n')
    big = _write(repo / "d/big.yaml", MARKED + "# padding\n" * 200)
    secret = _write(outside / "secret.yaml", MARKED)
    _write(outside / "dir/inner.yaml", MARKED)
    (repo / "e").mkdir()
    (repo / "e/escape.yaml").symlink_to(secret)
    (repo / "e/escape-dir").symlink_to(outside / "dir")

    result = update_tree(repo, namespace="apps", policies=POLICIES, max_file_size=len(MARKED) + 100)

    assert good.read_text() == UPDATED and good2.read_text() == UPDATED
    assert secret.read_text() == MARKED and big.read_text().startswith(MARKED)
    assert result.files_written == ("a/good.yaml", "z/good.yml")
    assert [c.file for c in result.changes] == ["a/good.yaml", "z/good.yml"]
    assert sorted(result.errors) == [
        "b/invalid.yaml:2: invalid YAML: did not find expected key",
        "e/escape-dir: symlink leads out of the repository; refused",
        "e/escape.yaml: symlink leads out of the repository; refused",
    ]
    assert "c/unknown.yaml:1: unknown policy apps:nope" in result.warnings
    assert any(w.startswith("d/big.yaml: skipped:") for w in result.warnings)
    assert len(result.warnings) == 2


def test_symlinks_inside_the_tree_are_not_followed(tmp_path: Path) -> None:
    target = _write(tmp_path / "real/app.yaml", MARKED)
    (tmp_path / "link.yaml").symlink_to(target)
    (tmp_path / "linkdir").symlink_to(tmp_path / "real")
    result = _update(tmp_path)
    assert result.files_written == ("real/app.yaml",)
    assert result.errors == ()
    assert (tmp_path / "link.yaml").is_symlink()


def test_dot_git_and_files_outside_the_include_globs_are_left_alone(tmp_path: Path) -> None:
    git_file = _write(tmp_path / ".git/config.yaml", MARKED)
    other = _write(tmp_path / "notes.txt", MARKED)
    json_file = _write(tmp_path / "x.json", MARKED)
    kustomization = _write(tmp_path / "base/Kustomization", MARKED)
    result = _update(tmp_path)
    assert result.files_written == ("base/Kustomization",)
    assert kustomization.read_text() == UPDATED
    for untouched in (git_file, other, json_file):
        assert untouched.read_text() == MARKED


def test_include_globs_match_names_or_relative_paths(tmp_path: Path) -> None:
    _write(tmp_path / "apps/prod/a.yaml", MARKED)
    _write(tmp_path / "apps/dev/a.yaml", MARKED)
    _write(tmp_path / "conf/app.cfg", MARKED)
    result = _update(tmp_path, include=["apps/prod/*.yaml", "*.cfg"])
    assert result.files_written == ("apps/prod/a.yaml", "conf/app.cfg")


def test_write_keeps_the_file_mode_and_leaves_no_temp_files(tmp_path: Path) -> None:
    path = _write(tmp_path / "app.yaml", MARKED)
    path.chmod(0o640)
    _update(tmp_path)
    assert stat.S_IMODE(path.stat().st_mode) == 0o640
    assert sorted(os.listdir(tmp_path)) == ["app.yaml"]
    assert path.read_text() == UPDATED


def test_dry_run_writes_nothing_and_returns_a_unified_diff(tmp_path: Path) -> None:
    path = _write(tmp_path / "app.yaml", MARKED)
    result = _update(tmp_path, dry_run=True)
    assert path.read_text() == MARKED
    assert result.files_written == ()
    assert len(result.changes) == 1
    assert result.diff.splitlines() == [
        "--- a/app.yaml",
        "+++ b/app.yaml",
        "@@ -1 +1 @@",
        "-" + MARKED.rstrip("\n"),
        "+" + UPDATED.rstrip("\n"),
    ]


def test_a_file_without_the_marker_bytes_is_never_parsed(tmp_path: Path) -> None:
    _write(tmp_path / "broken.yaml", "this: is: not: yaml: [\n")
    result = _update(tmp_path)
    assert result.errors == () and result.warnings == ()


def test_line_formats_are_off_unless_their_globs_are_given(tmp_path: Path) -> None:
    dockerfile = _write(
        tmp_path / "Dockerfile", '# {"$imagepolicy": "apps:app"}\nFROM ghcr.io/org/app:1.0\n'
    )
    assert _update(tmp_path).changes == ()
    result = _update(tmp_path, line_include=["Dockerfile"])
    assert dockerfile.read_text().endswith("FROM ghcr.io/org/app:2.0\n")
    assert [c.line for c in result.changes] == [2]


def test_invalid_utf8_is_an_error_for_that_file_only(tmp_path: Path) -> None:
    (tmp_path / "latin1.yaml").write_bytes(b"name: caf\xe9\n" + MARKED.encode())
    good = _write(tmp_path / "ok.yaml", MARKED)
    result = _update(tmp_path)
    assert result.errors == ("latin1.yaml: not UTF-8 at byte 9",)
    assert good.read_text() == UPDATED


def test_a_file_longer_than_one_read_is_read_whole(tmp_path: Path) -> None:
    path = _write(tmp_path / "long.yaml", "# filler line\n" * 20_000 + MARKED)
    result = _update(tmp_path)
    assert result.files_written == ("long.yaml",)
    assert path.read_text().endswith(UPDATED)


def test_many_writes_each_succeed_or_are_reported(tmp_path: Path) -> None:
    paths = [_write(tmp_path / f"d{i:02d}/app.yaml", MARKED) for i in range(20)]
    # A name this long leaves no room for the temporary file's name next to it.
    doomed = _write(tmp_path / ("n" * 250 + ".yaml"), MARKED)
    result = _update(tmp_path)
    assert all(p.read_text() == UPDATED for p in paths)
    assert doomed.read_text() == MARKED
    assert result.files_written == tuple(f"d{i:02d}/app.yaml" for i in range(20))
    assert [c.file for c in result.changes] == list(result.files_written)
    (error,) = result.errors
    assert error.startswith("n" * 250 + ".yaml: cannot write: ")
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith(".")) == []
