"""Views of the daemon's state: what the status page, its API and ``status`` show.

Pure: :class:`~image_automation.engine.status_inputs.StatusInputs` (state records and Git's
values) and, in the daemon, :class:`LiveFacts` (the policy files' names, run outcomes, registry
quotas) in; frozen dataclasses out. No clock (``now`` is passed), no I/O. Every free text
that came from outside (errors, reasons) is redacted again here, so a credential that slipped
into a stored error is never shown; escaping for HTML is the templates' (autoescape).

A policy's state, first that applies: ``blocked`` (nothing selected), ``held`` (the selected
version was refused: a pull request carrying it was closed, or a pin holds it), ``pending``
(Git has another value), ``gated`` (Git has the selection, but a gate keeps a tag back),
``current`` (Git has the selection), ``selected`` (what Git has is unknown here), ``unknown``
(no decision yet).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from image_automation.daemon.status.links import safe_url
from image_automation.daemon.status.promotions import PromotionView, StageRecord, promotion_views
from image_automation.domain import Hold, redact
from image_automation.engine.status_inputs import GitValue, StatusInputs
from image_automation.policy import Trace, trace_to_dict
from image_automation.state import IgnoredVersion, PullRequestRecord, StoredDecision

_API_HOSTS = {"docker.io": "registry-1.docker.io"}
"""Where a repository's registry answers, when that is not the host in its name."""
GATE_WORDS = ("minAge", "younger than", "signature", "window", "freeze", "hold", "rollback")


@dataclass(frozen=True, slots=True)
class RunRecord:
    """The latest reconcile of one automation as the daemon saw it."""

    automation: str
    last_attempt: datetime | None = None
    last_success: datetime | None = None
    last_error: str | None = None
    last_commit: str | None = None
    stages: tuple[StageRecord, ...] = ()
    """A promotion's last evaluation, stage by stage (empty for an automation)."""


@dataclass(frozen=True, slots=True)
class Quota:
    """A registry host's last ``ratelimit-remaining`` (and limit, when it said)."""

    host: str
    remaining: int
    limit: int | None
    seen_at: datetime


@dataclass(frozen=True, slots=True)
class LiveFacts:
    """What only the running daemon knows. Empty outside it (``status --state``)."""

    policies: Mapping[str, str] = field(default_factory=dict)
    """Configured policy key -> repository."""
    automations: Sequence[str] = ()
    runs: Mapping[str, RunRecord] = field(default_factory=dict)
    quotas: Mapping[str, Quota] = field(default_factory=dict)
    repo_urls: Mapping[str, str] = field(default_factory=dict)
    """Automation -> the Git URL it pushes to (commit links for https forges)."""
    problems: Sequence[str] = ()
    """Policy-file problems of the last read."""


@dataclass(frozen=True, slots=True)
class RepositoryView:
    name: str
    state: str
    last_attempt: datetime | None
    last_success: datetime | None
    tag_count: int
    error: str | None
    quota: str | None


@dataclass(frozen=True, slots=True)
class PolicyView:
    key: str
    repository: str
    selected: str | None
    digest: str | None
    in_git: tuple[str, ...]
    state: str
    reason: str
    decided_at: datetime | None


@dataclass(frozen=True, slots=True)
class PullRequestView:
    automation: str
    number: int
    url: str | None
    state: str
    head: str
    base: str
    updated_at: datetime


@dataclass(frozen=True, slots=True)
class AutomationView:
    name: str
    last_commit: str | None
    commit_url: str | None
    last_pushed_at: datetime | None
    open_pull_requests: tuple[PullRequestView, ...]
    last_error: str | None
    last_success: datetime | None
    last_attempt: datetime | None


@dataclass(frozen=True, slots=True)
class Overview:
    generated_at: datetime
    repositories: tuple[RepositoryView, ...]
    policies: tuple[PolicyView, ...]
    automations: tuple[AutomationView, ...]
    promotions: tuple[PromotionView, ...]
    problems: tuple[str, ...]


@dataclass(frozen=True, slots=True)
class VersionView:
    value: str
    commit: str
    committed_at: datetime
    subject: str
    file: str


@dataclass(frozen=True, slots=True)
class PolicyDetail:
    policy: PolicyView
    explain: Mapping[str, Any] | None
    """``explain --output json`` of the policy (from the stored decision and scan)."""
    versions: tuple[VersionView, ...]
    history_complete: bool


