"""``Promotion`` documents → runnable plans, every problem at its ``file:line``.

A stage's place in Git is resolved here once: the promotion's repository (``spec.git``, or
``--repo`` when it names none) and branch, the stage's own branch (branch-per-environment)
or repository (repo-per-environment), and its path. Each stage gets an
:class:`~image_automation.engine.automations.AutomationPlan` of its own (kind ``Promotion``,
name ``<promotion>/<stage>``): that is what the pull-request lifecycle runs on, so a stage's
pull requests, refused versions and limits are recorded apart from every other's.

Checked before any git or forge work: the stages' graph (an unknown ``from``, a cycle,
policies a stage's source does not carry), policies that are not declared in the
promotion's namespace, two stages in one place, head branches, URLs, and (when a real
repository is known) that the forge can be told. Whether a stage's path holds markers of its
policies needs the repository: :func:`marker_problems` says, for a checkout.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import timedelta
from pathlib import Path

from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.promotions import (
    Promotion,
    PromotionPullRequest,
    Stage,
    stage_policies,
    stage_sources,
)
from image_automation.config.pull_requests import branch_problem, shown
from image_automation.config.resolving import ResolvedPolicy
from image_automation.engine._pr_settings import DEFAULT_BRANCH_PREFIX, PullRequestPlan
from image_automation.engine.automations import (
    STAND_IN,
    AutomationPlan,
    PlanContext,
    RepoTarget,
    check_document_url,
    commit_settings,
    signing_key,
)
from image_automation.errors import ConfigError, ForgeError, Location
from image_automation.forges import detect_forge
from image_automation.git import PushSettings
from image_automation.manifests import find_markers
from image_automation.policy import UpdateWindows

PROMOTION_MESSAGE = """\
Promote {{ images | length }} image{{ "s" if images | length != 1 }} \
from {{ values.source }} to {{ values.target }}

