"""Promotions: one digest carried dev → staging → prod, each step a pull request.

The first stage is fed by the usual automation from the registry. For every later stage the
evaluation reads, on the stage-before's branch, the exact image its marked fields hold and
when that value landed there (git history: a human's commit counts), and — soaked long
enough, gates green, window open — opens or updates one pull request that sets that image,
digest-pinned, in this stage. See docs/promotion.md.

One evaluation (:func:`run_promotion`) is a snapshot: every stage's checkout is prepared and
read first, then each stage after the first is taken one step further, in the order of the
stages it follows. Checkouts are one per (repository, branch), locked in a fixed order so
two promotions sharing repositories never wait on each other in a circle.

API (``image-automation promote --once`` and the daemon share it)::

    report = await promote_once(PromoteRequest(work_dir=..., repo=RepoTarget(...)),
                                store=store, clock=clock, forges=pool)
    report.ok; report.promotions -> [PromotionOutcome]
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from datetime import datetime
from pathlib import Path

import httpx

from image_automation.config.loading import LoadResult, load_paths
from image_automation.config.resolving import resolve
from image_automation.domain import redact
from image_automation.engine._pr_forges import ForgePool
from image_automation.engine._promo_context import StageContext
from image_automation.engine._promo_plan import (
    PromotionPlan,
    PromotionPlans,
    StagePlan,
    marker_problems,
    plan_promotions,
)
from image_automation.engine._promo_read import StageRead, read_stage
from image_automation.engine._promo_run import StageOutcome, promote_stage
from image_automation.engine.automations import STAND_IN, PlanContext, RepoTarget, auth_for
from image_automation.engine.discovery import discover
from image_automation.errors import ConfigError, ImageAutomationError
from image_automation.git import RepoSpec, Workspace
from image_automation.policy._promote import ranker
from image_automation.state import StateStore

log = logging.getLogger(__name__)

Place = tuple[str, str]


@dataclass(slots=True)
class PromotionOutcome:
    key: str
    stages: list[StageOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    skipped: str = ""
    chain: tuple[str, ...] = ()
    """Stage names, first stage first."""

    @property
    def ok(self) -> bool:
        return not self.errors and all(not s.errors for s in self.stages)


@dataclass(slots=True)
class PromotionReport:
    promotions: list[PromotionOutcome] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return not self.errors and all(p.ok for p in self.promotions)


@dataclass(frozen=True, slots=True)
class PromoteRequest:
    """One ``promote --once``: documents from the ``--repo`` checkout and ``config_paths``."""

    work_dir: Path
    repo: RepoTarget | None = None
    config_paths: tuple[Path, ...] = ()
    secrets_dir: Path | None = None
    dry_run: bool = False
    lock_timeout: float | None = None


@dataclass(frozen=True, slots=True)
class Checkouts:
    """How an evaluation opens the checkouts of its stages."""

    work_dir: Path
    secrets_dir: Path | None = None
    lock_timeout: float | None = None
    home: Workspace | None = None
    """An open checkout the caller holds (its lock too): used, never opened twice."""
    home_head: str | None = None
    """The commit ``home`` was just prepared at (then it is not fetched again)."""


async def promote_once(
    request: PromoteRequest, *, store: StateStore, clock: Callable[[], datetime],
    forges: ForgePool, http_transport: httpx.AsyncBaseTransport | None = None,
) -> PromotionReport:  # fmt: skip
    """Evaluate every promotion found once; see the module docstring."""
    report = PromotionReport()
    loaded = await asyncio.to_thread(load_paths, request.config_paths)
    async with AsyncExitStack() as stack:
        home: Workspace | None = None
        head: str | None = None
        if request.repo is not None:
            try:
                home = await stack.enter_async_context(Workspace.open(
                    RepoSpec(url=request.repo.url, branch=request.repo.branch),
                    work_dir=request.work_dir, auth=auth_for(request.repo, request.secrets_dir),
                    lock_timeout=request.lock_timeout,
                ))  # fmt: skip
                head = await home.prepare()
            except ImageAutomationError as exc:
                where = f"{redact(request.repo.url)} ({request.repo.branch})"
                report.errors.append(f"{where}: {exc}")
                return report
            loaded.extend(await discover(home))
        planned = _plans(loaded, request, report)
        checkouts = Checkouts(request.work_dir, request.secrets_dir, request.lock_timeout, home,
                              head)  # fmt: skip
        for plan in planned.plans:
            if plan.suspended:
                report.promotions.append(PromotionOutcome(plan.key, skipped="suspended"))
                continue
            ctx = StageContext(forges=forges, store=store, clock=clock,
                               secrets_dir=request.secrets_dir, dry_run=request.dry_run,
                               http_transport=http_transport)  # fmt: skip
            report.promotions.append(await run_promotion(plan, ctx=ctx, checkouts=checkouts))
    return report


def _plans(loaded: LoadResult, request: PromoteRequest, report: PromotionReport) -> PromotionPlans:
    resolved = resolve(loaded)
    report.errors += [str(e) for e in resolved.errors]
    report.warnings += resolved.warnings
    context = PlanContext(repo=request.repo, secrets_dir=request.secrets_dir)
    planned = plan_promotions(loaded, context, resolved.policies)
    for key, problems in planned.errors:
        report.promotions.append(PromotionOutcome(key, errors=[str(p) for p in problems]))
    if not loaded.promotions:
        report.warnings.append("no Promotion documents found")
    return planned


async def run_promotion(
    plan: PromotionPlan, *, ctx: StageContext, checkouts: Checkouts
) -> PromotionOutcome:
    """One evaluation of ``plan``; errors land in the outcome (a stage's in its own)."""
    out = PromotionOutcome(plan.key, chain=tuple(s.name for s in plan.stages))
    try:
        async with open_checkouts(plan, checkouts) as places:
            reads = await _read_all(plan, places, out, checkouts=checkouts)
            for stage in plan.order():
                assert stage.source is not None
                if stage.source not in reads or stage.index not in reads:
                    out.stages.append(StageOutcome(stage.name, plan.stages[stage.source].name,
                                                   errors=["not evaluated: a stage could not be "
                                                           "read"]))  # fmt: skip
                    continue
                workspace = places[stage.place]
                assert isinstance(workspace, Workspace)  # its stage was read
                out.stages.append(await promote_stage(ctx, plan, stage, reads=reads,
                                                      workspace=workspace))  # fmt: skip
    except ImageAutomationError as exc:
        out.errors.append(str(exc))
    except Exception as exc:  # a bug must not stop the other promotions
        log.exception("promotion %s failed unexpectedly", plan.key)
        out.errors.append(f"unexpected {type(exc).__name__}: {exc}")
    return out


async def _read_all(
    plan: PromotionPlan, places: Mapping[Place, Workspace | ImageAutomationError],
    out: PromotionOutcome, *, checkouts: Checkouts,
) -> dict[int, StageRead]:  # fmt: skip
    rank = {name: ranker(policy.spec) for name, policy in plan.policies.items()}
    heads: dict[Place, str] = {}
    home = checkouts.home
    if home is not None and checkouts.home_head:
        heads[(home.spec.url, home.spec.branch)] = checkouts.home_head
    reads: dict[int, StageRead] = {}
    for stage in plan.stages:
        workspace = places[stage.place]
        if isinstance(workspace, ImageAutomationError):
            out.errors.append(f"stage {stage.name}: {_where(stage)}: {workspace}")
            continue
        try:
            if stage.place not in heads:
                heads[stage.place] = await workspace.prepare()
            reads[stage.index] = await read_stage(workspace, stage, plan, rank=rank,
                                                  head=heads[stage.place])  # fmt: skip
        except ImageAutomationError as exc:
            out.errors.append(f"stage {stage.name}: {_where(stage)}: {exc}")
    return reads


def _where(stage: StagePlan) -> str:
    return f"{redact(stage.repo.url)} ({stage.repo.branch})"


@asynccontextmanager
async def open_checkouts(
    plan: PromotionPlan, checkouts: Checkouts
) -> AsyncIterator[dict[Place, Workspace | ImageAutomationError]]:
    """A locked checkout per place the stages are in (or why it could not be had), opened
    in sorted order; the caller's ``home`` is used for its own place."""
    places: dict[Place, Workspace | ImageAutomationError] = {}
    home = checkouts.home
    async with AsyncExitStack() as stack:
        for place in sorted({s.place for s in plan.stages}):
            if home is not None and (home.spec.url, home.spec.branch) == place:
                places[place] = home
                continue
            stage = next(s for s in plan.stages if s.place == place)
            try:
                places[place] = await stack.enter_async_context(Workspace.open(
                    RepoSpec(url=place[0], branch=place[1]), work_dir=checkouts.work_dir,
                    auth=auth_for(stage.repo, checkouts.secrets_dir),
                    lock_timeout=checkouts.lock_timeout,
                ))  # fmt: skip
            except ImageAutomationError as exc:
                places[place] = exc
        yield places


def check_promotions(
    loaded: LoadResult, context: PlanContext, *, checkouts: Sequence[Path] = ()
) -> list[ConfigError]:
    """What ``validate`` says of Promotion documents: every planning problem (without
    ``--repo``, a promotion naming no repository is planned against a stand-in), and for each
    git checkout in ``checkouts``, the stages of its promotions whose path there holds no
    marker of their policies (stages on the checked-out branch only)."""
    if context.repo is None:
        context = replace(context, repo=STAND_IN)
    planned = plan_promotions(loaded, context, resolve(loaded).policies)
    errors = [p for _, problems in planned.errors for p in problems]
    for root in checkouts:
        top, branch = root.resolve(), _checked_out_branch(root)
        for plan in planned.plans:
            if not Path(plan.doc.file).resolve().is_relative_to(top):
                continue
            here = {s.place for s in plan.stages if not s.elsewhere and s.repo.branch == branch}
            for place in sorted(here):
                errors += marker_problems(plan, root, place)
    return errors


def _checked_out_branch(root: Path) -> str | None:
    try:
        head = (root / ".git" / "HEAD").read_text(encoding="utf-8").strip()
    except OSError:
        return None
    return head.removeprefix("ref: refs/heads/") if head.startswith("ref: refs/heads/") else None


def stage_places(plan: PromotionPlan) -> Sequence[Place]:
    """Every (repository, branch) the promotion reads or writes (webhooks wake it for them)."""
    return sorted({s.place for s in plan.stages})


__all__ = [
    "Checkouts",
    "PromoteRequest",
    "PromotionOutcome",
    "PromotionPlan",
    "PromotionReport",
    "StageContext",
    "StageOutcome",
    "check_promotions",
    "open_checkouts",
    "plan_promotions",
    "promote_once",
    "run_promotion",
    "stage_places",
]
