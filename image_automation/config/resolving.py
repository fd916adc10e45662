"""Loaded documents → runnable policies: link references, check ranges and regexes.

Each ImagePolicy is joined with its ImageRepository (each TrackedImage is both) and turned
into the pure :class:`~image_automation.policy.SelectionSpec`. Every semantic problem becomes a
``ConfigError`` at the line of the offending field; a broken policy is dropped, the rest stay.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import timedelta

from image_automation.config.gates import (
    AnnotationProblem,
    VerifySpec,
    release_from_annotations,
    update_windows,
    verify_from_annotations,
    windows_from_annotations,
)
from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.models import (
    ImagePolicy,
    ImagePolicyChoice,
    ImageRepository,
    TrackedImage,
)
from image_automation.domain import ImageRef, InvalidReference, Release
from image_automation.errors import ConfigError
from image_automation.policy import SelectionSpec, UpdateWindows, validate_spec


@dataclass(frozen=True, slots=True)
class ResolvedPolicy:
    """One policy ready to select: its image, its pure spec and where it was declared."""

    namespace: str
    name: str
    image: ImageRef
    spec: SelectionSpec
    source: Loaded
    repository: Loaded
    digest_reflection: str = "Never"
    platform: str | None = None
    scan_interval: timedelta = timedelta(minutes=5)
    windows: UpdateWindows = field(default_factory=UpdateWindows)
    """When this policy's value may be written (on top of its automation's windows)."""
    release: Release = "untilNewer"
    """How a hold on a human's rollback of this policy ends."""
    verify: VerifySpec | None = None
    """Signature requirement: only tags whose digest a key of the secret signed qualify."""

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def needs_metadata(self) -> bool:
        """The scanner must fetch digests/timestamps, not only the tag list."""
        return (
            self.spec.needs_tag_info or self.digest_reflection != "Never" or self.verify is not None
        )


@dataclass(slots=True)
class Resolved:
    policies: list[ResolvedPolicy] = field(default_factory=list)
    errors: list[ConfigError] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def find(self, name: str) -> list[ResolvedPolicy]:
        """Policies called ``name`` or ``namespace/name``."""
        return [p for p in self.policies if name in (p.name, p.key)]


def resolve(loaded: LoadResult) -> Resolved:
    """Resolve every policy in ``loaded``; load errors and warnings are carried over."""
    out = Resolved(errors=list(loaded.errors), warnings=list(loaded.warnings))
    repositories: dict[str, Loaded] = {}
    images: dict[str, ImageRef | None] = {}  # each repository's image, parsed (and reported) once
    for doc in loaded.repositories:
        if _unique(doc, repositories, out):
            images[doc.obj.key] = _check_repository(doc, out)
    seen: dict[str, Loaded] = {}
    for doc in loaded.policies + loaded.tracked:
        if not _unique(doc, seen, out):
            continue
        if isinstance(doc.obj, ImagePolicy) and _repository_key(doc.obj) in loaded.rejected:
            continue  # its repository's own errors say what to fix: no knock-on error
        policy = _resolve_one(doc, repositories, images, out)
        if policy is not None:
            out.policies.append(policy)
    return out


def _unique(doc: Loaded, seen: dict[str, Loaded], out: Resolved) -> bool:
    key = f"{doc.obj.kind}/{doc.obj.key}"
    first = seen.get(key)
    if first is not None:
        where = f"{first.file}:{first.line}"
        out.errors.append(
            ConfigError(f"duplicate {key}, first declared at {where}", location=doc.location())
        )
        return False
    seen[key] = doc
    return True


def _check_repository(doc: Loaded, out: Resolved) -> ImageRef | None:
    assert isinstance(doc.obj, ImageRepository)
    return _image(doc, doc.obj.spec.image, ("spec", "image"), out)