{% for c in changes -%}
- {{ c.file }}:{{ c.line }} ({{ c.setter }}): {{ c.old }} -> {{ c.new }}
{% endfor -%}
"""
"""The default commit message of a promotion (``spec.commit.messageTemplate`` replaces it)."""


@dataclass(frozen=True, slots=True)
class HttpCheck:
    url: str
    timeout: float
    secret: str | None = None


@dataclass(frozen=True, slots=True)
class StagePlan:
    """One stage, resolved. ``source``: the index of the stage it follows (None: the first,
    fed by the registry). ``automation``: the plan its pull requests run on."""

    index: int
    name: str
    source: int | None
    repo: RepoTarget
    path: str
    policies: tuple[str, ...]
    automation: AutomationPlan
    soak: timedelta = timedelta(0)
    checks: tuple[str, ...] = ()
    http: tuple[HttpCheck, ...] = ()
    windows: UpdateWindows = field(default_factory=UpdateWindows)
    backwards: bool = False
    elsewhere: bool = False
    """The stage is in a repository of its own (repo-per-environment)."""

    @property
    def place(self) -> tuple[str, str]:
        """The checkout the stage lives in: (repository URL, branch)."""
        return (self.repo.url, self.repo.branch)


@dataclass(frozen=True, slots=True)
class PromotionPlan:
    namespace: str
    name: str
    stages: tuple[StagePlan, ...]
    policies: Mapping[str, ResolvedPolicy]
    """Policy name → the policy (its image's name, its ordering)."""
    doc: Loaded
    interval: float = 600.0
    suspended: bool = False

    @property
    def key(self) -> str:
        return f"Promotion/{self.namespace}/{self.name}"

    def order(self) -> list[StagePlan]:
        """The stages after the first, each after the stage it follows."""
        done, out = {s.index for s in self.stages if s.source is None}, []
        pending = [s for s in self.stages if s.source is not None]
        while pending:
            ready = [s for s in pending if s.source in done]
            if not ready:  # a cycle: planning refuses those, so never here
                break
            out += ready
            done |= {s.index for s in ready}
            pending = [s for s in pending if s not in ready]
        return out


@dataclass(slots=True)
class PromotionPlans:
    plans: list[PromotionPlan] = field(default_factory=list)
    errors: list[tuple[str, list[ConfigError]]] = field(default_factory=list)
    """(promotion key, its problems) for promotions that cannot run."""


def plan_promotions(
    loaded: LoadResult, context: PlanContext, policies: Sequence[ResolvedPolicy]
) -> PromotionPlans:
    """A plan for every Promotion document; a broken one becomes its list of problems."""
    out = PromotionPlans()
    first: dict[str, Loaded] = {}
    for doc in loaded.promotions:
        assert isinstance(doc.obj, Promotion)
        key = f"Promotion/{doc.obj.key}"
        if key in first:
            where = f"{first[key].file}:{first[key].line}"
            out.errors.append((key, [ConfigError(f"duplicate {key}, first declared at {where}",
                                                 location=doc.location())]))  # fmt: skip
            continue
        first[key] = doc
        plan, problems = _plan(doc, doc.obj, context, policies)
        if problems or plan is None:
            out.errors.append((key, problems))
        else:
            out.plans.append(plan)
    return out


def _plan(
    doc: Loaded, obj: Promotion, context: PlanContext, policies: Sequence[ResolvedPolicy]
) -> tuple[PromotionPlan | None, list[ConfigError]]:
    spec, ns = obj.spec, obj.metadata.namespace
    sources, graph = stage_sources(spec)
    problems = [ConfigError(message, location=doc.location(*path)) for path, message in graph]
    known = {p.name: p for p in policies if p.namespace == ns}
    for index, name in enumerate(spec.policies):
        if name not in known:
            where = doc.location("spec", "policies", index)
            problems.append(ConfigError(f"no image policy {ns}/{name}", location=where))
    try:
        home = _home(doc, obj, context)
    except ConfigError as exc:
        return None, [*problems, exc]
    stages: list[StagePlan] = []
    for index, stage in enumerate(spec.stages):
        try:
            stages.append(_stage(doc, obj, index, stage, sources[index], home, context))
        except ConfigError as exc:
            problems.append(exc)
    problems += _same_places(doc, stages)
    if problems:
        return None, problems
    plan = PromotionPlan(
        namespace=ns, name=obj.metadata.name, stages=tuple(stages),
        policies={n: known[n] for n in spec.policies}, doc=doc,
        interval=spec.interval.total_seconds(), suspended=spec.suspend,
    )  # fmt: skip
    return plan, []


def _home(doc: Loaded, obj: Promotion, context: PlanContext) -> RepoTarget:
    git = obj.spec.git
    if git.url is not None:
        check_document_url(doc, git.url, ("spec", "git", "url"))
        return RepoTarget(git.url, git.branch, git.secret_ref.name if git.secret_ref else None)
    if context.repo is None:
        raise ConfigError(
            "spec.git.url is not set and no --repo was given", location=doc.location("spec", "git")
        )
    branch = git.branch if "branch" in git.model_fields_set else context.repo.branch
    secret = git.secret_ref.name if git.secret_ref else context.repo.secret
    return RepoTarget(context.repo.url, branch, secret)


def _stage(
    doc: Loaded, obj: Promotion, index: int, stage: Stage, source: int | None,
    home: RepoTarget, context: PlanContext,
) -> StagePlan:  # fmt: skip
    at = ("spec", "stages", index)
    if stage.repository is not None:
        check_document_url(doc, stage.repository.url, (*at, "repository", "url"))
        secret = stage.repository.secret_ref
        repo = RepoTarget(stage.repository.url, stage.repository.branch or home.branch,
                          secret.name if secret else None)  # fmt: skip
    else:
        repo = replace(home, branch=stage.branch or home.branch)
    pr = _pull_request(doc, obj, index, stage, repo)
    spec = obj.spec
    signing = None
    if spec.commit.signing_key is not None:
        key = spec.commit.signing_key
        signing = signing_key(doc, key.secret_ref.name, key.format, context)
    template = spec.commit.message_template or PROMOTION_MESSAGE
    source_name = spec.stages[source].name if source is not None else ""
    automation = AutomationPlan(
        kind="Promotion", namespace=obj.metadata.namespace,
        name=f"{obj.metadata.name}/{stage.name}", repo=repo,
        commit=commit_settings(spec.commit.author, template, signing), push=PushSettings(),
        path=stage.path, values={"promotion": f"Promotion/{obj.key}", "source": source_name,
                                 "target": stage.name},
        interval=spec.interval.total_seconds(), pull_request=pr,
    )  # fmt: skip
    return StagePlan(
        index=index, name=stage.name, source=source, repo=repo, path=stage.path,
        policies=tuple(stage_policies(spec, index)), automation=automation, soak=stage.soak,
        checks=tuple(stage.gates.checks),
        http=tuple(HttpCheck(g.url, g.timeout.total_seconds(),
                             g.secret_ref.name if g.secret_ref else None)
                   for g in stage.gates.http),
        windows=UpdateWindows(windows=tuple(w.window() for w in stage.windows)),
        backwards=stage.backwards, elsewhere=stage.repository is not None,
    )  # fmt: skip


def _merged(obj: Promotion, stage: Stage) -> PromotionPullRequest:
    """The stage's pull-request settings over the promotion's."""
    base = obj.spec.pull_request
    if stage.pull_request is None:
        return base
    own = {name: getattr(stage.pull_request, name) for name in stage.pull_request.model_fields_set}
    return base.model_copy(update=own)


def _pull_request(
    doc: Loaded, obj: Promotion, index: int, stage: Stage, repo: RepoTarget
) -> PullRequestPlan:
    settings = _merged(obj, stage)
    prefix = settings.branch or DEFAULT_BRANCH_PREFIX + _slug(f"promote-{obj.metadata.name}")
    head = f"{prefix}-{stage.name}"
    field_path: tuple[str | int, ...] = ("spec", "pullRequest", "branch")
    if stage.pull_request is not None and "branch" in stage.pull_request.model_fields_set:
        field_path = ("spec", "stages", index, "pullRequest", "branch")
    problem = branch_problem(head)
    if problem:
        raise ConfigError(
            f"head branch {shown(head)} {problem}", location=doc.location(*field_path)
        )
    if head == repo.branch:
        raise ConfigError(f"head branch {head!r} is the stage's own branch",
                          location=doc.location(*field_path))  # fmt: skip
    if repo.url != STAND_IN.url:
        _check_forge(doc, index, stage, repo, settings)
    return PullRequestPlan(
        provider=settings.provider, api_url=settings.api_url,
        secret=settings.secret_ref.name if settings.secret_ref else None, branch=head,
        grouping="image" if settings.grouping == "image" else "automation",
        labels=tuple(settings.labels), reviewers=tuple(settings.reviewers),
        assignees=tuple(settings.assignees), draft=settings.draft,
        auto_merge=settings.auto_merge, per_hour=settings.limits.per_hour,
        max_open=settings.limits.open,
    )  # fmt: skip


def _check_forge(
    doc: Loaded, index: int, stage: Stage, repo: RepoTarget, settings: PromotionPullRequest
) -> None:
    try:
        found = detect_forge(repo.url, provider=settings.provider, api_url=settings.api_url)
    except ForgeError as exc:
        raise ConfigError(str(exc), location=doc.location("spec", "pullRequest")) from None
    if found is None:
        where = ("spec", "stages", index, "repository") if stage.repository else ("spec", "git")
        message = (
            # with a provider, only a local repository has no forge (detect_forge)
            "its repository is a local path, not a forge's URL: a pull request needs the "
            "repository's URL on the forge (owner/name)"
            if settings.provider
            else "cannot tell the forge from its repository URL; set spec.pullRequest.provider "
            "(and apiURL for a self-hosted forge), or the stage's pullRequest.provider"
        )
        raise ConfigError(f"stage {stage.name!r}: {message}", location=doc.location(*where))


def _slug(text: str) -> str:
    slug = re.sub(r"[^a-z0-9._-]+", "-", text.lower()).strip("-._")
    return re.sub(r"\.{2,}", ".", slug)[:80] or "promotion"


def _same_places(doc: Loaded, stages: Sequence[StagePlan]) -> list[ConfigError]:
    seen: dict[tuple[str, str, str], str] = {}
    problems = []
    for stage in stages:
        place = (stage.repo.url, stage.repo.branch, stage.path)
        if place in seen:
            where = doc.location("spec", "stages", stage.index, "path")
            message = f"stage {stage.name!r} is in the same place as stage {seen[place]!r}"
            problems.append(ConfigError(message, location=where))
        seen.setdefault(place, stage.name)
    return problems


def marker_problems(plan: PromotionPlan, root: Path, place: tuple[str, str]) -> list[ConfigError]:
    """Stages at ``place`` whose path in the checkout ``root`` holds no marker of one of
    their policies (or does not exist), each at its ``path`` line."""
    problems: list[ConfigError] = []
    for stage in plan.stages:
        if stage.place != place:
            continue
        where = plan.doc.location("spec", "stages", stage.index, "path")
        target = root / stage.path
        if not target.is_dir():
            problems.append(ConfigError(f"stage {stage.name!r}: no directory {stage.path!r} "
                                        "in the repository", location=where))  # fmt: skip
            continue
        marked = {
            site.setter.policy
            for site in find_markers(target)
            if site.setter.namespace == plan.namespace
        }
        missing = [p for p in stage.policies if p not in marked]
        if missing:
            names = ", ".join(f"{plan.namespace}:{p}" for p in missing)
            problems.append(ConfigError(
                f"stage {stage.name!r}: {stage.path} holds no marker of {names}", location=where
            ))  # fmt: skip
    return problems


def location_of(plan: PromotionPlan, *path: str | int) -> Location:
    return plan.doc.location(*path)


__all__ = [
    "PROMOTION_MESSAGE",
    "HttpCheck",
    "PromotionPlan",
    "PromotionPlans",
    "StagePlan",
    "location_of",
    "marker_problems",
    "plan_promotions",
]
