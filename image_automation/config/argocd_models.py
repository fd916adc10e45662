"""Argo CD Image Updater's ``ImageUpdater`` and Argo CD's ``Application``/``ApplicationSet``.

Read from Git as their owners write them, so an Argo CD shop keeps its files. The
``ImageUpdater`` (``argocd-image-updater.argoproj.io/v1alpha1``) is read strictly: an unknown
field is an error at its line, as for our own kinds. Argo CD's objects carry many fields we
never look at (sync policies, ignore rules, ...), so those models keep unknown fields and
check only what resolution reads. The image updater's ``ConfigMap``
(``argocd-image-updater-config``) is read for its ``git.*`` keys (author, message template,
signing method). A leaf like :mod:`~image_automation.config.models`: no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator

from image_automation.config.models import LabelSelector, _Model, _Object

AIU_GROUP = "argocd-image-updater.argoproj.io"
AIU_API_VERSION = f"{AIU_GROUP}/v1alpha1"
AIU_KIND = "ImageUpdater"
ARGOCD_API_VERSION = "argoproj.io/v1alpha1"
AIU_CONFIGMAP = "argocd-image-updater-config"
PR_PROVIDERS = ("github", "gitlab", "gitea", "forgejo", "bitbucket", "azuredevops")

_ALIAS = re.compile(r"[a-zA-Z0-9][a-zA-Z0-9._-]*")
_HELM_KEY = r"^(?:[^.\\\s]|\\.)+(?:\.(?:[^.\\\s]|\\.)+)*$"
_METHOD = re.compile(r"argocd|git|git:[a-zA-Z0-9][a-zA-Z0-9._/:-]*")


class CommonUpdateSettings(_Model):
    """Strategy and tag filters; the innermost level that sets a field wins."""

    update_strategy: str | None = None
    force_update: bool | None = None
    allow_tags: str | None = None
    ignore_tags: Annotated[list[str], Field(max_length=100)] | None = None
    pull_secret: str | None = None
    platforms: Annotated[list[str], Field(max_length=16)] | None = None


class PullRequestProviders(_Model):
    """``gitConfig.pullRequest``: one key names the forge; its (empty) object is the opt-in."""

    github: dict[str, Any] | None = None
    gitlab: dict[str, Any] | None = None
    gitea: dict[str, Any] | None = None
    forgejo: dict[str, Any] | None = None
    bitbucket: dict[str, Any] | None = None
    azuredevops: dict[str, Any] | None = None

    @property
    def chosen(self) -> list[str]:
        return [name for name in PR_PROVIDERS if getattr(self, name) is not None]


class GitConfig(_Model):
    repository: Annotated[str, Field(min_length=1)] | None = None
    branch: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    write_back_target: Annotated[str, Field(min_length=1, max_length=1024)] | None = None
    pull_request: PullRequestProviders | None = None


class WriteBackConfig(_Model):
    method: str | None = None
    git_config: GitConfig | None = None

    @field_validator("method")
    @classmethod
    def _method(cls, value: str | None) -> str | None:
        if value is not None and not _METHOD.fullmatch(value):
            raise ValueError(
                f"{value[:60]!r} must be argocd, git, git:repocreds or git:secret:[NS/]NAME"
            )
        return value


_HelmKey = Annotated[str, Field(max_length=253, pattern=_HELM_KEY)]
"""A Helm parameter name: dotted keys, ``\\.`` an escaped dot; no empty key (``a..b``,
``.a``, ``a.``), no whitespace, bounded (a values file is never searched for nonsense)."""


class HelmTarget(_Model):
    name: _HelmKey | None = None
    tag: _HelmKey | None = None
    spec: _HelmKey | None = None


class KustomizeTarget(_Model):
    name: Annotated[str, Field(min_length=1, max_length=1024, pattern=r"^\S+$")]


class ManifestTargets(_Model):
    helm: HelmTarget | None = None
    kustomize: KustomizeTarget | None = None


class ImageConfig(_Model):
    alias: Annotated[str, Field(min_length=1, max_length=63)]
    image_name: Annotated[str, Field(min_length=1, max_length=1024)]
    common_update_settings: CommonUpdateSettings | None = None
    manifest_targets: ManifestTargets | None = None

    @field_validator("alias")
    @classmethod
    def _alias(cls, value: str) -> str:
        if not _ALIAS.fullmatch(value):
            raise ValueError(f"{value!r} must match ^[a-zA-Z0-9][a-zA-Z0-9-._]*$")
        return value


class ApplicationRef(_Model):
    name_pattern: Annotated[str, Field(min_length=1, max_length=253)]
    label_selectors: LabelSelector | None = None
    use_annotations: bool = False
    common_update_settings: CommonUpdateSettings | None = None
    write_back_config: WriteBackConfig | None = None
    images: Annotated[list[ImageConfig], Field(max_length=100)] = Field(default_factory=list)


class ImageUpdaterSpec(_Model):
    namespace: str | None = Field(default=None, description="deprecated and ignored, as AIU")
    common_update_settings: CommonUpdateSettings | None = None
    write_back_config: WriteBackConfig | None = None
    application_refs: Annotated[list[ApplicationRef], Field(min_length=1, max_length=100)]


class ImageUpdater(_Object):
    kind: Literal["ImageUpdater"]
    spec: ImageUpdaterSpec


# --- Argo CD objects: only what resolution reads ---------------------------------------------


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)


class HelmParameter(_Lenient):
    name: str
    value: str | None = None


class SourceHelm(_Lenient):
    value_files: list[str] = Field(default_factory=list, alias="valueFiles")
    parameters: list[HelmParameter] = Field(default_factory=list)


class SourceKustomize(_Lenient):
    images: list[str] = Field(default_factory=list)


class ApplicationSource(_Lenient):
    repo_url: str = Field(alias="repoURL")
    path: str | None = None
    target_revision: str | None = Field(default=None, alias="targetRevision")
    chart: str | None = None
    ref: str | None = None
    helm: SourceHelm | None = None
    kustomize: SourceKustomize | None = None
    directory: dict[str, Any] | None = None


class ApplicationSpec(_Lenient):
    source: ApplicationSource | None = None
    sources: list[ApplicationSource] | None = None


class Application(_Object):
    """An Argo CD ``Application``; unknown fields are kept and ignored."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    kind: Literal["Application"]
    spec: ApplicationSpec


