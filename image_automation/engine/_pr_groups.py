"""Which pull request carries which policy: grouping, head branches, and refused versions.

An automation's selected images are split into groups, one pull request (one head branch)
each: all of them (``automation``, the default), one per policy, or one per image
repository (policies following the same image travel together). A group is edited on its
own, so a marker naming a policy of another group reads "unknown policy" to the updater:
those warnings are the grouping's doing, not the file's, and are dropped here.

Versions a closed pull request refused are (setter, value) pairs; a group leaves out every
policy one of whose changes writes a refused value, until the policy selects another one.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field

from image_automation.domain import Change, ImageRef
from image_automation.engine.automations import PullRequestPlan, head_branch
from image_automation.state import IgnoredVersion, SetterChange

_FIELDS = frozenset({"tag", "name", "digest", "image"})


@dataclass(frozen=True, slots=True)
class Group:
    """One pull request's share of an automation: its head branch and its policies' images
    (policy name → the reference its decision selected)."""

    head: str
    images: Mapping[str, ImageRef] = field(default_factory=dict)


def groups_for(pr: PullRequestPlan, images: Mapping[str, ImageRef]) -> list[Group]:
    """The groups of ``images`` under ``pr.grouping``, sorted by head branch.

    With ``automation`` grouping there is one group even when nothing is selected, so an
    open pull request whose versions the base branch already has is still looked at.
    """
    if pr.grouping == "automation":
        return [Group(head_branch(pr, policy=None, image=None), dict(images))]
    by_head: dict[str, dict[str, ImageRef]] = {}
    for name, ref in sorted(images.items()):
        if pr.grouping == "policy":
            head = head_branch(pr, policy=name, image=None)
        else:
            head = head_branch(pr, policy=None, image=ref.name)
        by_head.setdefault(head, {})[name] = ref
    return [Group(head, members) for head, members in sorted(by_head.items())]


def policy_of(setter: str) -> str:
    """The policy name of a setter: ``ns:app`` and ``ns:app:tag`` → ``app``."""
    parts = setter.split(":")
    if len(parts) >= 3 and parts[-1] in _FIELDS:
        parts = parts[:-1]
    return parts[1] if len(parts) >= 2 else setter


def refused_policies(changes: Iterable[Change], ignored: Iterable[IgnoredVersion]) -> set[str]:
    """Policies with a change that writes a refused value."""
    refused = {(iv.setter, iv.value) for iv in ignored}
    return {policy_of(c.setter) for c in changes if (c.setter, c.new) in refused}


def setter_changes(changes: Iterable[Change]) -> tuple[SetterChange, ...]:
    """One (setter, old, new) per distinct setter value, in a stable order."""
    seen = {(c.setter, c.old, c.new) for c in changes}
    return tuple(SetterChange(s, o, n) for s, o, n in sorted(seen))


def foreign_warning(warning: str, *, namespace: str, others: Sequence[str]) -> bool:
    """True for the updater's "unknown policy" warning about a policy of another group."""
    return any(warning.endswith(f"unknown policy {namespace}:{name}") for name in others)


__all__ = [
    "Group",
    "foreign_warning",
    "groups_for",
    "policy_of",
    "refused_policies",
    "setter_changes",
]
