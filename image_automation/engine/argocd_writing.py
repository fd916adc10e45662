"""Run an Image Updater plan's write-back on a checkout: read the target, edit, write.

The edit itself is pure (:mod:`~image_automation.manifests.argocd_writeback`); this reads the
one file it names (never through a symlink, never one leaving the checkout, never over the
size limit), writes the result atomically (temp file + rename) and, for a dry run, returns
the diff instead. A target that cannot be edited is a file error of the result, as a broken
manifest is for markers: the automation reports it and nothing of that file is written.
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Mapping
from pathlib import Path

from image_automation.domain import Change, ImageRef, UpdateResult
from image_automation.engine._argocd_target import ArgoWriteBack
from image_automation.errors import ConfigError, ManifestError
from image_automation.git import PushSettings, Workspace
from image_automation.git.argocd_messages import render_branch
from image_automation.manifests import DEFAULT_MAX_FILE_SIZE
from image_automation.manifests.argocd_writeback import (
    ImageWrite,
    edit_helm_values,
    edit_kustomization,
    edit_override,
)
from image_automation.manifests.diffs import unified_diff
from image_automation.manifests.walking import write_file_atomic

_KUSTOMIZATIONS = ("kustomization.yaml", "kustomization.yml", "Kustomization")
_MAX_SOURCE_FILES = 2000


def image_writes(
    target: ArgoWriteBack, images: Mapping[str, ImageRef], *, root: Path | None = None
) -> list[ImageWrite]:
    """The writes for the images that selected something (policy name → reference).

    With ``root``, an image is written only when a file under the Application's source
    path names it (Git's view of AIU's "the image is live in the Application") or it has
    ``forceUpdate``: an ``applicationRef`` selecting several Applications lists the images
    of them all, and each Application gets its own.
    """
    out = []
    texts = _source_texts(root, target.source_path) if root is not None else None
    for image in target.images:
        ref = images.get(image.policy)
        if ref is None or ref.tag is None:
            continue
        if (
            texts is not None
            and not image.force
            and not any(image.name.encode() in text for text in texts)
        ):
            continue
        out.append(ImageWrite(image.setter, image.name, ref.tag, ref.digest,
                              image.kustomize_name, image.helm_name, image.helm_tag,
                              image.helm_spec))  # fmt: skip
    return out


def _source_texts(root: Path, source: str) -> list[bytes]:
    """The text files under ``root/source`` (bounded: size per file, number of files)."""
    top = root / source
    texts: list[bytes] = []
    for directory, subdirs, files in os.walk(top):
        subdirs[:] = sorted(d for d in subdirs if not d.startswith("."))
        for name in sorted(files):
            path = Path(directory, name)
            try:
                if path.is_symlink() or path.stat().st_size > DEFAULT_MAX_FILE_SIZE:
                    continue
                texts.append(path.read_bytes())
            except OSError:
                continue
            if len(texts) >= _MAX_SOURCE_FILES:
                return texts
    return texts


def _read(root: Path, rel: str, *, missing_ok: bool) -> bytes | None:
    path = root / rel
    top = os.path.realpath(root)
    if path.is_symlink():
        raise ManifestError(f"{rel}: is a symlink; not edited")
    real = os.path.realpath(path)
    if real != top and not real.startswith(top.rstrip(os.sep) + os.sep):
        raise ManifestError(f"{rel}: leads out of the repository; refused")
    try:
        if path.stat().st_size > DEFAULT_MAX_FILE_SIZE:
            raise ManifestError(f"{rel}: over the {DEFAULT_MAX_FILE_SIZE}-byte limit; not edited")
        return path.read_bytes()
    except FileNotFoundError:
        if missing_ok:
            return None
        raise ManifestError(f"{rel}: no such file in the repository") from None
    except OSError as exc:
        raise ManifestError(f"{rel}: cannot read: {exc.strerror or exc}") from exc


def _file(root: Path, target: ArgoWriteBack) -> str:
    if target.target != "kustomization":
        return target.file
    base = "" if target.file == "." else f"{target.file}/"
    for name in _KUSTOMIZATIONS:
        if (root / base / name).is_file():
            return base + name
    raise ManifestError(f"{target.file}: holds no kustomization.yaml")


def _edit(
    root: Path, target: ArgoWriteBack, writes: list[ImageWrite]
) -> tuple[str, bytes | None, bytes, tuple[Change, ...]]:
    rel = _file(root, target)
    data = _read(root, rel, missing_ok=target.target == "override")
    if target.target == "override":
        edit = edit_override(data, file=rel, app_type=target.app_type, images=writes)
    elif target.target == "kustomization":
        assert data is not None
        edit = edit_kustomization(data, file=rel, images=writes)
    else:
        assert data is not None
        edit = edit_helm_values(data, file=rel, images=writes)
    return rel, data, edit.new_bytes, edit.changes


def write_back_sync(
    root: Path, target: ArgoWriteBack, images: Mapping[str, ImageRef], *, dry_run: bool
) -> UpdateResult:
    writes = image_writes(target, images, root=root)
    if not writes:
        return UpdateResult()
    try:
        rel, old, new, changes = _edit(root, target, writes)
        if not changes or new == old:
            return UpdateResult()
        if dry_run:
            return UpdateResult(changes=changes, diff=unified_diff(rel, old or b"", new))
        parent = (root / rel).parent
        parent.mkdir(parents=True, exist_ok=True)
        write_file_atomic(str(root / rel), new)
    except ManifestError as exc:
        return UpdateResult(errors=(str(exc),))
    except OSError as exc:
        return UpdateResult(errors=(f"{target.file}: cannot write: {exc.strerror or exc}",))
    return UpdateResult(changes=changes, files_written=(rel,))


async def write_back(
    root: Path, target: ArgoWriteBack, images: Mapping[str, ImageRef], *, dry_run: bool
) -> UpdateResult:
    return await asyncio.to_thread(write_back_sync, root, target, images, dry_run=dry_run)


async def write_branch(
    target: ArgoWriteBack, images: Mapping[str, ImageRef], workspace: Workspace, *, prepared: bool
) -> PushSettings:
    """AIU's templated write branch for what ``images`` would change on the base branch."""
    assert target.branch_template is not None
    if not prepared:
        await workspace.prepare()
    planned = await write_back(workspace.path, target, images, dry_run=True)
    aliases = {i.setter: i.alias for i in target.images}
    branch = render_branch(target.branch_template, planned.changes, app_name=target.app,
                           app_namespace=target.app_namespace, key=target.target_key,
                           aliases=aliases)  # fmt: skip
    if not branch:
        raise ConfigError(f"{target.app}: the write branch template renders an empty name")
    return PushSettings(branch=branch)


__all__ = ["image_writes", "write_back", "write_back_sync", "write_branch"]
