"""Running an Argo CD write-back on a checkout: the one target file is read and replaced
atomically; a target that is a symlink, leads out of the checkout through a symlinked
directory, is over the size limit or is missing is an error of the result, and nothing is
written (the checkout is byte-identical afterwards)."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.domain import ImageRef
from image_automation.engine._argocd_target import ArgoWriteBack, ImageTarget, Target
from image_automation.engine.argocd_writing import write_back_sync
from image_automation.manifests import DEFAULT_MAX_FILE_SIZE

NAME = "ghcr.io/org/web"
VALUES = f"image:\n  name: {NAME}  # kept\n  tag: 1.0.0\n"
IMAGES = {"u/web/web": ImageRef.parse(f"{NAME}:1.1.0")}


def _target(target: Target, file: str, source: str = "app") -> ArgoWriteBack:
    image = ImageTarget("u/web/web", "web", NAME, "argocd:u/web/web")
    return ArgoWriteBack("web", "argocd", target, file, "helm", (image,), source)


def _tree(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def test_values_are_written_in_place_and_the_rest_of_the_checkout_is_untouched(
    tmp_path: Path,
) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "values.yaml").write_text(VALUES)
    (tmp_path / "app" / "other.yaml").write_text("x: 1\n")
    result = write_back_sync(tmp_path, _target("helmvalues", "app/values.yaml"), IMAGES,
                             dry_run=False)  # fmt: skip
    assert not result.errors, result.errors
    assert result.files_written == ("app/values.yaml",)
    assert (tmp_path / "app" / "values.yaml").read_text() == VALUES.replace("1.0.0", "1.1.0")
    assert (tmp_path / "app" / "other.yaml").read_text() == "x: 1\n"


def _symlinked_file(root: Path, outside: Path) -> str:
    (root / "app" / "values.yaml").symlink_to(outside / "values.yaml")
    return "app/values.yaml"


def _symlinked_dir(root: Path, outside: Path) -> str:
    (root / "app" / "link").symlink_to(outside, target_is_directory=True)
    return "app/link/values.yaml"


def _huge(root: Path, outside: Path) -> str:
    (root / "app" / "values.yaml").write_text(VALUES + "#" * DEFAULT_MAX_FILE_SIZE + "\n")
    return "app/values.yaml"


def _missing(root: Path, outside: Path) -> str:
    return "app/values.yaml"


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (_symlinked_file, "is a symlink; not edited"),
        (_symlinked_dir, "leads out of the repository; refused"),
        (_huge, "-byte limit; not edited"),
        (_missing, "no such file in the repository"),
    ],
)
def test_a_hostile_target_is_an_error_and_nothing_is_written(
    tmp_path: Path, make: object, message: str
) -> None:
    root, outside = tmp_path / "repo", tmp_path / "outside"
    (root / "app").mkdir(parents=True)
    outside.mkdir()
    (outside / "values.yaml").write_text(VALUES)
    (root / "app" / "deploy.yaml").write_text(f"image: {NAME}:1.0.0\n")  # names the image
    assert callable(make)
    file = make(root, outside)
    before, before_outside = _tree(root), _tree(outside)
    result = write_back_sync(root, _target("helmvalues", file), IMAGES, dry_run=False)
    assert any(message in e and e.startswith(file) for e in result.errors), result.errors
    assert not result.files_written
    assert _tree(root) == before and _tree(outside) == before_outside  # no temp file either


def test_a_kustomization_directory_without_a_kustomization_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "deploy.yaml").write_text(f"image: {NAME}:1.0.0\n")
    result = write_back_sync(tmp_path, _target("kustomization", "app"), IMAGES, dry_run=False)
    assert result.errors == ("app: holds no kustomization.yaml",)


def test_an_image_the_source_never_names_is_not_written(tmp_path: Path) -> None:
    """AIU writes only images live in the Application: here, named under its source path."""
    (tmp_path / "app").mkdir()
    (tmp_path / "app" / "values.yaml").write_text("image: {name: nginx, tag: 1.0.0}\n")
    result = write_back_sync(tmp_path, _target("override", "app/.argocd-source-web.yaml"),
                             IMAGES, dry_run=False)  # fmt: skip
    assert (result.changes, result.files_written, result.errors) == ((), (), ())
    assert not (tmp_path / "app" / ".argocd-source-web.yaml").exists()
