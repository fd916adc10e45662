"""One automation's edit of a checkout: the updater on ``update.path``, paths made repo-relative.

Shared by push delivery (:mod:`image_automation.engine.reconcile`) and pull-request delivery
(:mod:`image_automation.engine.pullrequests`), which edits the same tree once per group.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Mapping
from pathlib import Path

from image_automation.domain import ImageRef, UpdateResult
from image_automation.engine.automations import AutomationPlan
from image_automation.errors import ConfigError
from image_automation.manifests import update_tree


async def update_plan(
    root: Path, plan: AutomationPlan, images: Mapping[str, ImageRef], *, dry_run: bool
) -> UpdateResult:
    """Run the updater for ``plan`` on the checkout at ``root``; paths from the repository root.

    An Image Updater plan writes its Argo CD target instead (:mod:`.argocd_writing`).
    """
    if plan.argocd is not None:
        from image_automation.engine.argocd_writing import write_back

        return await write_back(root, plan.argocd, images, dry_run=dry_run)
    target = root / plan.path
    if not target.is_dir():  # the automation's mistake, not a file's
        raise ConfigError(f"update.path {plan.path!r}: no such directory in the repository")
    result = await asyncio.to_thread(
        update_tree,
        target,
        namespace=plan.namespace,
        policies=images,
        line_include=plan.line_include,
        dry_run=dry_run,
        diff_prefix=plan.path,  # the diff names files from the repository root
    )
    return _rooted(result, plan.path)


def _rooted(result: UpdateResult, path: str) -> UpdateResult:
    """Paths in the result relative to the repository root, not to ``update.path``."""
    if path in ("", "."):
        return result
    prefix = path.rstrip("/") + "/"
    return dataclasses.replace(
        result,
        changes=tuple(dataclasses.replace(c, file=prefix + c.file) for c in result.changes),
        warnings=tuple(_rooted_message(m, prefix) for m in result.warnings),
        errors=tuple(_rooted_message(m, prefix) for m in result.errors),
        files_written=tuple(prefix + f for f in result.files_written),
    )


def _rooted_message(message: str, prefix: str) -> str:
    """A ``PATH: ...`` message of the update (``.`` for its root) with ``prefix`` on PATH."""
    if message.startswith(".:"):
        return prefix.rstrip("/") + message[1:]
    return prefix + message


__all__ = ["update_plan"]
