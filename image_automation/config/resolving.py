"""Loaded documents → runnable policies: link references, check ranges and regexes.

Each ImagePolicy is joined with its ImageRepository (each TrackedImage is both) and turned
into the pure :class:`~image_automation.policy.SelectionSpec`. Every semantic problem becomes a
``ConfigError`` at the line of the offending field; a broken policy is dropped, the rest stay.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import timedelta

from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.models import (
    ImagePolicy,
    ImageRepository,
    TagFilter,
    TrackedImage,
)
from image_automation.domain import ImageRef, InvalidReference
from image_automation.errors import ConfigError
from image_automation.policy import SelectionSpec, compile_pattern, parse_range

_TEMPLATE_REF = re.compile(r"\$(?:\{([A-Za-z0-9_]+)\}|([A-Za-z0-9_]+))")


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

    @property
    def key(self) -> str:
        return f"{self.namespace}/{self.name}"

    @property
    def needs_metadata(self) -> bool:
        """The scanner must fetch digests/timestamps, not only the tag list."""
        return (
            self.spec.ordering in ("newest_build", "follow")
            or self.spec.min_age is not None
            or self.digest_reflection != "Never"
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
    for doc in loaded.repositories:
        if _unique(doc, repositories, out):
            _check_repository(doc, out)
    seen: dict[str, Loaded] = {}
    for doc in loaded.policies + loaded.tracked:
        if not _unique(doc, seen, out):
            continue
        policy = _resolve_one(doc, repositories, out)
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
    image = _image(doc, doc.obj.spec.image, ("spec", "image"), out)
    _check_patterns(doc, doc.obj.spec.exclusion_list or [], ("spec", "exclusionList"), out)
    return image


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


def _check_patterns(
    doc: Loaded, patterns: Sequence[str], path: tuple[str, ...], out: Resolved
) -> bool:
    ok = True
    for index, pattern in enumerate(patterns):
        try:
            compile_pattern(pattern)
        except ValueError as exc:
            out.errors.append(ConfigError(str(exc), location=doc.location(*path, index)))
            ok = False
    return ok


def _check_filter(doc: Loaded, tag_filter: TagFilter | None, out: Resolved) -> bool:
    if tag_filter is None or not tag_filter.pattern:
        if tag_filter is not None and tag_filter.extract:
            out.errors.append(
                ConfigError(
                    "extract needs a pattern",
                    location=doc.location("spec", "filterTags", "extract"),
                )
            )
            return False
        return True
    try:
        compiled = compile_pattern(tag_filter.pattern)
    except ValueError as exc:
        out.errors.append(
            ConfigError(str(exc), location=doc.location("spec", "filterTags", "pattern"))
        )
        return False
    groups = dict(compiled.groupindex)
    group_count = int(compiled.groups)
    for match in _TEMPLATE_REF.finditer(tag_filter.extract):
        ref = match.group(1) or match.group(2)
        known = ref in groups if not ref.isdigit() else int(ref) <= group_count
        if not known:
            out.errors.append(
                ConfigError(
                    f"extract refers to ${ref}, which the pattern does not capture",
                    location=doc.location("spec", "filterTags", "extract"),
                )
            )
            return False
    return True


def _check_range(doc: Loaded, text: str, path: tuple[str, ...], out: Resolved) -> bool:
    try:
        parse_range(text)
    except ValueError as exc:
        out.errors.append(ConfigError(str(exc), location=doc.location(*path)))
        return False
    return True


def _resolve_one(
    doc: Loaded, repositories: dict[str, Loaded], out: Resolved
) -> ResolvedPolicy | None:
    if isinstance(doc.obj, ImagePolicy):
        return _resolve_flux(doc, doc.obj, repositories, out)
    assert isinstance(doc.obj, TrackedImage)
    return _resolve_native(doc, doc.obj, out)


def _resolve_flux(
    doc: Loaded, obj: ImagePolicy, repositories: dict[str, Loaded], out: Resolved
) -> ResolvedPolicy | None:
    ref = obj.spec.image_repository_ref
    repo_key = f"ImageRepository/{ref.namespace or obj.metadata.namespace}/{ref.name}"
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
    image = _image(repo_doc, repo.image, ("spec", "image"), Resolved())
    choice = obj.spec.policy
    ok = image is not None and _check_filter(doc, obj.spec.filter_tags, out)
    if choice.semver is not None:
        ok = (
            _check_range(doc, choice.semver.range, ("spec", "policy", "semver", "range"), out)
            and ok
        )
    if not ok or image is None:
        return None
    tag_filter = obj.spec.filter_tags
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
    return ResolvedPolicy(
        namespace=obj.metadata.namespace,
        name=obj.metadata.name,
        image=image,
        spec=spec,
        source=doc,
        repository=repo_doc,
        digest_reflection=obj.spec.digest_reflection_policy,
        scan_interval=repo.interval,
    )


def _resolve_native(doc: Loaded, obj: TrackedImage, out: Resolved) -> ResolvedPolicy | None:
    spec_in = obj.spec
    image = _image(doc, spec_in.image, ("spec", "image"), out)
    ok = _check_filter(doc, spec_in.filter_tags, out)
    ok = _check_patterns(doc, spec_in.allow, ("spec", "allow"), out) and ok
    ok = _check_patterns(doc, spec_in.deny, ("spec", "deny"), out) and ok
    exclusions = spec_in.scan.exclusions
    ok = (
        _check_patterns(
            doc,
            exclusions if spec_in.scan.exclusion_list else (),
            ("spec", "scan", "exclusionList"),
            out,
        )
        and ok
    )
    select = spec_in.select
    if select.semver is not None:
        ok = (
            _check_range(doc, select.semver.range, ("spec", "select", "semver", "range"), out)
            and ok
        )
    if not ok or image is None:
        return None
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
        exclusion=exclusions,
        filter_pattern=tag_filter.pattern or None if tag_filter else None,
        extract=tag_filter.extract or None if tag_filter else None,
        suffix=spec_in.suffix,
        allow=tuple(spec_in.allow),
        deny=tuple(spec_in.deny),
        pin=spec_in.pin,
        min_age=spec_in.min_age,
        **fields,  # type: ignore[arg-type]
    )
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
    )