def _image(doc: Loaded, text: str, path: tuple[str, ...], out: Resolved) -> ImageRef | None:
    try:
        ref = ImageRef.parse(text)
    except InvalidReference as exc:
        out.errors.append(ConfigError(str(exc), location=doc.location(*path)))
        return None
    if ref.tag or ref.digest:
        out.errors.append(
            ConfigError(
                f"{text!r}: the image must not carry a tag or digest", location=doc.location(*path)
            )
        )
        return None
    return ref


_Fields = dict[str, tuple[str, ...]]
# validate_spec names fields as ``policy.<field>``; where each lives in our documents.
_FLUX_FIELDS: _Fields = {
    "policy.semver.range": ("spec", "policy", "semver", "range"),
    "policy.filterTags": ("spec", "filterTags"),
}
_NATIVE_FIELDS: _Fields = {
    "policy.semver.range": ("spec", "select", "semver", "range"),
    "policy.follow.tag": ("spec", "select", "follow", "tag"),
    "policy.filterTags": ("spec", "filterTags"),
    "policy.exclusion": ("spec", "scan", "exclusionList"),
    "policy.allow": ("spec", "allow"),
    "policy.deny": ("spec", "deny"),
    "policy.minAge": ("spec", "minAge"),
}
_PROBLEM = re.compile(r"^policy\.([A-Za-z.]+?)(?:\[(\d+)\])?: (.*)$", re.S)


def _report(
    spec: SelectionSpec,
    *,
    docs: dict[str, tuple[Loaded, _Fields]],
    out: Resolved,
) -> bool:
    """Run the policy engine's own checks; pin each problem to the field's line.

    ``docs`` maps a ``policy.<prefix>`` to the document holding that field and the field
    table to use (a Flux policy's exclusion list lives in its ImageRepository document).
    """
    problems = validate_spec(spec)
    for problem in problems:
        match = _PROBLEM.match(problem)
        field, index, message = match.groups() if match else ("", None, problem)
        doc, table = docs.get(f"policy.{field.split('.')[0]}", docs["*"])
        path: tuple[str | int, ...] = ()
        for prefix, where in table.items():
            if f"policy.{field}".startswith(prefix):
                path = where + tuple(f"policy.{field}"[len(prefix) :].strip(".").split(".") or ())
                break
        path = tuple(p for p in path if p != "")
        if index is not None:
            path = (*path, int(index))
        out.errors.append(ConfigError(message, location=doc.location(*path)))
    return not problems


def _resolve_one(
    doc: Loaded,
    repositories: dict[str, Loaded],
    images: dict[str, ImageRef | None],
    out: Resolved,
) -> ResolvedPolicy | None:
    if isinstance(doc.obj, ImagePolicy):
        return _resolve_flux(doc, doc.obj, repositories, images, out)
    assert isinstance(doc.obj, TrackedImage)
    return _resolve_native(doc, doc.obj, out)


def _repository_key(obj: ImagePolicy) -> str:
    ref = obj.spec.image_repository_ref
    return f"ImageRepository/{ref.namespace or obj.metadata.namespace}/{ref.name}"


