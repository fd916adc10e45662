"""What an Image Updater plan writes: one Application's write-back target and its images.

A value carried by :class:`~image_automation.engine.automations.AutomationPlan` (``argocd``),
built by :mod:`~image_automation.engine.argocd_plans` and run by
:mod:`~image_automation.engine.argocd_writing`.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from image_automation.git.flux_messages import FluxTemplate

Target = Literal["override", "kustomization", "helmvalues"]


@dataclass(frozen=True, slots=True)
class ImageTarget:
    """One image of the Application: its policy (by name), how the files spell it, and the
    Helm parameters or Kustomize name it is written under."""

    policy: str
    alias: str
    name: str
    setter: str
    kustomize_name: str | None = None
    helm_name: str | None = None
    helm_tag: str | None = None
    helm_spec: str | None = None
    force: bool = False
    """``forceUpdate``: write it even where the Application's files never name it."""


@dataclass(frozen=True, slots=True)
class ArgoWriteBack:
    """Where and how to write. ``file``: repository-relative (for ``kustomization``, the
    directory holding it); ``app_type``: the parameter shape of the override file."""

    app: str
    app_namespace: str
    target: Target
    file: str
    app_type: Literal["helm", "kustomize"]
    images: tuple[ImageTarget, ...]
    source_path: str = "."
    """The Application source's path: an image is written only where its files name it."""
    target_key: str = ""
    branch_template: FluxTemplate | None = None
    """AIU's templated write branch (``base:<template>``), rendered from the changes."""


__all__ = ["ArgoWriteBack", "ImageTarget", "Target"]
