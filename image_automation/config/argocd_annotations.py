"""AIU's legacy configuration: ``argocd-image-updater.argoproj.io/*`` annotations on Applications.

AIU v1 still reads them when an ``applicationRef`` says ``useAnnotations: true``; so do we, with
a deprecation warning, into the same shapes as the ``ImageUpdater`` fields (:class:`Legacy`).
The keys (``image-list``, ``<alias>.update-strategy``, ``.allow-tags``, ``.ignore-tags``,
``.pull-secret``, ``.platforms``, ``.force-update``, ``.helm.image-name|image-tag|image-spec``,
``.kustomize.image-name``, ``write-back-method``, ``write-back-target``, ``git-branch``,
``git-repository``) and their values are checked: an unknown key under the prefix is an
error, as a typo is. An alias holding ``/`` is spelled with ``_`` in keys, as in AIU. Pure.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from pydantic import ValidationError

from image_automation.config.argocd_images import ImageSpec, Problem, split_image_name
from image_automation.config.argocd_models import (
    AIU_GROUP,
    CommonUpdateSettings,
    GitConfig,
    HelmTarget,
    KustomizeTarget,
    ManifestTargets,
    WriteBackConfig,
)

PREFIX = AIU_GROUP + "/"
MAX_IMAGES = 100
IMAGE_LIST = PREFIX + "image-list"
_PER_IMAGE = {
    "update-strategy": "updateStrategy",
    "allow-tags": "allowTags",
    "ignore-tags": "ignoreTags",
    "pull-secret": "pullSecret",
    "platforms": "platforms",
    "force-update": "forceUpdate",
}
_TARGETS = ("helm.image-name", "helm.image-tag", "helm.image-spec", "kustomize.image-name")
_WRITE_BACK = ("write-back-method", "write-back-target", "git-branch", "git-repository")
DEPRECATION = (
    "legacy argocd-image-updater.argoproj.io annotations are deprecated in AIU v1; move them "
    "into the ImageUpdater's images[] (docs/argocd.md#legacy-annotations)"
)


@dataclass(slots=True)
class LegacyImage:
    spec: ImageSpec
    targets: ManifestTargets | None = None


@dataclass(slots=True)
class Legacy:
    """What an Application's annotations configure (nothing when it has no image-list)."""

    images: list[LegacyImage] = field(default_factory=list)
    write_back: WriteBackConfig | None = None
    problems: list[Problem] = field(default_factory=list)


def _where(key: str) -> tuple[str, ...]:
    return ("metadata", "annotations", key)


def read_annotations(annotations: object) -> Legacy:
    """The legacy configuration in ``metadata.annotations`` (any value: it is user input)."""
    out = Legacy()
    if not isinstance(annotations, Mapping):
        return out
    ours = {k: v for k, v in annotations.items() if isinstance(k, str) and k.startswith(PREFIX)}
    if IMAGE_LIST not in ours:
        return out
    for key, value in ours.items():
        if not isinstance(value, str):
            out.problems.append(Problem(_where(key), "must be a string (quote it)"))
    text = ours[IMAGE_LIST] if isinstance(ours[IMAGE_LIST], str) else ""
    aliases: dict[str, str] = {}
    if text.count(",") >= MAX_IMAGES:  # as ImageUpdater's images[]: a list, not a flood
        out.problems.append(Problem(_where(IMAGE_LIST), f"at most {MAX_IMAGES} images"))
        return out
    for item in (p.strip() for p in text.split(",")):
        if not item:
            continue
        alias, sep, image = item.partition("=")
        if not sep:  # AIU keys an alias-less image's options by its name
            alias, image = split_image_name(item)[0], item
        aliases[alias.replace("/", "_")] = alias
        where = _where(IMAGE_LIST)
        spec = ImageSpec(alias, image.strip(), CommonUpdateSettings(), where, where)
        out.images.append(LegacyImage(spec))
    _read_per_image(ours, aliases, out)
    _read_write_back(ours, out)
    out.problems.append(Problem(_where(IMAGE_LIST), DEPRECATION, error=False))
    return out


def _read_per_image(ours: Mapping[str, object], aliases: dict[str, str], out: Legacy) -> None:
    settings: dict[str, dict[str, object]] = {}
    targets: dict[str, dict[str, str]] = {}
    for key, value in ours.items():
        name = key[len(PREFIX) :]
        if key == IMAGE_LIST or name in _WRITE_BACK or not isinstance(value, str):
            continue
        alias_key, _, option = name.partition(".")
        if alias_key not in aliases or (option not in _PER_IMAGE and option not in _TARGETS):
            out.problems.append(Problem(_where(key), "unknown annotation (or an alias not in "
                                        "image-list)"))  # fmt: skip
            continue
        alias = aliases[alias_key]
        if option in _PER_IMAGE:
            settings.setdefault(alias, {})[_PER_IMAGE[option]] = _value(option, value)
        else:
            targets.setdefault(alias, {})[option] = value
    for image in out.images:
        alias = image.spec.alias
        try:
            merged = CommonUpdateSettings.model_validate(settings.get(alias, {}))
        except ValidationError as exc:
            out.problems.append(Problem(image.spec.path, f"{alias}: {exc.errors()[0]['msg']}"))
            continue
        path = _where(f"{PREFIX}{alias.replace('/', '_')}.update-strategy")
        image.spec = ImageSpec(alias, image.spec.image_name, merged, image.spec.path, path)
        image.targets = _targets(alias, targets.get(alias, {}), out.problems)


def _value(option: str, value: str) -> object:
    if option in ("ignore-tags", "platforms"):
        return [part.strip() for part in value.split(",") if part.strip()]
    if option == "force-update":
        return value.strip().lower() == "true"
    return value


def _targets(alias: str, found: dict[str, str], problems: list[Problem]) -> ManifestTargets | None:
    """The Helm parameter names or Kustomize name; a bad one is a problem at its key."""
    key = f"{PREFIX}{alias.replace('/', '_')}."
    helm = {k.removeprefix("helm.image-"): v for k, v in found.items() if k.startswith("helm.")}
    try:
        if "kustomize.image-name" in found:
            key += "kustomize.image-name"
            return ManifestTargets(kustomize=KustomizeTarget(name=found["kustomize.image-name"]))
        return ManifestTargets(helm=HelmTarget.model_validate(helm)) if helm else None
    except ValidationError as exc:
        error = exc.errors()[0]
        key += "" if key.endswith("name") else f"helm.image-{error['loc'][0]}"
        problems.append(Problem(_where(key), f"{alias}: {error['msg']}"))
        return None


def _read_write_back(ours: Mapping[str, object], out: Legacy) -> None:
    values = {k[len(PREFIX) :]: v for k, v in ours.items() if isinstance(v, str)}
    method = values.get("write-back-method")
    git: dict[str, str] = {}
    for key, field_name in (("git-branch", "branch"), ("git-repository", "repository"),
                            ("write-back-target", "writeBackTarget")):  # fmt: skip
        if key in values:
            git[field_name] = values[key]
    if method is None and not git:
        return
    try:
        out.write_back = WriteBackConfig(
            method=method, git_config=GitConfig.model_validate(git) if git else None
        )
    except ValidationError as exc:
        out.problems.append(
            Problem(_where(PREFIX + "write-back-method"), str(exc.errors()[0]["msg"]))
        )


__all__ = ["DEPRECATION", "IMAGE_LIST", "PREFIX", "Legacy", "LegacyImage", "read_annotations"]
