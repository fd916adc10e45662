"""What one stage holds, from its checkout and its history: the promotion's view of Git.

The current values are read with the updater itself: an edit of the stage's path to a value
no marker can hold, never written, whose *old* sides are what every marker holds now — found
by the same parser and rules that will later write the promoted image, so what is read is
exactly what would be replaced. Each policy's markers must agree on one image (a whole
reference, or a tag, name and digest each).

When a value landed, and what the stage rolled back from, come from the stage's history
(:meth:`~image_automation.git.Workspace.marked_history`): the marked lines each first-parent
commit added or removed. A value's landing is the newest commit that added its line; a
policy's is the latest of its markers'. History lines are read with a line parser (the
value before the marker comment, unquoted): a marker above its value, on a line of its own,
is not seen in history, and such a value's landing is the oldest commit read.
"""

from __future__ import annotations

import asyncio
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from image_automation.domain import ImageRef
from image_automation.engine._promo_plan import PromotionPlan, StagePlan
from image_automation.git import Workspace
from image_automation.git._history import HistoryCommit, MarkedHistory
from image_automation.manifests import Setter, update_tree
from image_automation.manifests.markers import find_marker_comments, resolve
from image_automation.policy._promote import (
    Held,
    Landing,
    Part,
    Rank,
    StageView,
    Step,
    held_from,
    rollbacks,
)

SENTINEL = ImageRef("promotion.invalid", "never/held", "0.0.0-never",
                    "sha256:" + "0" * 64)  # fmt: skip
"""What the reading edit would write: no marker holds it, so every marker shows a change."""


@dataclass(frozen=True, slots=True)
class Site:
    """One marker of a policy in the stage: ``file`` from the repository root."""

    file: str
    line: int
    setter: Setter
    value: str

    @property
    def where(self) -> str:
        return f"{self.file}:{self.line}"


@dataclass(slots=True)
class StageRead:
    """One stage at one moment: per policy its markers and its :class:`StageView`."""

    stage: StagePlan
    namespace: str
    sites: dict[str, list[Site]] = field(default_factory=dict)
    views: dict[str, StageView] = field(default_factory=dict)
    warnings: list[str] = field(default_factory=list)
    head: str = ""
    """The commit of the stage's branch that was read."""

    def view(self, policy: str) -> StageView:
        return self.views.get(policy) or StageView(self.stage.name, None, "not read")

    def holds(self, policy: str, ref: ImageRef) -> bool:
        """Writing ``ref`` into the stage's markers of ``policy`` would change nothing."""
        sites = self.sites.get(policy, [])
        for site in sites:
            wanted = resolve(site.setter, namespace=self.namespace, policies={policy: ref},
                             old=site.value)  # fmt: skip
            if wanted is None or wanted.value != site.value:
                return False
        return bool(sites)


async def read_stage(
    workspace: Workspace, stage: StagePlan, plan: PromotionPlan, *, rank: Mapping[str, Rank],
    head: str,
) -> StageRead:  # fmt: skip
    """Read ``stage`` in ``workspace`` (prepared at its branch's head ``head``)."""
    out = StageRead(stage, plan.namespace, head=head)
    target = workspace.path / stage.path
    if not target.is_dir():
        for policy in stage.policies:
            why = f"{stage.name}: no directory {stage.path!r} in the repository"
            out.views[policy] = StageView(stage.name, None, why)
        return out
    sentinels = dict.fromkeys(stage.policies, SENTINEL)
    result = await asyncio.to_thread(
        update_tree, target, namespace=plan.namespace, policies=sentinels, dry_run=True
    )
    prefix = "" if stage.path == "." else stage.path.rstrip("/") + "/"
    for change in result.changes:
        setter = _setter(change.setter, plan.namespace)
        if setter is not None and setter.policy in sentinels:
            site = Site(prefix + change.file, change.line, setter, change.old)
            out.sites.setdefault(setter.policy, []).append(site)
    out.warnings += [prefix + w for w in result.warnings if "unknown policy" not in w]
    out.warnings += [prefix + e for e in result.errors]
    history = await workspace.marked_history(branch=stage.repo.branch, path=stage.path)
    steps = _steps(history.commits, namespace=plan.namespace, policies=set(stage.policies))
    for policy in stage.policies:
        fallback = plan.policies[policy].image.name if policy in plan.policies else None
        out.views[policy] = _view(
            stage, policy, out.sites.get(policy, []), steps.get(policy, []), history,
            rank=rank.get(policy, _never), fallback=fallback, namespace=plan.namespace,
        )  # fmt: skip
    return out


def _never(a: str, b: str) -> bool | None:
    return None