def _resolve_flux(
    doc: Loaded,
    obj: ImagePolicy,
    repositories: dict[str, Loaded],
    images: dict[str, ImageRef | None],
    out: Resolved,
) -> ResolvedPolicy | None:
    repo_key = _repository_key(obj)
    repo_doc = repositories.get(repo_key)
    if repo_doc is None:
        out.errors.append(
            ConfigError(
                f"{repo_key} not found in the loaded files",
                location=doc.location("spec", "imageRepositoryRef", "name"),
            )
        )
        return None
    assert isinstance(repo_doc.obj, ImageRepository)
    repo = repo_doc.obj.spec
    image = images[repo_doc.obj.key]
    choice = obj.spec.policy
    tag_filter = obj.spec.filter_tags
    _warn_several_orderings(doc, choice, out)
    if choice.semver is not None:
        ordering, order, semver_range = "semver", "asc", choice.semver.range
    elif choice.alphabetical is not None:
        ordering, order, semver_range = "alphabetical", choice.alphabetical.order, None
    else:
        assert choice.numerical is not None
        ordering, order, semver_range = "numerical", choice.numerical.order, None
    spec = SelectionSpec(
        name=obj.key,
        ordering=ordering,  # type: ignore[arg-type]
        semver_range=semver_range,
        order=order,  # type: ignore[arg-type]
        exclusion=repo.exclusions,
        filter_pattern=tag_filter.pattern or None if tag_filter else None,
        extract=tag_filter.extract or None if tag_filter else None,
    )
    repo_fields: _Fields = {"policy.exclusion": ("spec", "exclusionList")}
    docs: dict[str, tuple[Loaded, _Fields]] = {
        "*": (doc, _FLUX_FIELDS),
        "policy.exclusion": (repo_doc, repo_fields),
    }
    if not _report(spec, docs=docs, out=out) or image is None:
        return None
    annotations = (obj.metadata.model_extra or {}).get("annotations")
    try:
        windows = windows_from_annotations(annotations)
        release = release_from_annotations(annotations)
        verify = verify_from_annotations(annotations)
    except AnnotationProblem as exc:
        where = doc.location("metadata", "annotations", exc.key)
        out.errors.append(ConfigError(str(exc), location=where))
        return None
    return ResolvedPolicy(
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        image=image,
        spec=spec,
        source=doc,
        repository=repo_doc,
        digest_reflection=obj.spec.digest_reflection_policy,
        scan_interval=repo.interval,
        windows=windows,
        release=release,
        verify=verify,
    )


def _warn_several_orderings(doc: Loaded, choice: ImagePolicyChoice, out: Resolved) -> None:
    """Flux accepts several and picks by its own precedence; so do we, and say so."""
    chosen = choice.chosen
    if len(chosen) > 1:
        out.warnings.append(
            f"{doc.location('spec', 'policy')}: more than one of {', '.join(chosen)} is set; "
            f"{chosen[0]} is used, as Flux does"
        )


def _resolve_native(doc: Loaded, obj: TrackedImage, out: Resolved) -> ResolvedPolicy | None:
    spec_in = obj.spec
    image = _image(doc, spec_in.image, ("spec", "image"), out)
    select = spec_in.select
    tag_filter = spec_in.filter_tags
    fields: dict[str, object] = {}
    if select.semver is not None:
        fields = {
            "ordering": "semver",
            "semver_range": select.semver.range,
            "prereleases": select.semver.prereleases,
            "strict_semver": select.semver.strict,
        }
    elif select.alphabetical is not None:
        fields = {"ordering": "alphabetical", "order": select.alphabetical.order}
    elif select.numerical is not None:
        fields = {"ordering": "numerical", "order": select.numerical.order}
    elif select.newest_build is not None:
        fields = {"ordering": "newest_build"}
    elif select.follow is not None:
        fields = {"ordering": "follow", "follow_tag": select.follow.tag}
    spec = SelectionSpec(
        name=obj.key,
        exclusion=spec_in.scan.exclusions,
        filter_pattern=tag_filter.pattern or None if tag_filter else None,
        extract=tag_filter.extract or None if tag_filter else None,
        suffix=spec_in.suffix,
        allow=tuple(spec_in.allow),
        deny=tuple(spec_in.deny),
        pin=spec_in.pin,
        min_age=spec_in.min_age,
        **fields,  # type: ignore[arg-type]
    )
    if not _report(spec, docs={"*": (doc, _NATIVE_FIELDS)}, out=out) or image is None:
        return None
    return ResolvedPolicy(
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        image=image,
        spec=spec,
        source=doc,
        repository=doc,
        digest_reflection=spec_in.digest_reflection_policy,
        platform=spec_in.scan.platform,
        scan_interval=spec_in.scan.interval,
        windows=update_windows(spec_in.windows, spec_in.freeze),
        release=spec_in.rollback.release,
        verify=spec_in.verify,
    )