def overview(inputs: StatusInputs, live: LiveFacts | None = None, *, now: datetime) -> Overview:
    """The overview page: repositories, policies, automations; ``live`` adds the daemon's."""
    live = live or LiveFacts()
    return Overview(
        generated_at=now,
        repositories=tuple(_repositories(inputs, live)),
        policies=tuple(policy_views(inputs, live)),
        automations=tuple(_automations(inputs, live)),
        promotions=tuple(promotion_views((r.automation, r.stages) for r in live.runs.values())),
        problems=tuple(_clean(p) for p in (*live.problems, *inputs.problems)),
    )


def _repositories(inputs: StatusInputs, live: LiveFacts) -> list[RepositoryView]:
    scanned = {s.repository: s for s in inputs.scans}
    names = sorted({*scanned, *live.policies.values()})
    out = []
    for name in names:
        scan = scanned.get(name)
        host = name.split("/", 1)[0]
        quota = live.quotas.get(_API_HOSTS.get(host, host))
        shown = None if quota is None else _quota_text(quota)
        if scan is None:
            out.append(RepositoryView(name, "never", None, None, 0, None, shown))
            continue
        state = "ok" if scan.ok else "failing"
        error = _clean(scan.last_error) if scan.last_error else None
        out.append(RepositoryView(name, state, scan.last_attempt, scan.last_success,
                                  scan.tag_count, error, shown))  # fmt: skip
    return out


def _quota_text(quota: Quota) -> str:
    return f"{quota.remaining}/{quota.limit}" if quota.limit else str(quota.remaining)


def policy_views(inputs: StatusInputs, live: LiveFacts | None = None) -> list[PolicyView]:
    """One row per policy that is configured or has a stored decision, sorted by key."""
    live = live or LiveFacts()
    stored = {d.policy: d for d in inputs.decisions}
    in_git: dict[str, list[GitValue]] = {}
    for value in inputs.git_values:
        in_git.setdefault(value.policy, []).append(value)
    keys = sorted({*stored, *live.policies})
    rows = []
    for key in keys:
        repository = live.policies.get(key, "")
        rows.append(_policy(key, stored.get(key), repository, in_git.get(key, []), inputs))
    return rows


def _policy(
    key: str, stored: StoredDecision | None, repository: str, values: list[GitValue],
    inputs: StatusInputs,
) -> PolicyView:  # fmt: skip
    shown = tuple(sorted({v.value for v in values}))
    if stored is None:
        return PolicyView(key, repository, None, None, shown, "unknown", "no decision yet", None)
    decision = stored.decision
    hold = decision.hold or next((h for h in inputs.holds if h.policy == key and h.active), None)
    state, reason = policy_state(decision.tag, decision.digest, values=values,
                                 skipped=decision.skipped, reasons=decision.reasons,
                                 refused=_refused(key, inputs.ignored), hold=hold,
                                 window=decision.window)  # fmt: skip
    return PolicyView(key, stored.repository or repository, decision.tag, decision.digest,
                      shown, state, _clean(reason), stored.decided_at)  # fmt: skip


def _refused(key: str, ignored: Sequence[IgnoredVersion]) -> dict[str, IgnoredVersion]:
    """Values refused for setters of policy ``key`` (``ns:name[:field]`` names it)."""
    namespace, _, name = key.partition("/")
    out = {}
    for item in ignored:
        parts = item.setter.split(":")
        if parts[:2] == [namespace, name]:
            out[tag_of(item.value)] = item
    return out


def policy_state(
    tag: str | None,
    digest: str | None,
    *,
    values: Sequence[GitValue],
    skipped: Mapping[str, str],
    reasons: Sequence[str],
    refused: Mapping[str, IgnoredVersion],
    hold: Hold | None = None,
    window: str | None = None,
) -> tuple[str, str]:
    """(state, reason) of a policy; see the module docstring for the order."""
    if tag is None:
        return "blocked", "; ".join(reasons) or "no tag qualifies"
    if hold is not None and hold.active:
        return "held", hold.reason
    if tag in refused:
        item = refused[tag]
        return "held", f"{tag} refused: {item.reason}"
    pins = [r for r in reasons if r.startswith(("pinned at", "following"))]
    gated = [(t, why) for t, why in skipped.items() if any(w in why for w in GATE_WORDS)]
    if values:
        differing = sorted({v.value for v in values if not _carries(v, tag, digest)})
        if differing and window:
            return "gated", f"{tag} waits: {window}"
        if differing:
            return "pending", f"Git has {', '.join(differing)}; {tag} selected"
        if pins:
            return "held", pins[0]
        if gated:
            t, why = gated[-1]
            more = f" (+{len(gated) - 1} more)" if len(gated) > 1 else ""
            return "gated", f"{t}: {why}{more}"
        return "current", f"Git has {tag}"
    if pins:
        return "held", pins[0]
    if window:
        return "gated", f"{tag} waits: {window}"
    return "selected", "what Git has is unknown here"


