"""Policy files → what the daemon runs: repositories to scan, automations, receivers.

Pure: takes loaded documents, returns a :class:`DaemonConfig`. A repository is the normalised
image name, so ImageRepository objects (and TrackedImages) naming the same image share one scan
at the shortest of their intervals. Automations are the engine's plans (Flux
``ImageUpdateAutomation`` and native ``ImageAutomation`` alike); each uses the policies that
:func:`~image_automation.engine.reconcile.policies_for` gives it, as ``reconcile --once`` does.
Without any automation document the repository is one automation, ``default``, using every
policy (what ``reconcile --repo`` does once).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from image_automation.config.loading import LoadResult
from image_automation.config.models import ImageRepository, TrackedImage
from image_automation.config.receivers import Receiver
from image_automation.config.resolving import Resolved, ResolvedPolicy, resolve
from image_automation.daemon.forge_wake import PushTarget
from image_automation.daemon.scheduler import Plan
from image_automation.domain import ImageRef, InvalidReference
from image_automation.engine.automations import AutomationPlan
from image_automation.engine.promotion import PromotionPlan, stage_places
from image_automation.engine.reconcile import policies_for

DEFAULT_AUTOMATION = "default"
ObjectKey = tuple[str, str, str]
"""(kind, namespace, name) of an ImageRepository or TrackedImage."""


@dataclass(frozen=True, slots=True)
class DaemonConfig:
    """The daemon's view of the policy files at one read."""

    scans: Mapping[str, float] = field(default_factory=dict)
    automations: Mapping[str, float] = field(default_factory=dict)
    uses: Mapping[str, frozenset[str]] = field(default_factory=dict)
    objects: Mapping[ObjectKey, str] = field(default_factory=dict)
    receivers: Sequence[Receiver] = ()
    policies: Sequence[ResolvedPolicy] = ()
    errors: Sequence[str] = ()
    push_targets: Mapping[str, PushTarget] = field(default_factory=dict)
    """Automation → where it pushes (what a forge webhook is matched against)."""
    promotions: Mapping[str, tuple[tuple[str, str], ...]] = field(default_factory=dict)
    """Promotion → the (repository, branch) of each of its stages (what wakes it). Its
    evaluations run as the reconciles of ``automations`` under the same key."""

    @property
    def plan(self) -> Plan:
        return Plan(scans=self.scans, reconciles=self.automations)

    def automations_using(self, repositories: Sequence[str]) -> list[str]:
        wanted = set(repositories)
        return sorted(a for a, used in self.uses.items() if used & wanted)


def automation_key(plan: AutomationPlan) -> str:
    """The daemon's name for a plan: ``namespace/name`` for Flux (the metrics' label since the
    daemon first ran them), ``ImageAutomation/namespace/name`` for native ones."""
    return plan.object_name if plan.kind == "ImageUpdateAutomation" else plan.key


def build_config(
    loaded: LoadResult,
    *,
    plans: Sequence[AutomationPlan],
    default_interval: float,
    resolved: Resolved | None = None,
    promotions: Sequence[PromotionPlan] = (),
) -> DaemonConfig:
    """Plan the daemon's work from ``loaded`` and its automation ``plans``; problems are listed
    in ``errors``, not raised. ``resolved`` is ``resolve(loaded)`` when the caller has it."""
    if resolved is None:
        resolved = resolve(loaded)
    errors = [str(e) for e in resolved.errors]
    objects, scans = _repositories(loaded)
    automations: dict[str, float] = {}
    uses: dict[str, frozenset[str]] = {}
    push_targets: dict[str, PushTarget] = {}
    for plan in plans:
        if plan.suspended:
            continue
        key = automation_key(plan)
        automations[key] = plan.interval
        # A pull request's head is its own branch (a native automation's default is not its
        # push branch); the forge's events name that head.
        head = plan.pull_request.branch if plan.pull_request else plan.push.branch
        push_targets[key] = PushTarget(plan.repo.url, head)
        uses[key] = frozenset(p.image.name for p in policies_for(plan, resolved.policies))
    places: dict[str, tuple[tuple[str, str], ...]] = {}
    for promotion in promotions:
        if promotion.suspended:
            continue
        automations[promotion.key] = promotion.interval
        uses[promotion.key] = frozenset()  # Git and forges only: no scan to wait for
        places[promotion.key] = tuple(stage_places(promotion))
    if not loaded.automations:
        automations[DEFAULT_AUTOMATION] = default_interval
        uses[DEFAULT_AUTOMATION] = frozenset(p.image.name for p in resolved.policies)
    receivers = [d.obj for d in loaded.receivers if isinstance(d.obj, Receiver)]
    return DaemonConfig(
        scans=scans,
        automations=automations,
        uses=uses,
        objects=objects,
        receivers=[r for r in receivers if not r.spec.suspend],
        policies=list(resolved.policies),
        errors=errors,
        push_targets=push_targets,
        promotions=places,
    )


def _repositories(loaded: LoadResult) -> tuple[dict[ObjectKey, str], dict[str, float]]:
    objects: dict[ObjectKey, str] = {}
    scans: dict[str, float] = {}
    for doc in loaded.repositories + loaded.tracked:
        obj = doc.obj
        if isinstance(obj, ImageRepository):
            text, interval, suspended = obj.spec.image, obj.spec.interval, obj.spec.suspend
        elif isinstance(obj, TrackedImage):
            text, interval, suspended = obj.spec.image, obj.spec.scan.interval, False
        else:  # pragma: no cover - the lists above hold only these kinds
            continue
        try:
            ref = ImageRef.parse(text)
        except InvalidReference:
            continue  # resolve() reports it at its line
        if suspended:
            continue
        objects[(obj.kind, obj.metadata.namespace, obj.metadata.name)] = ref.name
        seconds = max(interval.total_seconds(), 1.0)
        scans[ref.name] = min(scans.get(ref.name, seconds), seconds)
    return objects, scans


__all__ = [
    "DEFAULT_AUTOMATION",
    "DaemonConfig",
    "ObjectKey",
    "automation_key",
    "build_config",
]
