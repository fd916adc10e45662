"""The native ``Promotion`` kind: one image carried through ordered stages by pull requests.

A promotion names the policies whose images it carries (their ``$imagepolicy`` markers mark
every stage's manifests) and an ordered list of stages. Each stage is a place in Git — a
directory (``path``), a branch (``branch``) or another repository (``repository``) — and
follows the stage named by ``from`` (default: the one before it in the list); the first
stage is fed by the usual automation. Per stage: how long the previous stage must have had
an image (``soak``), gates (``gates.checks``: commit statuses or check runs green on the
previous stage's commit; ``gates.http``: URLs that must answer 2xx), promotion windows, the
pull request's settings, and whether it may move backwards.

What can be checked from the document alone is checked here (names, bounds, windows, the
stages' graph: an unknown ``from``, a cycle, two stages in one place); what needs the other
documents (the policies) or the repository (markers under a stage's path) is checked by the
engine. Kept out of :mod:`image_automation.config.models` as receivers are; the loader maps
the (apiVersion, kind) pair here. Pure: no I/O.
"""

from __future__ import annotations

from datetime import timedelta
from typing import Annotated, Literal

from pydantic import AfterValidator, Field, field_validator, model_validator

from image_automation.config._promotion_values import (
    PromotionMeta,
    check_name,
    gate_url,
    git_url,
    policy_name,
    stage_name,
    stage_path,
)
from image_automation.config.models import (
    NATIVE_API_VERSION,
    Duration,
    NativeCommit,
    _Model,
    _Object,
)
from image_automation.config.pull_requests import (
    MAX_LIST_ITEMS,
    ApiUrl,
    Branch,
    ForgeSecretRef,
    Label,
    PullRequestLimits,
    User,
    unique,
)
from image_automation.policy._windows import Window, parse_clock, parse_days, zone

PROMOTION_KIND = "Promotion"
PROMOTION_API_VERSION = NATIVE_API_VERSION
MAX_STAGES = 20
MAX_POLICIES = 500
MAX_CHECKS = 20
MAX_HTTP_GATES = 10
MAX_WINDOWS = 10
MAX_SOAK = timedelta(days=366)
MAX_HTTP_TIMEOUT = timedelta(seconds=60)

StageName = Annotated[str, AfterValidator(stage_name)]
PolicyName = Annotated[str, AfterValidator(policy_name)]
CheckName = Annotated[str, AfterValidator(check_name)]
GitUrl = Annotated[str, Field(min_length=1), AfterValidator(git_url)]


class HttpGate(_Model):
    """A URL that must answer 2xx (GET, no redirects followed) before a stage is promoted."""

    url: Annotated[str, AfterValidator(gate_url)]
    timeout: Duration = Field(default=timedelta(seconds=10), description="at most 60s")
    secret_ref: ForgeSecretRef | None = Field(
        default=None, description="a secret whose bearerToken is sent as Authorization: Bearer"
    )

    @field_validator("timeout")
    @classmethod
    def _bounded(cls, value: timedelta) -> timedelta:
        if not timedelta(0) < value <= MAX_HTTP_TIMEOUT:
            raise ValueError("timeout must be above 0 and at most 60s")
        return value


class Gates(_Model):
    checks: Annotated[list[CheckName], Field(max_length=MAX_CHECKS), AfterValidator(unique)] = (
        Field(default_factory=list, description="commit statuses / check runs that must be green")
    )
    http: Annotated[list[HttpGate], Field(max_length=MAX_HTTP_GATES)] = Field(default_factory=list)


class WindowSpec(_Model):
    """When a stage may be promoted: weekday/time ranges, or cron starts + a duration, in a
    time zone (``policy._windows.Window``)."""

    days: Annotated[list[str], Field(min_length=1, max_length=7)] = Field(
        default_factory=lambda: ["Mon-Sun"]
    )
    start: str = "00:00"
    end: str = "24:00"
    cron: str | None = None
    duration: Duration | None = None
    time_zone: str = "UTC"

    @model_validator(mode="after")
    def _a_window(self) -> WindowSpec:
        self.window()  # raises ValueError with the reason
        return self

    def window(self) -> Window:
        from image_automation.policy._windows import CronExpr

        zone(self.time_zone)
        if self.cron is not None:
            fixed = self.model_fields_set & {"days", "start", "end"}
            if fixed:
                raise ValueError(f"cron windows take no {', '.join(sorted(fixed))}")
            return Window(self.time_zone, cron=CronExpr.parse(self.cron), duration=self.duration)
        if self.duration is not None:
            raise ValueError("duration goes with cron")
        start = parse_clock(self.start)
        if start is None:
            raise ValueError("start must be before 24:00")
        return Window(self.time_zone, parse_days(self.days), start, parse_clock(self.end))


