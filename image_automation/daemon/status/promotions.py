"""Promotions on the status page: each stage's images and pull request, as last evaluated.

Pure. The daemon keeps, per promotion, the :class:`StageRecord` of its last evaluation (in its
run record); :func:`promotion_views` turns those into one row per promotion, stage and image:
the verdict in the page's words (``moves``, ``waits``, ``held``, ``current``), its reason
(redacted, since it quotes Git and the forge), and the stage's pull request. Escaping for
HTML is the templates' (autoescape).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from image_automation.daemon.status.links import safe_url
from image_automation.domain import redact
from image_automation.engine.pullrequests import PullRequestOutcome
from image_automation.policy._promote import Judgement

STATES = {"ready": "moves", "waiting": "waits", "held": "held", "current": "current"}
"""A judgement's verdict → what the page calls it."""


@dataclass(frozen=True, slots=True)
class StageRecord:
    """One stage of a promotion's last evaluation: a judgement per image, its pull requests."""

    stage: str
    judgements: tuple[Judgement, ...] = ()
    pull_requests: tuple[PullRequestOutcome, ...] = ()


@dataclass(frozen=True, slots=True)
class PromotionView:
    promotion: str
    stage: str
    policy: str
    version: str
    state: str
    reason: str
    pull_request: int | None
    pull_request_url: str | None
    pull_request_action: str


def promotion_views(
    runs: Iterable[tuple[str, Sequence[StageRecord]]],
) -> list[PromotionView]:
    """Rows for ``(promotion key, its last stages)``, sorted by promotion; stages keep their
    order (first stage first), images theirs."""
    out = []
    for promotion, stages in sorted(runs, key=lambda run: run[0]):
        for stage in stages:
            pr = _shown(stage.pull_requests)
            number = pr.number if pr else None
            url = safe_url(pr.url) if pr else None
            action = pr.action if pr else ""
            for j in stage.judgements:
                version = j.image.short() if j.image is not None else ""
                out.append(PromotionView(promotion, stage.stage, j.policy, redact(version),
                                         STATES.get(j.verdict, j.verdict), redact(j.reason),
                                         number, url, action))  # fmt: skip
    return out


def _shown(outcomes: Sequence[PullRequestOutcome]) -> PullRequestOutcome | None:
    """The stage's pull request worth a column: one with a number, else the first."""
    return next((p for p in outcomes if p.number is not None), outcomes[0] if outcomes else None)


__all__ = ["STATES", "PromotionView", "StageRecord", "promotion_views"]
