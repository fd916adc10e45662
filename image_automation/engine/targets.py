"""Policy files → scan targets: which repositories to scan and how.

Every ``ImageRepository`` and every ``TrackedImage`` names a repository; suspended ones are
left alone. A repository needs metadata (digests, build/push times) when a policy over it
orders by build time, follows a tag, waits for a minimum age, or reflects digests — the
same rule as the policy resolver's ``needs_metadata``.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from image_automation.config.loading import LoadResult
from image_automation.config.models import (
    ImagePolicy,
    ImageRepository,
    ImageRepositorySpec,
    LocalObjectReference,
    ScanSettings,
    TrackedImage,
)
from image_automation.domain import ImageRef, InvalidReference
from image_automation.engine.scanning import ScanTarget, merge_targets


@dataclass(slots=True)
class Targets:
    """The targets (one per repository) and the documents that could not become one."""

    targets: list[ScanTarget] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    users: dict[str, list[str]] = field(default_factory=dict)
    """repository → keys (``Kind/namespace/name``) of the documents that name it."""


def targets_from_config(loaded: LoadResult) -> Targets:
    """Scan targets for every non-suspended repository document in ``loaded``."""
    out = Targets()
    wanted: list[ScanTarget] = []
    needing = _repositories_needing_metadata(loaded)
    for doc in loaded.repositories + loaded.tracked:
        obj = doc.obj
        scan: ImageRepositorySpec | ScanSettings
        if isinstance(obj, ImageRepository):
            if obj.spec.suspend:
                continue
            image_text, scan = obj.spec.image, obj.spec
            needs = obj.key in needing
        elif isinstance(obj, TrackedImage):
            image_text, scan = obj.spec.image, obj.spec.scan
            needs = _tracked_needs_metadata(obj)
        else:  # pragma: no cover - the properties above return only these kinds
            continue
        try:
            image = ImageRef.parse(image_text)
        except InvalidReference as exc:
            out.problems.append(f"{doc.file}:{doc.line}: {exc}")
            continue
        wanted.append(
            ScanTarget(
                image=image.with_tag(None),
                needs_metadata=needs,
                secret_ref=_name(scan.secret_ref),
                cert_secret_ref=_name(scan.cert_secret_ref),
                insecure=scan.insecure,
                timeout=scan.timeout.total_seconds() if scan.timeout else None,
            )
        )
        out.users.setdefault(image.name, []).append(f"{obj.kind}/{obj.key}")
    out.targets = merge_targets(wanted)
    return out


def _repositories_needing_metadata(loaded: LoadResult) -> set[str]:
    """Keys (``namespace/name``) of ImageRepositories some ImagePolicy needs metadata from."""
    keys: set[str] = set()
    for doc in loaded.policies:
        policy = doc.obj
        assert isinstance(policy, ImagePolicy)
        ref = policy.spec.image_repository_ref
        if policy.spec.digest_reflection_policy != "Never":
            keys.add(f"{ref.namespace or policy.metadata.namespace}/{ref.name}")
    return keys


def _tracked_needs_metadata(obj: TrackedImage) -> bool:
    spec = obj.spec
    return (
        spec.select.newest_build is not None
        or spec.select.follow is not None
        or spec.min_age is not None
        or spec.digest_reflection_policy != "Never"
    )


def _name(ref: LocalObjectReference | None) -> str | None:
    return ref.name if ref is not None else None
