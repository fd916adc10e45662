"""Find the policy and automation documents in a checkout of a repository.

``reconcile --repo`` reads its documents from the repository it writes to; a repository may
hold thousands of manifests, so only files that mention one of our API groups are parsed.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from pathlib import Path

from image_automation.config.loading import YAML_SUFFIXES, LoadResult, load_bytes, read_file
from image_automation.config.templates import ChartDirectories
from image_automation.git import Workspace

_KIND_NEEDLES = (
    "image.toolkit.fluxcd.io",
    "image-automation.io",
    "source.toolkit.fluxcd.io",
    "argoproj.io",  # Argo CD Applications, ApplicationSets, Image Updater objects
    "argocd-image-updater-config",
)
_YAML_GLOBS = tuple(f"*{suffix}" for suffix in YAML_SUFFIXES)


async def discover(workspace: Workspace) -> LoadResult:
    """Load the policy and automation documents of a checkout, named by repository path.

    A repository may hold thousands of manifests; only files that mention one of our API
    groups are parsed, and git grep finds those (as fast as a grep, from several threads).
    Dot directories are skipped, as :func:`load_paths` does.
    """
    names = await workspace.files_containing(_KIND_NEEDLES, _YAML_GLOBS)
    wanted = [n for n in names if not any(p.startswith(".") for p in n.split("/")[:-1])]
    return await asyncio.to_thread(load_files, workspace.path, wanted)


def load_files(root: Path, names: Sequence[str]) -> LoadResult:
    """Load ``names`` (paths relative to ``root``) as :func:`load_paths` loads a tree.

    Files in a Helm chart are skipped quietly, as are Go templates; files too big to be
    policy files, dangling symlinks and symlinks (never followed out of a checkout) are
    skipped with a warning.
    """
    result = LoadResult()
    charts = ChartDirectories(root)
    for rel in names:
        path = root / rel
        if charts.holds(rel):
            continue
        if path.is_symlink() and path.exists():
            result.warnings.append(f"{rel}: symlink; skipped")
            continue
        data = read_file(path, name=rel)
        if isinstance(data, LoadResult):
            result.extend(data)
            continue
        result.extend(load_bytes(data, file=rel))
    return result


__all__ = ["discover", "load_files"]
