"""Find the policy and automation documents in a checkout of a repository.

``reconcile --repo`` reads its documents from the repository it writes to; a repository may
hold thousands of manifests, so only files that mention one of our API groups are parsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from image_automation.config.loading import MAX_FILE_BYTES, YAML_SUFFIXES, LoadResult, load_bytes
from image_automation.git import Workspace

_KIND_NEEDLES = ("image.toolkit.fluxcd.io", "image-automation.io", "source.toolkit.fluxcd.io")
_YAML_GLOBS = tuple(f"*{suffix}" for suffix in YAML_SUFFIXES)


async def discover(workspace: Workspace) -> LoadResult:
    """Load the policy and automation documents of a checkout, named by repository path.

    A repository may hold thousands of manifests; only files that mention one of our API
    groups are parsed, and git grep finds those (as fast as a grep, from several threads).
    Dot directories are skipped, as :func:`load_paths` does.
    """
    names = await workspace.files_containing(_KIND_NEEDLES, _YAML_GLOBS)
    wanted = [n for n in names if not any(p.startswith(".") for p in n.split("/")[:-1])]
    return await asyncio.to_thread(_load_files, workspace.path, wanted)


def _load_files(root: Path, names: Sequence[str]) -> LoadResult:
    result = LoadResult()
    for rel in names:
        path = root / rel
        try:
            if path.is_symlink() or path.stat().st_size > MAX_FILE_BYTES:
                result.warnings.append(f"{rel}: skipped (symlink or over {MAX_FILE_BYTES} bytes)")
                continue
            data = path.read_bytes()
        except OSError as exc:
            result.warnings.append(f"{rel}: cannot read: {exc.strerror or exc}")
            continue
        result.extend(load_bytes(data, file=rel))
    return result


__all__ = ["discover"]
