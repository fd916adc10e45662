"""Properties of select(): the winner satisfies the policy, nothing considered outranks it,
and the input order does not matter."""

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given, settings
from hypothesis import strategies as st

from image_automation.domain import Decision, TagInfo, is_valid_tag
from image_automation.policy import SelectionSpec, parse_range, select
from image_automation.policy._versions import parse_version

NOW = datetime(2026, 11, 22, tzinfo=UTC)

numbers = st.integers(min_value=0, max_value=12).map(str)
prerelease = st.sampled_from(["", "", "", "-rc.1", "-rc.2", "-alpha", "-0", "-beta.11"])
build = st.sampled_from(["", "", "", "+b1", "+b2"])
prefix = st.sampled_from(["", "", "v"])
three_part = st.builds(
    lambda p, a, b, c, pre, meta: f"{p}{a}.{b}.{c}{pre}{meta}",
    prefix,
    numbers,
    numbers,
    numbers,
    prerelease,
    build,
)
other = st.sampled_from(["latest", "1.2", "3", "1.2.3.4", "01.2.3", "x.sig", "1.0.0.sig", "", "v"])
tags_strategy = st.lists(st.one_of(three_part, three_part, other), max_size=25)
ranges = st.sampled_from(
    [
        ">=1.0.0 <5.0.0",
        "^1.2",
        "~0.3",
        "*",
        ">=1.0.0-0",
        "1.x || >=10.0.0",
        "!=2.x, >=1",
        "<=3.4",
        ">2 <8 !=5.5.5",
        "2.3.4 - 6",
    ]
)


def semver_spec(range_text: str, *, strict: bool, prereleases: bool) -> SelectionSpec:
    return SelectionSpec(
        name="p",
        ordering="semver",
        semver_range=range_text,
        strict_semver=strict,
        prereleases=prereleases,
    )


def key_of(tag: str, spec: SelectionSpec) -> Any:
    key = parse_version(tag, strict=spec.strict_semver)
    assert key is not None
    return key


def same_outcome(a: Decision, b: Decision) -> bool:
    return (
        a.tag == b.tag
        and a.skipped == b.skipped
        and a.lost == b.lost
        and sorted(a.considered) == sorted(b.considered)
        and a.reasons == b.reasons
    )


@settings(max_examples=300, deadline=None)
@given(tags=tags_strategy, range_text=ranges, strict=st.booleans(), pre=st.booleans())
def test_semver_winner_satisfies_the_range_and_outranks_every_loser(
    tags: list[str], range_text: str, strict: bool, pre: bool
) -> None:
    spec = semver_spec(range_text, strict=strict, prereleases=pre)
    decision = select(spec, tags, now=NOW)
    semver_range = parse_range(range_text)
    if decision.tag is None:
        assert not decision.lost
        return
    winner = key_of(decision.tag, spec)
    assert not decision.tag.endswith(".sig")
    assert semver_range.contains(winner, prereleases=pre)
    for loser in decision.lost:
        assert (key_of(loser, spec), loser) < (winner, decision.tag)


@settings(max_examples=300, deadline=None)
@given(tags=tags_strategy, range_text=ranges, strict=st.booleans(), pre=st.booleans())
def test_semver_agrees_with_a_brute_force_reference(
    tags: list[str], range_text: str, strict: bool, pre: bool
) -> None:
    """The fast path (one regex, tuple bounds) picks what a plain check of every tag picks."""
    spec = semver_spec(range_text, strict=strict, prereleases=pre)
    semver_range = parse_range(range_text)
    candidates = []
    for tag in set(tags):
        key = parse_version(tag, strict=strict)
        if (
            is_valid_tag(tag)
            and key is not None
            and not tag.endswith(".sig")
            and semver_range.contains(key, prereleases=pre)
        ):
            candidates.append((key, tag))
    expected = max(candidates)[1] if candidates else None
    assert select(spec, tags, now=NOW).tag == expected


@settings(max_examples=200, deadline=None)
@given(
    tags=tags_strategy,
    range_text=ranges,
    strict=st.booleans(),
    pre=st.booleans(),
    data=st.data(),
)
def test_shuffling_the_input_changes_nothing(
    tags: list[str], range_text: str, strict: bool, pre: bool, data: st.DataObject
) -> None:
    spec = semver_spec(range_text, strict=strict, prereleases=pre)
    shuffled = data.draw(st.permutations(tags))
    assert same_outcome(select(spec, tags, now=NOW), select(spec, shuffled, now=NOW))