class StageRepository(_Model):
    """Another repository (repo-per-environment): its URL, branch and git secret."""

    url: GitUrl
    branch: Branch | None = None
    secret_ref: ForgeSecretRef | None = None


class PromotionPullRequest(_Model):
    """The pull requests of a promotion (``spec.pullRequest``) or of one stage
    (``stages[].pullRequest``, over the promotion's)."""

    provider: Literal["github", "gitlab", "gitea", "forgejo", "bitbucket", "azuredevops"] | None = (
        None
    )
    api_url: ApiUrl | None = Field(default=None, alias="apiURL")
    secret_ref: ForgeSecretRef | None = None
    branch: Branch | None = Field(
        default=None, description="head prefix; default image-automation/promote-<name>"
    )
    grouping: Literal["stage", "image"] = "stage"
    labels: Annotated[list[Label], Field(max_length=MAX_LIST_ITEMS), AfterValidator(unique)] = (
        Field(default_factory=list)
    )
    reviewers: Annotated[list[User], Field(max_length=MAX_LIST_ITEMS), AfterValidator(unique)] = (
        Field(default_factory=list)
    )
    assignees: Annotated[list[User], Field(max_length=MAX_LIST_ITEMS), AfterValidator(unique)] = (
        Field(default_factory=list)
    )
    draft: bool = Field(default=False, strict=True)
    auto_merge: Literal["merge", "squash", "rebase"] | None = None
    limits: PullRequestLimits = Field(default_factory=PullRequestLimits)

    @field_validator("auto_merge", mode="before")
    @classmethod
    def _off(cls, value: object) -> object:
        if value is False or value == "false":
            return None
        if value is True:
            raise ValueError("must be false, merge, squash or rebase (true names no method)")
        return value


class Stage(_Model):
    name: StageName
    from_: StageName | None = Field(default=None, alias="from")
    path: Annotated[str, AfterValidator(stage_path)] = "."
    branch: Branch | None = Field(default=None, description="branch-per-environment")
    repository: StageRepository | None = Field(default=None, description="repo-per-environment")
    policies: (
        Annotated[list[PolicyName], Field(min_length=1, max_length=MAX_POLICIES),
                  AfterValidator(unique)] | None
    ) = None  # fmt: skip
    soak: Duration = timedelta(0)
    gates: Gates = Field(default_factory=Gates)
    windows: Annotated[list[WindowSpec], Field(max_length=MAX_WINDOWS)] = Field(
        default_factory=list
    )
    backwards: bool = Field(default=False, strict=True, description="may move to an older image")
    pull_request: PromotionPullRequest | None = None

    @field_validator("soak")
    @classmethod
    def _soak(cls, value: timedelta) -> timedelta:
        if not timedelta(0) <= value <= MAX_SOAK:
            raise ValueError("soak must be between 0 and 366 days")
        return value

    @model_validator(mode="after")
    def _one_place(self) -> Stage:
        if self.repository is not None and self.branch is not None:
            raise ValueError("a stage in another repository takes its branch in repository.branch")
        return self


class PromotionGit(_Model):
    """The repository every stage is in unless it names its own (``url`` omitted: the
    ``--repo`` repository)."""

    url: GitUrl | None = None
    branch: Branch = "main"
    secret_ref: ForgeSecretRef | None = None


