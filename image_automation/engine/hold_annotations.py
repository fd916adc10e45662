"""A hold in Git: the policy's ``image-automation.io/hold`` annotation, deleted to release.

The state store keeps holds; Git is where people look. After a push-delivery run, each
policy whose document lives in the checkout gets the annotation while a hold keeps it (the
value names the held version, the rolled-back-from one and the human's commit) and loses
it once the hold is released, in one commit of ours. Before the next run selects, a hold
in force whose annotation is gone although a commit once added it — a human deleted it —
is released. An annotation never written (a policy outside the checkout, a push that
failed) releases nothing: ``git log -S`` on the file tells the two apart.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import Hold, UpdateResult
from image_automation.engine.automations import AutomationPlan
from image_automation.git import Workspace
from image_automation.manifests.annotations import remove_annotation, set_annotation
from image_automation.state import StateStore

log = logging.getLogger(__name__)

HOLD_ANNOTATION = "image-automation.io/hold"
MAX_POLICY_FILE = 1 << 20
"""Policy files larger than this are not edited (they were loaded under the same cap)."""


def annotation_value(hold: Hold) -> str:
    """The annotation's text: it names the hold's commit, which the release check looks for."""
    return (
        f"{hold.tag} (rolled back from {hold.rolled_back_from} in {hold.commit[:12]}); "
        "delete this annotation to release"
    )


def _annotation(policy: ResolvedPolicy) -> object:
    annotations = (policy.source.obj.metadata.model_extra or {}).get("annotations") or {}
    return annotations.get(HOLD_ANNOTATION) if isinstance(annotations, dict) else None


def _file_in(workspace: Workspace, policy: ResolvedPolicy) -> Path | None:
    """The policy's document file inside the checkout, or ``None`` (read from elsewhere)."""
    rel = policy.source.file
    if not rel or Path(rel).is_absolute() or ".." in Path(rel).parts:
        return None
    path = workspace.path / rel
    return path if path.is_file() and not path.is_symlink() else None


async def release_deleted(
    workspace: Workspace, policies: Sequence[ResolvedPolicy], *, store: StateStore,
    now: datetime,
) -> list[Hold]:  # fmt: skip
    """Release each hold in force whose annotation a human deleted; return them."""
    released: list[Hold] = []
    for policy in policies:
        hold = await store.hold(policy.key)
        if hold is None or not hold.active or _file_in(workspace, policy) is None:
            continue
        value = _annotation(policy)
        if isinstance(value, str) and hold.commit[:12] in value:
            continue
        needle = hold.commit[:12]
        if not await workspace.history_mentions(policy.source.file, needle):
            continue  # never written: nothing was deleted
        done = await store.release_hold(policy.key, now=now)
        if done is not None:
            log.warning("hold of %s released: its %s annotation was deleted in Git",
                        policy.key, HOLD_ANNOTATION)  # fmt: skip
            released.append(done)
    return released


async def sync_annotations(
    plan: AutomationPlan, workspace: Workspace, policies: Sequence[ResolvedPolicy], *,
    store: StateStore,
) -> str | None:  # fmt: skip
    """Commit and push the hold annotations the store's holds call for; the commit or None."""
    wanted: list[tuple[ResolvedPolicy, Hold | None]] = []
    for policy in policies:
        if _file_in(workspace, policy) is None:
            continue
        hold = await store.hold(policy.key)
        active = hold if hold is not None and hold.active else None
        has = _annotation(policy)
        if (active is None and has is not None) or (
            active is not None and has != annotation_value(active)
        ):
            wanted.append((policy, active))
    if not wanted:
        return None

    async def apply(root: Path) -> UpdateResult:
        written = [rel for policy, hold in wanted if (rel := _edit(root, policy, hold))]
        return UpdateResult(files_written=tuple(written))

    names = ", ".join(p.key for p, _ in wanted)
    commit = dataclasses.replace(plan.commit, message_template=f"Hold annotations: {names}")
    published = await workspace.publish(
        apply, commit=commit, push=plan.push, automation=plan.object_name, values=plan.values
    )
    return published.commit


def _edit(root: Path, policy: ResolvedPolicy, hold: Hold | None) -> str | None:
    """Write the annotation for ``hold`` (remove it for ``None``) into the policy's file."""
    rel = policy.source.file
    path = root / rel
    try:
        if path.is_symlink() or path.stat().st_size > MAX_POLICY_FILE:
            return None
        raw = path.read_bytes()
        text = raw.decode("utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    obj = policy.source.obj
    where = {"kind": obj.kind, "name": obj.metadata.name, "namespace": obj.metadata.namespace}
    if hold is None:
        edited = remove_annotation(text, **where, key=HOLD_ANNOTATION)
    else:
        edited = set_annotation(text, **where, key=HOLD_ANNOTATION, value=annotation_value(hold))
    if edited is None or edited == text:
        return None
    tmp = path.with_name(f".{path.name}.hold-tmp")
    tmp.write_bytes(edited.encode("utf-8"))
    tmp.replace(path)  # no half-written policy file
    return rel


__all__ = ["HOLD_ANNOTATION", "annotation_value", "release_deleted", "sync_annotations"]
