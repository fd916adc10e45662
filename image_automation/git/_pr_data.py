"""The variables a pull-request template sees, shaped from a change set.

A change is one replaced scalar; a reviewer thinks in images: "web goes from 1.0 to 1.1, in
these three files". So changes are grouped into *updates* (one per image, old → new version,
policy), each with where it was written, the new image's digest, and a compare link from
the OCI labels; beside them the policy decisions that explain the version. Everything is
plain data (dicts, lists, strings): the sandbox lets a template read nothing else.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from itertools import islice
from typing import Any

from image_automation.domain import Decision, ImageRef, InvalidReference
from image_automation.git._markdown import compare_url, source_repository
from image_automation.git._pr_content import ImageProvenance, PullRequestContent
from image_automation.git._templates import change_data, setter_field

SKIPPED_LINES = 5
"""Skipped tags listed per decision before "and N more"."""

FULL, NO_SKIPPED, NO_DECISIONS = 0, 1, 2
"""Detail levels, from everything to the table alone (see :func:`at_level`)."""


def shape(content: PullRequestContent, *, provider: str, limit: int) -> dict[str, Any]:
    """The complete template data for ``content`` (detail level :data:`FULL`)."""
    changes = sorted(content.result.changes, key=lambda c: (c.file, c.line))
    provenance = {_normal(ref): value for ref, value in content.images.items()}
    decisions = {_policy_key(key): value for key, value in content.decisions.items()}
    updates: dict[tuple[str, ...], dict[str, Any]] = {}
    items = []
    for change in changes:
        item = change_data(change)
        item["policy"] = _policy_key(item["policy"])
        items.append(item)
        row = _row(item, selected=content.selected, decisions=decisions, provenance=provenance)
        key = (row["image"], row["old"], row["new"], row["policy"])
        row = updates.setdefault(key, row)
        row["where"].append(f"{item['file']}:{item['line']}")
        row["changes"].append(item)
    policies = sorted({row["policy"] for row in updates.values()})
    return {
        "automation": content.automation,
        "head": content.head,
        "base": content.base,
        "provider": provider,
        "limit": limit,
        "truncated": False,
        "changes": items,
        "updates": list(updates.values()),
        "more_updates": 0,
        "more_changes": 0,
        "images": sorted({row["image"] for row in updates.values()}),
        "files": sorted({item["file"] for item in items}),
        "decisions": [_decision(p, decisions[p]) for p in policies if p in decisions],
        "more_decisions": 0,
        "held": [
            {"policy": _policy_key(p), "reason": reason}
            for p, reason in sorted(content.held.items())
        ],
        "warnings": list(content.result.warnings),
    }


def at_level(data: Mapping[str, Any], *, details: int, keep: int | None = None) -> dict[str, Any]:
    """``data`` shortened: skipped-tag lines dropped (:data:`NO_SKIPPED`), then decisions
    and holds (:data:`NO_DECISIONS`), and only the first ``keep`` updates."""
    out = dict(data)
    updates = list(data["updates"])
    if keep is not None and keep < len(updates):
        out["updates"], out["more_updates"] = updates[:keep], len(updates) - keep
        out["more_changes"] = sum(len(row["changes"]) for row in updates[keep:])
    if details >= NO_SKIPPED:
        out["decisions"] = [
            {**d, "skipped": [], "skipped_more": d["skipped_total"]} for d in data["decisions"]
        ]
    if details >= NO_DECISIONS:
        out["more_decisions"] = len(data["decisions"]) + len(data["held"])
        out["decisions"], out["held"] = [], []
    out["truncated"] = details > FULL or out["more_updates"] > 0
    return out


def _row(
    item: Mapping[str, Any],
    *,
    selected: Mapping[str, str],
    decisions: Mapping[str, Decision],
    provenance: Mapping[str, ImageProvenance],
) -> dict[str, Any]:
    policy = item["policy"]
    chosen = selected.get(policy) or selected.get(policy.replace("/", ":", 1))
    image, old, new, new_ref = _shown(item, chosen=chosen)
    found = _lookup(provenance, new_ref) or ImageProvenance()
    digest = _digest_of(new_ref) or found.digest
    decision = decisions.get(policy)
    if not digest and decision is not None and decision.tag and decision.tag == _tag_of(new_ref):
        digest = decision.digest
    repository = source_repository(found.source)
    link = compare_url(found.source, found.old_revision, found.new_revision)
    return {
        "image": image,
        "policy": policy,
        "old": old,
        "new": new,
        "old_value": item["old"],
        "new_value": item["new"],
        "digest": digest or "",
        "digest_short": _short(digest),
        "source": repository[1] if repository else "",
        "old_revision": found.old_revision or "",
        "new_revision": found.new_revision or "",
        "compare_url": link or "",
        "where": [],
        "changes": [],
    }


def _shown(item: Mapping[str, Any], *, chosen: str | None) -> tuple[str, str, str, str | None]:
    """``(image, old, new, new reference)`` as a reader wants them: the repository once and
    the versions that moved; a ``:tag``/``:digest``/``:name`` setter wrote only part of the
    reference, so its image is the one the policy selected (or the policy, when unknown)."""
    old, new = item["old"], item["new"]
    field = setter_field(item["setter"])
    if field == "image":
        image = _repository(new)
        if _repository(old) == image:
            old, new = _versions(old, new)
        return image, old, new, item["new"]
    image = _repository(chosen) if chosen else item["policy"]
    if field == "digest":
        old, new = _short(old), _short(new)
    return image, old, new, chosen


def _lookup(
    provenance: Mapping[str, ImageProvenance], reference: str | None
) -> ImageProvenance | None:
    if not reference:
        return None
    return provenance.get(_normal(reference)) or provenance.get(_normal(_without_digest(reference)))


def _decision(policy: str, decision: Decision) -> dict[str, Any]:
    preview = [
        {"tag": tag, "reason": decision.skipped[tag]}
        for tag in islice(_skipped_first(decision), SKIPPED_LINES)
    ]
    reasons = set(decision.lost.values())  # losers share one string, so this set is tiny
    return {
        "policy": policy,
        "tag": decision.tag or "",
        "reasons": list(decision.reasons),
        "skipped": preview,
        "skipped_more": len(decision.skipped) - len(preview),
        "skipped_total": len(decision.skipped),
        "lost_total": len(decision.lost),
        "lost_reason": next(iter(reasons)) if len(reasons) == 1 else "",
    }


def _skipped_first(decision: Decision) -> Iterator[str]:
    """Skipped tags that passed the filters first: they are the ones a reader asks about
    ("why not 2.0.0?"); tags the filter threw out (``latest``, ``sha-…``) come after."""
    considered = set(decision.considered)
    yield from (tag for tag in decision.skipped if tag in considered)
    yield from (tag for tag in decision.skipped if tag not in considered)


def _policy_key(policy: str) -> str:
    """A setter's ``namespace:name`` as the ``namespace/name`` key decisions are stored by."""
    return policy if "/" in policy else policy.replace(":", "/", 1)


