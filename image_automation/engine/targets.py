"""Policy files → scan targets: which repositories to scan and how.

Every ``ImageRepository`` and every ``TrackedImage`` names a repository (with or without a
policy over it); suspended ones are left alone. A repository needs metadata (digests,
build/push times) when a resolved policy over it says so (``ResolvedPolicy.needs_metadata``:
newest build, follow a tag, minimum age, digest reflection).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from image_automation.config.loading import LoadResult
from image_automation.config.models import (
    ImageRepository,
    ImageRepositorySpec,
    LocalObjectReference,
    ScanSettings,
    TrackedImage,
)
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import ImageRef, InvalidReference
from image_automation.engine.scanning import ScanTarget, merge_targets


@dataclass(slots=True)
class Targets:
    """The targets (one per repository) and the documents that could not become one."""

    targets: list[ScanTarget] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)


def targets_from_config(loaded: LoadResult, policies: Sequence[ResolvedPolicy]) -> Targets:
    """Scan targets for every non-suspended repository document in ``loaded``.

    ``policies`` are the resolved policies of the same documents; they decide which
    repositories need metadata.
    """
    out = Targets()
    wanted: list[ScanTarget] = []
    needing = {policy.image.name for policy in policies if policy.needs_metadata}
    for doc in loaded.repositories + loaded.tracked:
        obj = doc.obj
        scan: ImageRepositorySpec | ScanSettings
        if isinstance(obj, ImageRepository):
            if obj.spec.suspend:
                continue
            image_text, scan = obj.spec.image, obj.spec
        elif isinstance(obj, TrackedImage):
            image_text, scan = obj.spec.image, obj.spec.scan
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
                needs_metadata=image.name in needing,
                secret_ref=_name(scan.secret_ref),
                cert_secret_ref=_name(scan.cert_secret_ref),
                insecure=scan.insecure,
                timeout=scan.timeout.total_seconds() if scan.timeout else None,
                provider=scan.provider,
            )
        )
    out.targets = merge_targets(wanted)
    return out


def _name(ref: LocalObjectReference | None) -> str | None:
    return ref.name if ref is not None else None
