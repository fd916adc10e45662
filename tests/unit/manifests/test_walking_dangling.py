"""A dangling symlink is skipped with a warning, wherever it pointed; the rest is updated."""

from __future__ import annotations

from pathlib import Path

from image_automation.domain import ImageRef
from image_automation.manifests import update_tree

MARKED = 'image: ghcr.io/org/app:1.0 # {"$imagepolicy": "apps:app"}\n'


def test_dangling_symlinks_are_warnings_and_the_good_files_are_updated(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    repo.mkdir()
    (repo / "app.yaml").write_text(MARKED)
    (repo / "inside.yaml").symlink_to(repo / "deleted.yaml")
    (repo / "outside.yaml").symlink_to(tmp_path / "gone" / "x.yaml")
    (repo / "notes.txt").symlink_to(repo / "nowhere.txt")  # not an included file: silent

    result = update_tree(
        repo, namespace="apps", policies={"app": ImageRef.parse("ghcr.io/org/app:2.0")}
    )

    assert result.files_written == ("app.yaml",)
    assert result.errors == ()
    assert sorted(result.warnings) == [
        "inside.yaml: dangling symlink; skipped",
        "outside.yaml: dangling symlink; skipped",
    ]
