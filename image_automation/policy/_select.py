"""The selection pipeline: name gates → filter/extract → suffix → parse and range → min age →
rank → pin/follow → :class:`~image_automation.domain.Decision`.

Pure: tags and ``now`` come in, a Decision goes out. A tag the policy cannot use is skipped with
a reason, never fatal (Flux fails a whole numerical policy on one bad tag); a tag that is not a
valid OCI tag is skipped first, whatever the policy, so no list of tags (a scan, a file, a
state store) can make one win. Every distinct input tag ends up exactly once as the winner, in
``skipped`` or in ``lost``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from datetime import datetime, timedelta

from image_automation.domain import NOT_A_TAG, Decision, TagInfo, invalid_tags
from image_automation.policy._patterns import utf8
from image_automation.policy._ranking import (
    NO_AGE,
    Ranked,
    age_timestamp,
    rank_alphabetical,
    rank_newest,
    rank_numerical,
    rank_semver,
)
from image_automation.policy._spec import CompiledSpec, SelectionSpec, compile_spec

_LOST_WORDS = {
    ("semver", "asc"): "older than",
    ("semver", "desc"): "older than",
    ("alphabetical", "asc"): "sorts before",
    ("alphabetical", "desc"): "sorts after",
    ("numerical", "asc"): "smaller than",
    ("numerical", "desc"): "larger than",
    ("newest_build", "asc"): "built before",
    ("newest_build", "desc"): "built before",
}


def select(spec: SelectionSpec, tags: Iterable[TagInfo | str], *, now: datetime) -> Decision:
    """Choose a tag from ``tags`` by ``spec``; ``now`` is the clock for ``min_age``.

    Raises :class:`~image_automation.policy.InvalidSpec` (a ``PolicyError``) when the spec is
    invalid; never raises because of a tag.
    """
    compiled = compile_spec(spec)
    if spec.min_age is not None and now.tzinfo is None:
        raise ValueError("now must be timezone-aware")
    items = tags if isinstance(tags, list | tuple) else list(tags)
    only_names = set(map(type, items)) <= {str}  # C-level check; the common case from a scan
    names: list[str] = list(
        dict.fromkeys(items if only_names else [_name(t) for t in items])  # type: ignore[arg-type]
    )
    infos = _infos(items) if spec.needs_tag_info and not only_names else {}

    skipped: dict[str, str] = {}
    valid = _valid(names, skipped=skipped)
    passed = _name_gates(compiled, names=valid, skipped=skipped)
    passed, values = _filter(compiled, names=passed, skipped=skipped)
    considered = tuple(passed)
    ranked = _rank(compiled, tags=passed, values=values, infos=infos, skipped=skipped)
    if spec.min_age is not None:
        ranked = _age_gate(ranked, infos=infos, min_age=spec.min_age, now=now, skipped=skipped)

    def info_of(tag: str) -> TagInfo | None:
        """The tag's info: from the index when built, else found without indexing every tag."""
        return infos.get(tag) or (None if only_names else _find(items, tag))

    if spec.pin is not None or spec.ordering == "follow":
        return _hold(
            spec, names=valid, considered=considered, ranked=ranked, info_of=info_of,
            skipped=skipped,
        )  # fmt: skip
    if not ranked:
        why = f"nothing qualifies: {len(names)} tags, {len(skipped)} skipped"
        return Decision(
            policy=spec.name, tag=None, considered=considered, skipped=skipped, reasons=(why,)
        )
    winner, lost = _winner(spec, ranked)
    info = info_of(winner)
    return Decision(
        policy=spec.name,
        tag=winner,
        considered=considered,
        skipped=skipped,
        lost=lost,
        digest=info.digest if info else None,
    )


def _winner(spec: SelectionSpec, ranked: Ranked) -> tuple[str, dict[str, str]]:
    """The winning tag and a reason for every other ranked tag.

    Losers share one reason string (``older than 1.4.0``) built once, so 100,000 losers cost a
    dict, not 100,000 formatted strings; only tags tied with the winner get their own.
    """
    highest = spec.ordering in ("semver", "newest_build") or spec.order == "asc"
    best_key, winner = ranked.pick(highest=highest)
    lost = dict.fromkeys(ranked.tags, f"{_LOST_WORDS[spec.ordering, spec.order]} {winner}")
    del lost[winner]
    if ranked.keys.count(best_key) > 1:  # rare: find the tied tags
        for key, tag in zip(ranked.keys, ranked.tags, strict=True):
            if key == best_key and tag != winner:
                lost[tag] = f"ties with {winner}, which wins as the greater tag"
    return winner, lost


def _name(tag: TagInfo | str) -> str:
    return tag if isinstance(tag, str) else tag.name


def _find(items: Sequence[TagInfo | str], name: str) -> TagInfo | None:
    """The first TagInfo named ``name``: the winner's digest without indexing every tag."""
    for item in items:
        if not isinstance(item, str) and item.name == name:
            return item
    return None


def _infos(items: Sequence[TagInfo | str]) -> dict[str, TagInfo]:
    infos: dict[str, TagInfo] = {}
    for item in items:
        if not isinstance(item, str) and item.name not in infos:
            infos[item.name] = item
    return infos


def _valid(names: list[str], *, skipped: dict[str, str]) -> list[str]:
    """The names that are OCI tags; the others skipped as such (the one rule for every list)."""
    bad = invalid_tags(names)
    if not bad:
        return names
    return _drop(names, hits=bad, reason=NOT_A_TAG, skipped=skipped)


