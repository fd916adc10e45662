"""A stage's pull-request text from its evaluation: the values the pure renderer takes.

Times become text here (the renderer has no clock and takes no datetimes): when the
previous stage got each image, how long it soaked against the stage's soak, each gate's
answer, and the chain from the first stage to this one.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime

from image_automation.domain import UpdateResult
from image_automation.engine._pr_groups import policy_of
from image_automation.engine._pr_run import GroupRun
from image_automation.engine._promo_plan import PromotionPlan, StagePlan
from image_automation.engine._promo_read import StageRead
from image_automation.git.promotions import (
    ChainLink,
    GateLine,
    MovingImage,
    PromotionContent,
    proposed_at,
    render_promotion,
)
from image_automation.git.pull_requests import RenderedPullRequest
from image_automation.policy._promote import GateResult, Judgement
from image_automation.policy._select import format_duration


def when(at: datetime | None) -> str:
    return at.strftime("%Y-%m-%d %H:%M UTC") if at else ""


def stage_text(
    plan: PromotionPlan, stage: StagePlan, reads: Mapping[int, StageRead], *, run: GroupRun,
    result: UpdateResult, moving: Mapping[str, Judgement],
    gates: Mapping[str, Sequence[GateResult]], judgements: Sequence[Judgement], provider: str,
    now: datetime,
) -> RenderedPullRequest:  # fmt: skip
    assert stage.source is not None
    source, target = reads[stage.source], reads[stage.index]
    digests = [ref.digest for ref in run.images.values() if ref.digest]
    now = _proposed(run, digests) or now  # durations as of then: an unchanged body stays so
    images: list[MovingImage] = []
    lines: list[GateLine] = []
    chains: dict[str, list[ChainLink]] = {}
    for policy, ref in sorted(run.images.items()):
        found = moving.get(policy)
        view = source.view(policy)
        since = view.landing.at if view.landing and found is not None else None
        soaked = format_duration(now - since) if since else ""
        mine = target.view(policy).image
        where = tuple(f"{c.file}:{c.line}" for c in result.changes if policy_of(c.setter) == policy)
        shown = (
            f"{soaked} (soak {format_duration(stage.soak)})" if since else "kept: a newer one waits"
        )
        images.append(MovingImage(
            image=ref.name, policy=f"{plan.namespace}/{policy}",
            old=(mine.tag or "") if mine else "", new=ref.tag or "", digest=ref.digest or "",
            since=when(since), soaked=shown, where=where,
        ))  # fmt: skip
        if found is None:  # kept from before while a newer image waits
            continue
        for gate in gates.get(policy, ()):
            line = GateLine(name=gate.name, state=gate.state, detail=gate.detail, url=gate.url)
            if line not in lines:
                lines.append(line)
        chains[ref.name] = _chain(plan, stage, reads, policy)
    fresh = [p for p in run.images if p in moving]
    least = min((now - s for s in _sinces(source, fresh)), default=None)
    each = f"{source.stage.name} has had {'it' if len(fresh) == 1 else 'each'} for "
    each += format_duration(least) if least is not None else "an unknown time"
    soak = GateLine(name=f"soak {format_duration(stage.soak)}", state="success", detail=each)
    window = []
    if stage.windows:
        names = "; ".join(w.describe() for w in stage.windows.windows)
        window = [GateLine(name=f"window {names}", state="success", detail="open")]
    held = {
        j.policy: j.note or j.reason
        for j in judgements
        if j.verdict in ("waiting", "held") and j.policy.split("/", 1)[-1] in _scope(run)
    }
    content = PromotionContent(
        promotion=plan.key, owner=run.key, head=run.head, base=run.base, source=source.stage.name,
        target=stage.name, images=images, gates=[soak, *window, *lines], chains=chains,
        held=held, diff=result.diff, proposed_at=now.replace(microsecond=0).isoformat(),
    )  # fmt: skip
    return render_promotion(content, provider=provider)


def _proposed(run: GroupRun, digests: Sequence[str]) -> datetime | None:
    stamp = proposed_at(run.current.body if run.current else None, digests)
    try:
        return datetime.fromisoformat(stamp) if stamp else None
    except ValueError:
        return None


def _sinces(source: StageRead, policies: Sequence[str]) -> list[datetime]:
    views = (source.view(p) for p in policies)
    return [v.landing.at for v in views if v.landing is not None]


def _scope(run: GroupRun) -> set[str]:
    """The policies this pull request speaks for (all of the stage's, for one per stage)."""
    return set(run.s.selected) if run.s.pr.grouping == "automation" else set(run.images)


def _chain(
    plan: PromotionPlan, stage: StagePlan, reads: Mapping[int, StageRead], policy: str
) -> list[ChainLink]:
    """From the first stage to ``stage``: what each holds of ``policy`` and since when."""
    path: list[StagePlan] = []
    node: StagePlan | None = stage
    while node is not None and node not in path:
        path.append(node)
        node = plan.stages[node.source] if node.source is not None else None
    links = []
    for step in reversed(path):
        read = reads.get(step.index)
        view = read.view(policy) if read else None
        held = view.image if view else None
        since = view.landing.at if view and view.landing else None
        links.append(ChainLink(stage=step.name, value=held.tag or "" if held else "",
                               since=when(since)))  # fmt: skip
    return links


__all__ = ["stage_text", "when"]