class PromotionSpec(_Model):
    git: PromotionGit = Field(default_factory=PromotionGit)
    commit: NativeCommit = Field(default_factory=NativeCommit)
    policies: Annotated[
        list[PolicyName], Field(min_length=1, max_length=MAX_POLICIES), AfterValidator(unique)
    ]
    stages: Annotated[list[Stage], Field(min_length=2, max_length=MAX_STAGES)]
    interval: Duration = timedelta(minutes=10)
    suspend: bool = False
    pull_request: PromotionPullRequest = Field(default_factory=PromotionPullRequest)

    @field_validator("interval")
    @classmethod
    def _interval(cls, value: timedelta) -> timedelta:
        if value < timedelta(seconds=1):
            raise ValueError("interval must be at least 1s")
        return value


class Promotion(_Object):
    kind: Literal["Promotion"]
    metadata: PromotionMeta
    spec: PromotionSpec


Problem = tuple[tuple[str | int, ...], str]
"""(field path in the document, message): the engine turns it into a ``file:line`` error."""


def stage_sources(spec: PromotionSpec) -> tuple[list[int | None], list[Problem]]:
    """Which stage each stage follows (its index; ``None`` for the first stage, fed by the
    registry), and what is wrong with the graph: a duplicate name, an unknown or own
    ``from``, policies the followed stage does not carry, a cycle."""
    names: dict[str, int] = {}
    problems: list[Problem] = []
    for index, stage in enumerate(spec.stages):
        if stage.name in names:
            path = ("spec", "stages", index, "name")
            problems.append((path, f"stage {stage.name!r} is declared twice"))
        names.setdefault(stage.name, index)
    sources: list[int | None] = []
    for index, stage in enumerate(spec.stages):
        here = ("spec", "stages", index, "from")
        if stage.from_ is None:
            sources.append(index - 1 if index else None)
        elif stage.from_ == stage.name:
            sources.append(None)
            problems.append((here, f"stage {stage.name!r} cannot follow itself"))
        elif stage.from_ not in names:
            sources.append(None)
            known = ", ".join(s.name for s in spec.stages)
            problems.append((here, f"unknown stage {stage.from_!r} (stages: {known})"))
        else:
            sources.append(names[stage.from_])
    problems += _cycles(spec, sources)
    problems += _carried(spec, sources)
    return sources, problems


def _cycles(spec: PromotionSpec, sources: list[int | None]) -> list[Problem]:
    """Each cycle once, reported at the ``from`` of its first stage in the list."""
    problems: list[Problem] = []
    seen: set[int] = set()
    for start in range(len(sources)):
        path: list[int] = []
        node: int | None = start
        while node is not None and node not in path and node not in seen:
            path.append(node)
            node = sources[node]
        seen.update(path)
        if node is not None and node in path:
            loop = path[path.index(node) :]
            first = min(loop)
            flow = [first]  # each stage, then the one that follows it
            while len(flow) < len(loop):
                flow.append(next(i for i in loop if sources[i] == flow[-1]))
            names = " → ".join(spec.stages[i].name for i in [*flow, first])
            where = ("spec", "stages", first, "from")
            problems.append((where, f"stages form a cycle: {names}; one stage must come first"))
    return problems


def stage_policies(spec: PromotionSpec, index: int) -> list[str]:
    """The policies stage ``index`` carries: its own list, else the promotion's."""
    stage = spec.stages[index]
    return list(stage.policies) if stage.policies is not None else list(spec.policies)


def _carried(spec: PromotionSpec, sources: list[int | None]) -> list[Problem]:
    problems: list[Problem] = []
    for index, source in enumerate(sources):
        mine = stage_policies(spec, index)
        outside = [p for p in mine if p not in spec.policies]
        if outside:
            where = ("spec", "stages", index, "policies")
            problems.append((where, f"not in spec.policies: {', '.join(outside)}"))
        if source is None:
            continue
        theirs = set(stage_policies(spec, source))
        missing = [p for p in mine if p not in theirs and p not in outside]
        if missing:
            where = ("spec", "stages", index, "policies")
            name = spec.stages[source].name
            problems.append((where, f"stage {name!r} does not carry {', '.join(missing)}"))
    return problems


__all__ = [
    "MAX_STAGES",
    "PROMOTION_API_VERSION",
    "PROMOTION_KIND",
    "Gates",
    "HttpGate",
    "Problem",
    "Promotion",
    "PromotionGit",
    "PromotionPullRequest",
    "PromotionSpec",
    "Stage",
    "StageRepository",
    "WindowSpec",
    "stage_policies",
    "stage_sources",
]
