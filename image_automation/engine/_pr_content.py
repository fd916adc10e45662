"""A pull request's text from one group's edit: the change set, its decisions, and what the
images say of where they were built.

The OCI labels ``org.opencontainers.image.source`` and ``org.opencontainers.image.revision``
of the old and the new image give the body a compare link between the two source
revisions. They live in each image's config blob, one or two registry requests per image;
reading them is best effort: a registry that refuses, an image without labels, an index
without our platform — the link is left out and the run goes on. The registry is reached
exactly as the scan reaches it (the same settings, secrets and per-repository hints).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from image_automation.config.loading import LoadResult
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Decision, ImageRef, InvalidReference, UpdateResult
from image_automation.engine._pr_groups import policy_of
from image_automation.engine.registry_lister import client_setup
from image_automation.engine.targets import targets_from_config
from image_automation.errors import ImageAutomationError
from image_automation.git.pull_requests import (
    ImageProvenance,
    PullRequestContent,
    RenderedPullRequest,
    render_pull_request,
)
from image_automation.registry import (
    DEFAULT_PLATFORM,
    DockerConfig,
    Platform,
    RegistryClient,
    RegistrySettings,
    SecretsDir,
)

log = logging.getLogger(__name__)

SOURCE = "org.opencontainers.image.source"
REVISION = "org.opencontainers.image.revision"


@dataclass(frozen=True, slots=True)
class RegistryAccess:
    """How the scan reaches registries; provenance lookups go the same way."""

    settings: RegistrySettings | None = None
    secrets: SecretsDir | None = None
    docker_config: DockerConfig | None = None


async def provenance(
    access: RegistryAccess | None,
    *,
    policies: Sequence[ResolvedPolicy],
    result: UpdateResult,
    selected: Mapping[str, ImageRef],
) -> dict[str, ImageProvenance]:
    """New reference → its provenance, for the policies ``result`` changed. ``{}`` without
    ``access`` (dry runs of tests); never raises for a registry's sake."""
    if access is None or not result.changes:
        return {}
    by_name = {p.name: p for p in policies}
    pairs: dict[str, tuple[ResolvedPolicy, ImageRef, ImageRef | None]] = {}
    for change in result.changes:
        name = policy_of(change.setter)
        policy, new = by_name.get(name), selected.get(name)
        if policy is None or new is None or str(new) in pairs:
            continue
        pairs[str(new)] = (policy, new, _old_ref(change.old, new, change.setter))
    if not pairs:
        return {}
    chosen = [p for p, _, _ in pairs.values()]
    docs = list({id(p.repository): p.repository for p in chosen}.values())
    targets = targets_from_config(LoadResult(documents=docs), chosen).targets
    setup = client_setup(
        targets, base=access.settings, secrets=access.secrets, docker_config=access.docker_config
    )
    client = RegistryClient(
        settings=setup.settings,
        credentials=setup.credentials,
        repository_credentials=setup.repository_credentials,
    )
    out: dict[str, ImageProvenance] = {}
    async with client:
        for key, (policy, new, old) in pairs.items():
            # Both images at once: two round trips in the time of one.
            new_labels, old_labels = await asyncio.gather(
                _labels(client, new, policy.platform),
                _labels(client, old, policy.platform) if old else _no_labels(),
            )
            source = new_labels.get(SOURCE) or old_labels.get(SOURCE)
            out[key] = ImageProvenance(
                source=source,
                old_revision=old_labels.get(REVISION),
                new_revision=new_labels.get(REVISION),
                digest=new.digest,
            )
    return out


def _old_ref(old: str, new: ImageRef, setter: str) -> ImageRef | None:
    """The image the old value names: a whole reference, or a bare tag of ``new``'s image."""
    field = setter.rsplit(":", 1)[-1] if setter.count(":") >= 2 else ""
    try:
        if field == "tag":
            return new.with_tag(old, None)
        if field:
            return None
        return ImageRef.parse(old)
    except (InvalidReference, ValueError):
        return None


async def _no_labels() -> dict[str, str]:
    return {}


async def _labels(client: RegistryClient, ref: ImageRef, platform: str | None) -> dict[str, str]:
    """The config labels of ``ref`` (by digest when it has one); ``{}`` on any failure."""
    reference = ref.digest or ref.tag
    if not reference:
        return {}
    try:
        wanted = Platform.parse(platform) if platform else DEFAULT_PLATFORM
        manifest = await client.get_manifest(ref, reference)
        if manifest.is_index:
            child = manifest.platform_digest(wanted)
            if child is None:
                return {}
            manifest = await client.get_manifest(ref, child)
        if manifest.config_digest is None:
            return {}
        config = await client.get_config(ref, manifest.config_digest)
    except (ImageAutomationError, ValueError) as exc:
        log.info("no OCI labels for %s: %s", ref, exc)
        return {}
    labels = (config.get("config") or {}).get("Labels") or {}
    if not isinstance(labels, dict):
        return {}
    return {k: v for k, v in labels.items() if isinstance(k, str) and isinstance(v, str)}


@dataclass(frozen=True, slots=True)
class TextInputs:
    """What the text of one pull request is rendered from, besides the edit itself."""

    automation: str
    head: str
    base: str
    provider: str
    title_template: str | None
    body_template: str | None


def render(
    inputs: TextInputs,
    *,
    result: UpdateResult,
    decisions: Mapping[str, Decision],
    selected: Mapping[str, ImageRef],
    held: Mapping[str, str],
    images: Mapping[str, ImageProvenance],
    namespace: str,
) -> RenderedPullRequest:
    """Title and body (raises ``PullRequestTemplateError`` for a broken template)."""
    content = PullRequestContent(
        automation=inputs.automation,
        head=inputs.head,
        base=inputs.base,
        result=result,
        decisions=decisions,
        images=images,
        selected={f"{namespace}/{name}": str(ref) for name, ref in selected.items()},
        held=held,
    )
    return render_pull_request(
        content,
        title_template=inputs.title_template,
        body_template=inputs.body_template,
        provider=inputs.provider,
    )


__all__ = ["REVISION", "SOURCE", "RegistryAccess", "TextInputs", "provenance", "render"]