def _setter(text: str, namespace: str) -> Setter | None:
    parts = text.split(":")
    if len(parts) == 2:
        return Setter(parts[0], parts[1]) if parts[0] == namespace else None
    if len(parts) == 3 and parts[0] == namespace:
        return Setter(parts[0], parts[1], parts[2])
    return None


def _view(
    stage: StagePlan, policy: str, sites: Sequence[Site], steps: Sequence[Step],
    history: MarkedHistory, *, rank: Rank, fallback: str | None, namespace: str,
) -> StageView:  # fmt: skip
    found = tuple(rollbacks(steps, rank=rank))
    if not sites:
        why = f"{stage.name} holds no marker of {namespace}:{policy} under {stage.path}"
        return StageView(stage.name, None, why, rollbacks=found)
    image = held_from((s.setter.field, s.value) for s in sites)
    if image is None:
        values = "; ".join(f"{s.value} ({s.where})" for s in sites[:4])
        why = f"{stage.name}'s markers of {namespace}:{policy} disagree: {values}"
        return StageView(stage.name, None, why, rollbacks=found)
    if image.name is None and fallback:
        image = Held(fallback, image.tag, image.digest)
    earlier = _earlier(steps, image)
    return StageView(stage.name, image, "", _landing(sites, history), found, earlier)


def _landing(sites: Sequence[Site], history: MarkedHistory) -> Landing | None:
    """The newest commit adding each site's line; the policy landed when the last did."""
    latest: Landing | None = None
    for site in sites:
        hit = next(
            (c for c in history.commits if _adds(c, site)), None
        )  # newest first: the first hit is the newest
        if hit is not None:
            landing = Landing(hit.sha, hit.committed_at)
        elif not history.complete and history.commits:
            oldest = history.commits[-1]
            landing = Landing(oldest.sha, oldest.committed_at, exact=False)
        else:
            return None
        if latest is None or landing.at > latest.at:
            latest = landing
    return latest


def _adds(commit: HistoryCommit, site: Site) -> bool:
    for line in commit.lines:
        if line.sign == "+" and line.file == site.file:
            parsed = parse_marked_line(line.text)
            if parsed is not None and parsed == (site.setter.text, site.value):
                return True
    return False


def _steps(
    commits: Sequence[HistoryCommit], *, namespace: str, policies: set[str]
) -> dict[str, list[Step]]:
    """Per policy, its marked values' changes, oldest commit first."""
    out: dict[str, list[Step]] = {}
    for commit in reversed(commits):
        before: dict[str, list[Part]] = {}
        after: dict[str, list[Part]] = {}
        for line in commit.lines:
            parsed = parse_marked_line(line.text)
            setter = _setter(parsed[0], namespace) if parsed else None
            if parsed is None or setter is None or setter.policy not in policies:
                continue
            into = after if line.sign == "+" else before
            into.setdefault(setter.policy, []).append((setter.field, parsed[1]))
        for policy in sorted(before.keys() | after.keys()):
            step = Step(commit.sha, commit.committed_at, tuple(before.get(policy, ())),
                        tuple(after.get(policy, ())))  # fmt: skip
            out.setdefault(policy, []).append(step)
    return out


def _earlier(steps: Sequence[Step], current: Held) -> tuple[Held, ...]:
    """Every other value the stage held, oldest first."""
    seen: list[Held] = []
    for step in steps:
        for parts in (step.before, step.after):
            value = held_from(parts) if parts else None
            fresh = value is not None and not any(value.same_bits(s) for s in seen)
            if value is not None and fresh and not value.same_bits(current):
                seen.append(value)
    return tuple(seen)


_KEY = re.compile(
    r"""^(?:-\s+)*(?:(?:"(?:[^"\\]|\\.)*"|'(?:[^']|'')*'|[^\s"'#{\[][^#]*?)\s*:(?:\s+|$))?"""
)


def parse_marked_line(text: str) -> tuple[str, str] | None:
    """``(setter, value)`` of a YAML line ``key: value # {"$imagepolicy": "ns:name"}``
    (or a list item ``- value # ...``); None when the line holds no well-formed marker."""
    found = find_marker_comments(text)
    comment = found[0] if found else None
    setter = comment.setter if comment else None
    if comment is None or setter is None:
        return None
    body = text[: comment.comment_start].strip()
    match = _KEY.match(body)
    value = body[match.end() :].strip() if match else body
    if len(value) >= 2 and value[0] == value[-1] and value[0] in "\"'":
        inner = value[1:-1]
        value = inner.replace("''", "'") if value[0] == "'" else inner.replace('\\"', '"')
    if not value:
        return None
    return setter.text, value


__all__ = ["SENTINEL", "Site", "StageRead", "parse_marked_line", "read_stage"]