class ApplicationSet(_Object):
    """An Argo CD ``ApplicationSet``; the generators are read by the resolver as data."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    kind: Literal["ApplicationSet"]
    spec: dict[str, Any]


class ImageUpdaterConfig(_Object):
    """The ``argocd-image-updater-config`` ConfigMap (its ``git.*`` keys)."""

    model_config = ConfigDict(extra="allow", frozen=True, populate_by_name=True)
    kind: Literal["ConfigMap"]
    data: dict[str, str] = Field(default_factory=dict)


def argocd_model(api_version: str, kind: str, value: dict[str, Any]) -> type[Any] | None:
    """The model for an Argo CD (Image Updater) document, or None when it is none of them."""
    if api_version == AIU_API_VERSION and kind == AIU_KIND:
        return ImageUpdater
    if api_version == ARGOCD_API_VERSION and kind == "Application":
        return Application
    if api_version == ARGOCD_API_VERSION and kind == "ApplicationSet":
        return ApplicationSet
    if api_version == "v1" and kind == "ConfigMap":
        metadata = value.get("metadata")
        if isinstance(metadata, dict) and metadata.get("name") == AIU_CONFIGMAP:
            return ImageUpdaterConfig
    return None


def is_ours(api_version: str) -> bool:
    """An apiVersion of AIU's group: an unknown kind there is an error, not another's kind."""
    return api_version.split("/")[0] == AIU_GROUP


ArgoObject = ImageUpdater | Application | ApplicationSet | ImageUpdaterConfig

__all__ = [
    "AIU_API_VERSION",
    "AIU_CONFIGMAP",
    "AIU_GROUP",
    "AIU_KIND",
    "ARGOCD_API_VERSION",
    "PR_PROVIDERS",
    "Application",
    "ApplicationRef",
    "ApplicationSet",
    "ApplicationSource",
    "ArgoObject",
    "CommonUpdateSettings",
    "GitConfig",
    "HelmTarget",
    "ImageConfig",
    "ImageUpdater",
    "ImageUpdaterConfig",
    "KustomizeTarget",
    "ManifestTargets",
    "WriteBackConfig",
    "argocd_model",
    "is_ours",
]
