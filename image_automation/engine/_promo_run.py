"""One stage of one promotion, evaluated once: what moves in, and its pull request.

From the two stages' reads (:mod:`image_automation.engine._promo_read`) each policy is
judged (:func:`image_automation.policy._promote.judge`); only images that are otherwise
ready pay for their gates (forge checks, HTTP). The images that move go to the
pull-request lifecycle of the stage — the very one automations use
(:class:`~image_automation.engine._pr_run.GroupRun`): head branch per stage (or per image),
force-push with a lease, update in place, human commits respected, a pull request closed
unmerged refuses its versions, superseded ones closed, kill -9 safe — with the stage's
path as the edit and the promotion renderer for the text.

An open pull request keeps what it carries while the newer image behind it waits (its soak,
its window, a pending gate): the newer one replaces it in place once ready. What it carries
is dropped when it is no good any more: rolled back from, or the stage has it already.

A stage with nothing to move and nothing open costs no forge request: its head branch is
looked up in git (one ``ls-remote``), and only a branch left by a run killed between push
and create makes the lifecycle ask the forge.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from image_automation.domain import ImageRef, UpdateResult
from image_automation.engine._pr_groups import Group, groups_for, policy_of
from image_automation.engine._pr_outcome import PullRequestOutcome
from image_automation.engine._pr_run import GroupRun, Shared
from image_automation.engine._promo_context import StageContext
from image_automation.engine._promo_gates import commit_checks, http_checks
from image_automation.engine._promo_plan import PromotionPlan, StagePlan
from image_automation.engine._promo_read import StageRead
from image_automation.engine._promo_text import stage_text
from image_automation.engine.pullrequests import PullRequestRun, forge_settings, run_group
from image_automation.engine.pullrequests import supersede as close_superseded
from image_automation.engine.updating import update_plan
from image_automation.errors import ImageAutomationError
from image_automation.git import Workspace
from image_automation.git.pull_requests import RenderedPullRequest
from image_automation.policy._promote import (
    GateResult,
    Held,
    Judgement,
    Rules,
    gated,
    held_from,
    judge,
    moves_back,
    ranker,
    rolled_back,
)
from image_automation.state import PullRequestRecord


@dataclass(slots=True)
class StageOutcome:
    """What one evaluation did for one stage. ``judgements``: one per policy."""

    stage: str
    source: str
    judgements: list[Judgement] = field(default_factory=list)
    gates: dict[str, list[GateResult]] = field(default_factory=dict)
    pull_requests: list[PullRequestOutcome] = field(default_factory=list)
    kept: dict[str, str] = field(default_factory=dict)
    """Policy → what its open pull request keeps while the newer image waits."""
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)


async def promote_stage(
    ctx: StageContext, plan: PromotionPlan, stage: StagePlan, *,
    reads: Mapping[int, StageRead], workspace: Workspace,
) -> StageOutcome:  # fmt: skip
    """See the module docstring; errors are collected in the outcome, never raised."""
    assert stage.source is not None
    source, target = reads[stage.source], reads[stage.index]
    out = StageOutcome(stage.name, source.stage.name)
    images, moving = await _judged(ctx, plan, stage, source, target, out)
    records = await ctx.store.pull_requests(stage.automation.key)
    opened = [r for r in records if r.state == "open"]
    _keep(plan, stage, source, target, opened, images=images, out=out, moving=moving)
    try:
        await _deliver(ctx, plan, stage, reads, workspace, images=images, moving=moving,
                       records=opened, out=out)  # fmt: skip
    except ImageAutomationError as exc:
        out.errors.append(f"pull request: {exc}")
    return out


async def _judged(
    ctx: StageContext, plan: PromotionPlan, stage: StagePlan, source: StageRead,
    target: StageRead, out: StageOutcome,
) -> tuple[dict[str, ImageRef], dict[str, Judgement]]:  # fmt: skip
    """Every policy judged, gates asked for the ready ones; the images that move now."""
    now = ctx.clock()
    closed = stage.windows.closed_because(now) if stage.windows else None
    rules = Rules(soak=stage.soak, closed=closed, backwards=stage.backwards)
    images: dict[str, ImageRef] = {}
    moving: dict[str, Judgement] = {}
    for policy in stage.policies:
        spec = plan.policies[policy].spec
        view, mine = source.view(policy), target.view(policy)
        ref = view.image.ref() if view.image else None
        current = ref is not None and target.holds(policy, ref)
        found = judge(f"{plan.namespace}/{policy}", source=view, target=mine, current=current,
                      rules=rules, now=now, rank=ranker(spec))  # fmt: skip
        if not mine.image and mine.problem:
            out.errors.append(mine.problem)
        if found.verdict == "ready" and ref is not None:
            results = await _gates(ctx, plan, stage, source, policy)
            out.gates[policy] = results
            found = gated(found, results)
        out.judgements.append(found)
        if found.verdict == "ready" and ref is not None:
            images[policy], moving[policy] = ref, found
    out.warnings += [w for w in target.warnings if w not in out.warnings]
    return images, moving


async def _gates(
    ctx: StageContext, plan: PromotionPlan, stage: StagePlan, source: StageRead, policy: str
) -> list[GateResult]:
    landing = source.view(policy).landing
    results: list[GateResult] = []
    if stage.checks:
        if landing is None:
            return [GateResult("checks", "pending", "the landing commit is not known")]
        try:
            settings = forge_settings(source.stage.automation, secrets_dir=ctx.secrets_dir)
            forge = ctx.forges.forge(settings)
        except ImageAutomationError as exc:
            return [GateResult("checks", "pending", f"no forge for {source.stage.name}: {exc}")]
        results += await commit_checks(forge, landing.sha, stage.checks, cache=ctx.cache,
                                       where=source.stage.name)  # fmt: skip
    if stage.http:
        results += await http_checks(stage.http, secrets_dir=ctx.secrets_dir, cache=ctx.cache,
                                     transport=ctx.http_transport)  # fmt: skip
    return results


def _keep(
    plan: PromotionPlan, stage: StagePlan, source: StageRead, target: StageRead,
    records: Sequence[PullRequestRecord], *, images: dict[str, ImageRef],
    out: StageOutcome, moving: Mapping[str, Judgement],
) -> None:  # fmt: skip
    """What open pull requests carry stays while it is still good and nothing replaces it."""
    rank = {p: ranker(plan.policies[p].spec) for p in stage.policies}
    for record in records:
        by_policy: dict[str, list[tuple[str, str]]] = {}
        for change in record.changes:
            name = policy_of(change.setter)
            field_ = change.setter.split(":")[2] if change.setter.count(":") == 2 else ""
            by_policy.setdefault(name, []).append((field_, change.new))
        for policy, parts in by_policy.items():
            if policy in images or policy not in stage.policies:
                continue
            carried = held_from(parts)
            ref = _ref(carried, plan, policy)
            if carried is None or ref is None or target.holds(policy, ref):
                continue
            if rolled_back(carried, source.view(policy).rollbacks) is not None:
                continue
            if not stage.backwards and moves_back(carried, target.view(policy), rank[policy]):
                continue
            images[policy] = ref
            out.kept[f"{plan.namespace}/{policy}"] = carried.short()


def _ref(held: Held | None, plan: PromotionPlan, policy: str) -> ImageRef | None:
    if held is None:
        return None
    if held.name is None and policy in plan.policies:
        held = dataclasses.replace(held, name=plan.policies[policy].image.name)
    return held.ref()


async def _deliver(
    ctx: StageContext, plan: PromotionPlan, stage: StagePlan, reads: Mapping[int, StageRead],
    workspace: Workspace, *, images: Mapping[str, ImageRef], moving: Mapping[str, Judgement],
    records: Sequence[PullRequestRecord], out: StageOutcome,
) -> None:  # fmt: skip
    pr = stage.automation.pull_request
    assert pr is not None
    groups = groups_for(pr, images)
    known = {g.head for g in groups}
    groups += [Group(r.head, {}) for r in records if r.head not in known]
    idle = [g.head for g in groups if not g.images and not any(r.head == g.head for r in records)]
    present = await workspace.remote_heads(idle) if idle else {}
    settings = forge_settings(stage.automation, secrets_dir=ctx.secrets_dir)

    async def edit(root: Path, chosen: Mapping[str, ImageRef], dry: bool) -> UpdateResult:
        done = await update_plan(root, stage.automation, chosen, dry_run=dry)
        kept = tuple(w for w in done.warnings if "unknown policy" not in w)
        return dataclasses.replace(done, warnings=kept)

    async def text(run: GroupRun, result: UpdateResult) -> RenderedPullRequest:
        return stage_text(plan, stage, reads, run=run, result=result, moving=moving,
                          gates=out.gates, judgements=out.judgements,
                          provider=settings.provider, now=ctx.clock())  # fmt: skip

    shared = Shared(
        plan=stage.automation, pr=pr, provider=settings.provider,
        forge=ctx.forges.forge(settings), store=ctx.store, workspace=workspace, edit=edit,
        clock=ctx.clock, decisions={}, selected=frozenset(stage.policies),
        dry_run=ctx.dry_run, text=text,
        close_comment=(f"Closing: nothing here is to be promoted to `{stage.name}` any more "
                       "(it has these images already, or the stage before it rolled back "
                       "from them)."),
    )  # fmt: skip
    run = PullRequestRun()
    for group in groups:
        if group.head in present and present[group.head] is None:
            out.pull_requests.append(PullRequestOutcome(group.head, "unchanged"))
            continue
        outcome = await run_group(shared, group, ctx.rate_wait, run)
        if outcome is not None:
            out.pull_requests.append(outcome)
    out.errors += run.errors
    try:
        heads = {g.head for g in groups}
        out.pull_requests += await close_superseded(shared, out.pull_requests, heads)
    except ImageAutomationError as exc:
        out.errors.append(f"closing superseded pull requests: {exc}")
    for outcome in out.pull_requests:
        out.warnings += [w for w in outcome.warnings if w not in out.warnings]


__all__ = ["StageOutcome", "promote_stage"]
