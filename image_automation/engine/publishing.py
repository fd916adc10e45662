"""One Flux ``ImageUpdateAutomation`` from stored tags: select, edit, commit, push.

The daemon's reconcile step. The tags come from the state store (the daemon's scan jobs keep
them fresh, so a repository shared by many policies is listed once per interval); the policy
files were already read by the caller, which keeps the last good version of a broken file.
Selection is the policy engine's (``decide_from_state`` stores each Decision); the edit is
``update_tree`` on ``spec.update.path``; commit and push are ``Workspace.publish`` (a rejected
push fetches and re-applies from scratch).

Flux semantics kept: the automation uses the policies of its namespace picked by
``policySelector.matchLabels``; the author comes from ``spec.git.commit.author``; the push
branch from ``spec.git.push.branch`` (else the checkout branch). Go message templates are not
rendered here; commits use the default message (``image_automation.git.DEFAULT_TEMPLATE``).
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path, PurePosixPath

from image_automation.config.models import ImageUpdateAutomation
from image_automation.config.resolving import ResolvedPolicy
from image_automation.domain import ImageRef, UpdateResult
from image_automation.engine.deciding import decide_from_state
from image_automation.errors import ConfigError, GitConflict
from image_automation.git import CommitSettings, PublishResult, PushSettings, Workspace
from image_automation.manifests import update_tree
from image_automation.state import PushRecord, SetterChange, StateStore


@dataclass(frozen=True, slots=True)
class Selected:
    """What a policy selected: its repository, tag (``None``: nothing) and digest."""

    repository: str
    tag: str | None
    digest: str | None = None


async def select_stored(
    store: StateStore, policies: Sequence[ResolvedPolicy], *, now: datetime
) -> dict[str, Selected]:
    """``decide_from_state`` one policy at a time, keeping only the winners.

    Each full Decision (a reason for every tag) is stored and then dropped, so memory stays
    flat with a thousand policies over a thousand tags each. Policies whose repository has no
    good scan are absent.
    """
    out: dict[str, Selected] = {}
    for policy in policies:
        decisions = await decide_from_state(store, [policy], now=now)
        decision = decisions.get(policy.key)
        if decision is not None:
            out[policy.key] = Selected(policy.image.name, decision.tag, decision.digest)
    return out


@dataclass(slots=True)
class AutomationRun:
    """What one automation run did."""

    commit: str | None = None
    attempts: int = 0
    selected: dict[str, Selected] = field(default_factory=dict)
    changes: int = 0
    errors: list[str] = field(default_factory=list)


def policies_of(
    automation: ImageUpdateAutomation, policies: Sequence[ResolvedPolicy]
) -> list[ResolvedPolicy]:
    """The policies of the automation's namespace that its selector's matchLabels pick."""
    selector = automation.spec.policy_selector
    wanted = (selector.match_labels or {}) if selector else {}
    return [
        p
        for p in policies
        if p.namespace == automation.metadata.namespace
        and all(p.source.obj.metadata.labels.get(k) == v for k, v in wanted.items())
    ]


async def run_automation(
    automation: ImageUpdateAutomation,
    policies: Sequence[ResolvedPolicy],
    *,
    workspace: Workspace,
    store: StateStore,
    now: datetime,
    prepared_branch: str | None = None,
) -> AutomationRun:
    """Select from stored tags, then edit/commit/push through ``workspace``.

    ``prepared_branch``: the caller has just prepared the checkout at this branch's remote
    head; when the automation pushes to that branch the first attempt uses it as is instead
    of fetching again. A rejected push always starts over from a fresh fetch.
    """
    run = AutomationRun()
    chosen = policies_of(automation, policies)
    run.selected = await select_stored(store, chosen, now=now)
    images: dict[str, ImageRef] = {}
    for policy in chosen:
        decision = run.selected.get(policy.key)
        if decision is None:
            run.errors.append(f"policy {policy.key}: {policy.image.name} has no good scan yet")
        elif decision.tag is not None:
            digest = decision.digest if policy.digest_reflection != "Never" else None
            images[policy.name] = policy.image.with_tag(decision.tag, digest)
    path = _update_path(automation.spec.update.path)
    namespace = automation.metadata.namespace

    async def apply(root: Path) -> UpdateResult:
        target = root / path
        if not target.is_dir():
            return UpdateResult(errors=(f"update.path {path!r}: no such directory",))
        result = await asyncio.to_thread(update_tree, target, namespace=namespace, policies=images)
        return _rooted(result, path)

    branch = _push_branch(automation)
    fresh = prepared_branch is not None and branch in (None, prepared_branch)
    published = await _publish(
        workspace,
        apply,
        commit=_commit_settings(automation),
        push=PushSettings(branch=branch),
        automation=automation.key,
        fresh=fresh,
    )
    run.commit, run.attempts = published.commit, published.attempts
    run.changes = len(published.result.changes)
    run.errors.extend(published.result.errors)
    if published.commit is not None:
        changes = tuple(SetterChange(c.setter, c.old, c.new) for c in published.result.changes)
        await store.record_push(PushRecord(automation.key, published.commit, now, changes))
    return run


async def _publish(
    workspace: Workspace,
    apply: Callable[[Path], Awaitable[UpdateResult]],
    *,
    commit: CommitSettings,
    push: PushSettings,
    automation: str,
    fresh: bool,
) -> PublishResult:
    """``Workspace.publish``, except that a checkout the caller just prepared serves the first
    attempt (saving a fetch on the webhook path)."""
    if not fresh:
        return await workspace.publish(apply, commit=commit, push=push, automation=automation)
    result = await apply(workspace.path)
    sha = await workspace.commit(result, commit, automation=automation)
    if sha is None:
        return PublishResult(commit=None, result=result, attempts=1)
    try:
        refs = await workspace.push(push)
    except GitConflict:
        # The remote moved since our fetch: redo everything from a fresh checkout.
        retried = await workspace.publish(apply, commit=commit, push=push, automation=automation)
        return dataclasses.replace(retried, attempts=retried.attempts + 1)
    return PublishResult(commit=sha, result=result, attempts=1, refs=refs)


def _commit_settings(automation: ImageUpdateAutomation) -> CommitSettings:
    git = automation.spec.git
    if git is None:
        return CommitSettings()
    author = git.commit.author
    return CommitSettings(author_name=author.name or "image-automation", author_email=author.email)


def _push_branch(automation: ImageUpdateAutomation) -> str | None:
    git = automation.spec.git
    return git.push.branch if git is not None and git.push is not None else None


def _update_path(text: str) -> str:
    path = PurePosixPath(text)
    if path.is_absolute() or ".." in path.parts:
        raise ConfigError(f"update.path {text!r} must stay inside the repository")
    return str(path)


def _rooted(result: UpdateResult, path: str) -> UpdateResult:
    """File names relative to the repository root, not to ``update.path``."""
    if path in ("", "."):
        return result
    prefix = path.rstrip("/") + "/"
    return dataclasses.replace(
        result,
        changes=tuple(dataclasses.replace(c, file=prefix + c.file) for c in result.changes),
        files_written=tuple(prefix + f for f in result.files_written),
    )


__all__ = ["AutomationRun", "Selected", "policies_of", "run_automation", "select_stored"]