def _name_gates(compiled: CompiledSpec, *, names: list[str], skipped: dict[str, str]) -> list[str]:
    """Exclusion, deny and allow: the gates that look at the tag name alone."""
    joined = "\n".join(names) + "\n" if any(m.suffix for m in compiled.exclusion) else ""
    for matcher in compiled.exclusion:
        hits = matcher.hits(names, joined=joined)
        if hits:
            names = _drop(
                names, hits=hits, reason=f"excluded by {matcher.pattern}", skipped=skipped
            )
    for matcher in compiled.deny:
        hits = matcher.hits(names, joined="")
        if hits:
            names = _drop(names, hits=hits, reason=f"denied by {matcher.pattern}", skipped=skipped)
    if compiled.allow:
        allowed = {t for m in compiled.allow for t in m.hits(names, joined="")}
        refused = [t for t in names if t not in allowed]
        if refused:
            which = ", ".join(m.pattern for m in compiled.allow)
            reason = f"not allowed (matches none of: {which})"
            names = _drop(names, hits=refused, reason=reason, skipped=skipped)
    return names


def _drop(names: list[str], *, hits: list[str], reason: str, skipped: dict[str, str]) -> list[str]:
    for tag in hits:
        skipped.setdefault(tag, reason)
    gone = set(hits)
    return [t for t in names if t not in gone]


def _filter(
    compiled: CompiledSpec, *, names: list[str], skipped: dict[str, str]
) -> tuple[list[str], list[str]]:
    """Filter pattern, extract template and suffix: the tags that remain and their values."""
    spec = compiled.spec
    values = names
    search = compiled.filter_search
    if search is not None:
        kept: list[str] = []
        values = []
        template = compiled.template
        no_match = f"does not match filter {spec.filter_pattern}"
        for tag in names:
            match = search(utf8(tag))
            if match is None:
                skipped[tag] = no_match
                continue
            value = template.expand(match) if template is not None else tag
            if not value:
                skipped[tag] = f"extract {spec.extract} is empty"
                continue
            kept.append(tag)
            values.append(value)
        names = kept
    suffix = spec.suffix
    if suffix:
        kept, stripped = [], []
        reason = f"does not end with suffix {suffix}"
        for tag, value in zip(names, values, strict=True):
            if value.endswith(suffix) and len(value) > len(suffix):
                kept.append(tag)
                stripped.append(value[: -len(suffix)])
            else:
                skipped[tag] = reason
        names, values = kept, stripped
    return names, values


def _rank(
    compiled: CompiledSpec,
    *,
    tags: list[str],
    values: list[str],
    infos: dict[str, TagInfo],
    skipped: dict[str, str],
) -> Ranked:
    spec = compiled.spec
    if spec.ordering == "semver":
        assert compiled.semver_range is not None  # validate_spec guarantees it
        return rank_semver(
            tags=tags,
            values=values,
            semver_range=compiled.semver_range,
            strict=spec.strict_semver,
            prereleases=spec.prereleases,
            skipped=skipped,
        )
    if spec.ordering == "numerical":
        return rank_numerical(tags=tags, values=values, skipped=skipped)
    if spec.ordering == "alphabetical":
        return rank_alphabetical(tags=tags, values=values)
    if spec.ordering == "newest_build":
        return rank_newest(tags=tags, infos=infos, skipped=skipped)
    return Ranked(keys=[None] * len(tags), tags=list(tags))  # follow: the named tag wins


def _age_gate(
    ranked: Ranked,
    *,
    infos: dict[str, TagInfo],
    min_age: timedelta,
    now: datetime,
    skipped: dict[str, str],
) -> Ranked:
    kept = Ranked(keys=[], tags=[])
    limit = format_duration(min_age)
    for key, tag in zip(ranked.keys, ranked.tags, strict=True):
        when = age_timestamp(infos.get(tag))
        if when is None:
            skipped[tag] = f"{NO_AGE} for minAge {limit}"
        elif when.tzinfo is None:
            skipped[tag] = "timestamp has no time zone"
        elif now - when < min_age:
            age = now - when
            shown = format_duration(age) if age >= timedelta(0) else "in the future"
            skipped[tag] = f"younger than minAge {limit} (age {shown})"
        else:
            kept.keys.append(key)
            kept.tags.append(tag)
    return kept


def _hold(
    spec: SelectionSpec,
    *,
    names: list[str],
    considered: tuple[str, ...],
    ranked: Ranked,
    info_of: Callable[[str], TagInfo | None],
    skipped: dict[str, str],
) -> Decision:
    """``pin`` or ``follow``: one exact tag wins if present, whatever the gates said of it."""
    held = spec.pin if spec.pin is not None else spec.follow_tag
    assert held is not None
    remark = f"pinned at {held}" if spec.pin is not None else f"following {held}"
    lost = {tag: remark for tag in ranked.tags if tag != held}
    if held not in names:
        why = f"{remark}, but {held} is not among the {len(names)} tags"
        return Decision(
            policy=spec.name,
            tag=None,
            considered=considered,
            skipped=skipped,
            lost=lost,
            reasons=(why,),
        )
    skipped.pop(held, None)
    if held not in considered:
        keep = {*considered, held}
        considered = tuple(t for t in names if t in keep)
    info = info_of(held)
    reasons = [remark]
    if spec.ordering == "follow" and (info is None or info.digest is None):
        reasons.append(f"digest of {held} is unknown")
    return Decision(
        policy=spec.name,
        tag=held,
        considered=considered,
        skipped=skipped,
        lost=lost,
        reasons=tuple(reasons),
        digest=info.digest if info else None,
    )


def format_duration(delta: timedelta) -> str:
    """Go-style compact duration: ``24h``, ``1h30m``, ``45s``, ``0s`` (whole seconds)."""
    seconds = int(delta.total_seconds())
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    text = (f"{hours}h" if hours else "") + (f"{minutes}m" if minutes else "")
    text += f"{secs}s" if secs or not text else ""
    return text