def _carries(value: GitValue, tag: str, digest: str | None) -> bool:
    if value.field == "name":
        return True
    if value.field == "digest":
        return digest is None or value.value == digest
    return tag_of(value.value) == tag


def tag_of(value: str) -> str:
    """The tag of ``name:tag[@digest]`` (or the value itself when it is a bare tag)."""
    ref = value.split("@", 1)[0]
    _, sep, tag = ref.rpartition(":")
    return tag if sep and "/" not in tag else ref


def _automations(inputs: StatusInputs, live: LiveFacts) -> list[AutomationView]:
    pushes: dict[str, tuple[str, datetime]] = {}
    for push in inputs.pushes:  # newest first: the first seen is the last push
        pushes.setdefault(push.automation, (push.commit, push.pushed_at))
    prs: dict[str, list[PullRequestView]] = {}
    for record in inputs.pull_requests:
        if record.state == "open":
            prs.setdefault(record.automation, []).append(pull_request_view(record))
    names = sorted({*live.automations, *pushes, *prs})
    out = []
    for name in names:
        run = live.runs.get(name, RunRecord(name))
        commit, pushed_at = pushes.get(name, (run.last_commit, None))
        url = commit_url(live.repo_urls.get(name), commit)
        error = _clean(run.last_error) if run.last_error else None
        out.append(AutomationView(name, commit, url, pushed_at, tuple(prs.get(name, [])),
                                  error, run.last_success, run.last_attempt))  # fmt: skip
    return out


def pull_request_view(record: PullRequestRecord) -> PullRequestView:
    return PullRequestView(record.automation, record.number, safe_url(record.url), record.state,
                           record.head, record.base, record.updated_at)  # fmt: skip


def commit_url(repo_url: str | None, commit: str | None) -> str | None:
    """A web link to ``commit`` for an https remote (``…/commit/SHA``); ``None`` otherwise."""
    if not repo_url or not commit or not all(c in "0123456789abcdef" for c in commit):
        return None
    base = safe_url(repo_url)
    if base is None:
        return None
    return f"{base.removesuffix('/').removesuffix('.git')}/commit/{commit}"


def policy_detail(
    inputs: StatusInputs, key: str, live: LiveFacts | None = None, *, trace: Trace | None = None
) -> PolicyDetail:
    """The policy page: its row, ``explain``'s trace, and its versions in Git (oldest first).

    Raises ``KeyError`` for a policy that is neither configured nor decided.
    """
    rows = {p.key: p for p in policy_views(inputs, live)}
    view = rows[key]
    # Git's order, not the commit times: those have a resolution of a second and may lie.
    versions = [
        VersionView(v.value, v.commit, v.committed_at, _clean(v.subject), v.file)
        for v in reversed(inputs.git_history) if v.policy == key and v.field in ("", "tag")
    ]  # fmt: skip
    explain = None if trace is None else _redacted(trace_to_dict(trace))
    return PolicyDetail(view, explain, tuple(versions), inputs.history_complete)


def _redacted(data: Any) -> Any:
    """``data`` with every string redacted (reasons and errors come from outside)."""
    if isinstance(data, str):
        return _clean(data)
    if isinstance(data, Mapping):
        return {k: _redacted(v) for k, v in data.items()}
    if isinstance(data, list):
        return [_redacted(v) for v in data]
    return data


def next_run(
    previous: RunRecord | None, automation: str, *, error: str | None, commit: str | None,
    now: datetime, stages: tuple[StageRecord, ...] = (),
) -> RunRecord:  # fmt: skip
    """The run record after a reconcile: an error keeps the last success, a success clears
    the error; the last commit stays until a newer one. A promotion's stages are the last
    evaluation's; a run that failed before evaluating any keeps the previous ones."""
    last = previous or RunRecord(automation)
    if error:
        kept = stages or last.stages
        return RunRecord(automation, now, last.last_success, error, last.last_commit, kept)
    return RunRecord(automation, now, now, None, commit or last.last_commit, stages)


def _clean(text: str | None) -> str:
    return redact(text or "")


__all__ = [
    "AutomationView",
    "LiveFacts",
    "Overview",
    "PolicyDetail",
    "PolicyView",
    "PromotionView",
    "PullRequestView",
    "Quota",
    "RepositoryView",
    "RunRecord",
    "StageRecord",
    "VersionView",
    "commit_url",
    "next_run",
    "overview",
    "policy_detail",
    "policy_state",
    "policy_views",
    "pull_request_view",
    "safe_url",
    "tag_of",
]
