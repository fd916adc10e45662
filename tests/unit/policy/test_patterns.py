"""User patterns use RE2 semantics; extraction templates expand like Go's Regexp.Expand."""

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from image_automation.policy import InvalidPattern, compile_pattern
from image_automation.policy._patterns import Matcher, parse_template, utf8


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        (r"(a)\1", "invalid escape sequence"),
        (r"(?=a)", "invalid perl operator"),
        (r"(?<!a)b", "invalid perl operator"),
        (r"(a", "missing )"),
        (r"[z-a]", "invalid character class range"),
    ],
)
def test_patterns_re2_refuses_are_invalid_with_re2s_reason(pattern: str, reason: str) -> None:
    with pytest.raises(InvalidPattern) as caught:
        compile_pattern(pattern)
    assert reason in str(caught.value)


def test_invalid_pattern_is_a_value_error() -> None:
    assert issubclass(InvalidPattern, ValueError)


@pytest.mark.parametrize(
    ("pattern", "tag", "found"),
    [
        (r"^.*\.sig$", "sha256-abc.sig", True),
        (r"^.*\.sig$", "1.0.0", False),
        (r"^.*\.sig$", "a.sig.old", False),
        (r"^.*\.sig$", "a.sig\n", False),  # RE2's $ is the end of text only
        (r"^.*\.sig$", "x\na.sig", False),  # . does not match a newline
        (r"^.*\.att$", "sha256-abc.att", True),
        (r"^.*-rc$", "1.0-rc", True),
        (r"^.*_tmp$", "a_tmp", True),
        (r"rc", "1.0.0-rc.1", True),  # search, not full match
        (r"^main-", "feature-main-1", False),
        (r"(?i)^LATEST$", "latest", True),
    ],
)
def test_matcher_searches_with_re2_semantics(pattern: str, tag: str, found: bool) -> None:
    assert Matcher(pattern)(tag) is found
    assert (Matcher(pattern).hits([tag], joined="") == [tag]) is found


def test_literal_suffix_patterns_take_the_shortcut() -> None:
    assert Matcher(r"^.*\.sig$").suffix == ".sig"
    assert Matcher(r"^.*\-x$").suffix == "-x"
    assert Matcher(r"^.*[.]sig$").suffix is None
    assert Matcher(r"^.*\.sig").suffix is None


TAG_TEXT = st.text(alphabet="ab.sig\n-_1", max_size=12)


@settings(deadline=None)  # no timing assertions: CI machines are shared
@given(tags=st.lists(TAG_TEXT, max_size=8), suffix=st.sampled_from([r"\.sig", r"\-1", "ab", "_"]))
def test_literal_suffix_shortcut_agrees_with_re2(tags: list[str], suffix: str) -> None:
    pattern = f"^.*{suffix}$"
    matcher = Matcher(pattern)
    assert matcher.suffix is not None
    compiled = compile_pattern(pattern)
    expected = [t for t in tags if compiled.search(t) is not None]
    joined = "\n".join(tags) + "\n"
    assert matcher.hits(tags, joined=joined) == expected
    assert matcher.hits(tags, joined="") == expected
    assert [t for t in tags if matcher(t)] == expected


TEMPLATE_PATTERN = r"^(?P<branch>[a-z]+)-(?P<sha>[0-9a-f]+)-(?P<ts>\d+)$"
TEMPLATE_TAG = "main-abc123-1700000000"

TEMPLATES = [
    ("$ts", "1700000000"),
    ("${ts}", "1700000000"),
    ("$3", "1700000000"),
    ("${3}", "1700000000"),
    ("$1-$2", "main-abc123"),
    ("${branch}x", "mainx"),
    ("$branchx", ""),  # $name takes the longest run of name characters: "branchx" is unknown
    ("$9", ""),
    ("$nope", ""),
    ("$$ts", "$ts"),
    ("cost $", "cost $"),
    ("${ts", "${ts"),
    ("$-", "$-"),
    ("$0", TEMPLATE_TAG),
    ("v${1}", "vmain"),
]


@pytest.mark.parametrize(("template", "expanded"), TEMPLATES)
def test_templates_expand_like_go(template: str, expanded: str) -> None:
    compiled = compile_pattern(TEMPLATE_PATTERN)
    parsed = parse_template(template, groups=compiled.groups, names=compiled.groupindex)
    assert parsed.expand(compiled.search(utf8(TEMPLATE_TAG))) == expanded


def test_unknown_group_references_are_reported() -> None:
    compiled = compile_pattern(TEMPLATE_PATTERN)
    parsed = parse_template("$nope-${9}-$ts", groups=compiled.groups, names=compiled.groupindex)
    assert parsed.unknown == ("nope", "9")


def test_unmatched_optional_group_expands_to_nothing() -> None:
    compiled = compile_pattern(r"^(a)?(b)$")
    parsed = parse_template("[$1]", groups=compiled.groups, names=compiled.groupindex)
    assert parsed.expand(compiled.search(utf8("b"))) == "[]"


def test_non_ascii_text_matches_by_character() -> None:
    compiled = compile_pattern(r"^(.)-(\w+)$")
    parsed = parse_template("$1$2", groups=compiled.groups, names=compiled.groupindex)
    assert parsed.expand(compiled.search(utf8("é-x1"))) == "éx1"
    assert Matcher(r"^.-").hits(["é-1", "ab-1"], joined="") == ["é-1"]
