"""What no automation will set, and automations that have nothing to set: warnings.

Flux applies to a file only the policies of the automation's own namespace, so a marker
naming another namespace is skipped silently by every automation whose ``update.path``
holds the file; and an ``update.path`` without a single marker usually means a wrong path.
Both are easy to write and silent at run time; ``validate`` (given a repository checkout)
and ``reconcile`` say them once, at the marker's or the automation's line.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath

from image_automation.config.loading import Loaded, LoadResult
from image_automation.engine.automations import AutomationPlan
from image_automation.manifests import MarkerSite, find_markers


def coverage_warnings(root: Path, plans: Sequence[AutomationPlan], loaded: LoadResult) -> list[str]:
    """Warnings for the checkout at ``root`` and the automations that write to it."""
    docs = {f"{d.obj.kind}/{d.obj.key}": d for d in loaded.automations}
    found: dict[tuple[str, int], MarkerSite] = {}
    warnings: list[str] = []
    for plan in plans:
        sites = _markers_under(root, plan)
        for site in sites:
            found.setdefault((site.file, site.line), site)
        if not sites:
            warnings.append(_no_marker(plan, docs.get(plan.key)))
    for site in sorted(found.values(), key=lambda s: (s.file, s.line)):
        covering = sorted({p.namespace for p in plans if _under(site.file, p.path)})
        if site.setter.namespace not in covering:
            warnings.append(
                f"{site.file}:{site.line}: marker names {site.setter.namespace}:"
                f"{site.setter.policy}, but no automation in namespace "
                f"{site.setter.namespace} updates this file ({', '.join(covering)} do)"
            )
    return warnings


def _markers_under(root: Path, plan: AutomationPlan) -> list[MarkerSite]:
    base = root / plan.path
    if not base.is_dir():
        return []
    prefix = "" if plan.path == "." else f"{plan.path}/"
    return [
        MarkerSite(prefix + site.file, site.line, site.setter)
        for site in find_markers(base, line_include=plan.line_include)
    ]


def _under(file: str, path: str) -> bool:
    return path == "." or PurePosixPath(file).is_relative_to(path)


def _no_marker(plan: AutomationPlan, doc: Loaded | None) -> str:
    written = "./" if plan.path == "." else f"./{plan.path}"
    message = f"{written} holds no marker; {plan.key} has nothing to update"
    if doc is None:
        return message
    return f"{doc.location('spec', 'update', 'path')}: {message}"


__all__ = ["coverage_warnings"]