def _parse(value: str | None) -> ImageRef | None:
    if not value or not ("/" in value or ":" in value or "@" in value):
        return None
    try:
        return ImageRef.parse(value)
    except InvalidReference:
        return None


def _normal(value: str | None) -> str:
    ref = _parse(value)
    return str(ref) if ref is not None else (value or "")


def _repository(value: str | None) -> str:
    """The reference as written, without its tag and digest."""
    text = (value or "").partition("@")[0]
    head, sep, tail = text.rpartition(":")
    return head if sep and "/" not in tail else text


def _tag_of(value: str | None) -> str | None:
    ref = _parse(value)
    return ref.tag if ref is not None else None


def _digest_of(value: str | None) -> str | None:
    ref = _parse(value)
    return ref.digest if ref is not None else None


def _without_digest(value: str | None) -> str:
    return (value or "").partition("@")[0]


def _versions(old: str, new: str) -> tuple[str, str]:
    """What changed between two references of one repository: the tags, with short digests
    when the tag stayed and the digest moved (a followed ``latest``)."""
    old_ref, new_ref = _parse(old), _parse(new)
    if old_ref is None or new_ref is None:
        return old, new
    if old_ref.tag == new_ref.tag and old_ref.digest != new_ref.digest:
        return _with_digest(old_ref), _with_digest(new_ref)
    return (old_ref.tag or _short(old_ref.digest)), (new_ref.tag or _short(new_ref.digest))


def _with_digest(ref: ImageRef) -> str:
    digest = _short(ref.digest) if ref.digest else ""
    return "@".join(part for part in (ref.tag or "", digest) if part)


def _short(digest: str | None) -> str:
    """``sha256:`` and the first 12 hex digits: enough to tell digests apart at a glance."""
    if not digest:
        return ""
    algorithm, sep, hexdigits = digest.partition(":")
    return f"{algorithm}:{hexdigits[:12]}" if sep and len(hexdigits) > 12 else digest


__all__ = ["FULL", "NO_DECISIONS", "NO_SKIPPED", "SKIPPED_LINES", "at_level", "shape"]