numeric_tags = st.lists(
    st.one_of(
        st.integers(min_value=-50, max_value=50).map(str),
        st.sampled_from(["1.5", "1.50", "2e1", "abc", "inf", "", "007", "-0"]),
    ),
    max_size=20,
)


@settings(max_examples=200, deadline=None)
@given(tags=numeric_tags, order=st.sampled_from(["asc", "desc"]), data=st.data())
def test_numerical_winner_is_extreme_and_order_free(
    tags: list[str], order: str, data: st.DataObject
) -> None:
    spec = SelectionSpec(name="p", ordering="numerical", order=order)  # type: ignore[arg-type]
    decision = select(spec, tags, now=NOW)
    shuffled = select(spec, data.draw(st.permutations(tags)), now=NOW)
    assert same_outcome(decision, shuffled)
    if decision.tag is None:
        return
    best = float(decision.tag)
    for loser in decision.lost:
        assert float(loser) <= best if order == "asc" else float(loser) >= best


@settings(max_examples=200, deadline=None)
@given(
    tags=st.lists(st.text(alphabet="ab1.-", max_size=5), max_size=15),
    order=st.sampled_from(["asc", "desc"]),
    data=st.data(),
)
def test_alphabetical_winner_is_extreme_and_order_free(
    tags: list[str], order: str, data: st.DataObject
) -> None:
    spec = SelectionSpec(name="p", ordering="alphabetical", order=order, exclusion=())  # type: ignore[arg-type]
    decision = select(spec, tags, now=NOW)
    shuffled = select(spec, data.draw(st.permutations(tags)), now=NOW)
    assert same_outcome(decision, shuffled)
    valid = [t for t in tags if is_valid_tag(t)]
    assert decision.skipped == dict.fromkeys(set(tags) - set(valid), "not a valid OCI tag")
    if valid:
        assert decision.tag == (max(valid) if order == "asc" else min(valid))
        assert set(decision.lost) | {decision.tag} == set(valid)


@st.composite
def any_spec(draw: st.DrawFn) -> SelectionSpec:
    ordering = draw(st.sampled_from(["semver", "alphabetical", "numerical", "newest_build"]))
    return SelectionSpec(
        name="p",
        ordering=ordering,
        semver_range=draw(ranges) if ordering == "semver" else None,
        order=draw(st.sampled_from(["asc", "desc"])),
        strict_semver=draw(st.booleans()),
        prereleases=draw(st.booleans()),
        filter_pattern=draw(st.sampled_from([None, r"^v?(?P<num>[0-9.]+)", r"\d"])),
        suffix=draw(st.sampled_from([None, None, ".0", "-rc.1"])),
        deny=draw(st.sampled_from([(), (r"^1\.",)])),
        allow=draw(st.sampled_from([(), (r"\.", "latest")])),
        pin=draw(st.sampled_from([None, None, None, "1.2.3", "latest"])),
        min_age=draw(st.sampled_from([None, None, timedelta(hours=1)])),
    )


dated = st.builds(
    lambda name, hours: TagInfo(name, created=NOW - timedelta(hours=hours) if hours else None),
    st.one_of(three_part, other),
    st.sampled_from([0, 0.5, 2, 3, 48]),
)


@settings(max_examples=300, deadline=None)
@given(spec=any_spec(), tags=st.lists(st.one_of(three_part, other, dated), max_size=20))
def test_every_distinct_tag_is_exactly_one_of_winner_skipped_lost(
    spec: SelectionSpec, tags: list[TagInfo | str]
) -> None:
    decision = select(spec, tags, now=NOW)
    names = {t if isinstance(t, str) else t.name for t in tags}
    winner = {decision.tag} - {None}
    groups = [winner, set(decision.skipped), set(decision.lost)]
    assert sum(len(g) for g in groups) == len(names)
    assert set().union(*groups) == names
    assert set(decision.considered) <= names
    assert len(decision.considered) == len(set(decision.considered))
    assert all(decision.skipped.values()) and all(decision.lost.values())
    if decision.tag is None:
        assert decision.reasons
