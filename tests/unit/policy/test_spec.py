"""validate_spec reports every problem at once, each naming its field."""

from datetime import timedelta

import pytest

from image_automation.errors import PolicyError
from image_automation.policy import InvalidSpec, SelectionSpec, validate_spec
from image_automation.policy._spec import compile_spec

PROBLEMS = [
    (SelectionSpec(name="p", ordering="semver"), "policy.semver.range: required"),
    (
        SelectionSpec(name="p", ordering="semver", semver_range=">=x1"),
        "policy.semver.range: improper version",
    ),
    (
        SelectionSpec(name="p", ordering="alphabetical", semver_range="^1"),
        "policy.semver.range: only used by semver",
    ),
    (SelectionSpec(name="p", ordering="follow"), "policy.follow.tag: required"),
    (
        SelectionSpec(name="p", ordering="numerical", follow_tag="latest"),
        "policy.follow.tag: only used by follow",
    ),
    (
        SelectionSpec(name="p", ordering="numerical", exclusion=("(?=a)",)),
        "policy.exclusion[0]: invalid pattern",
    ),
    (SelectionSpec(name="p", ordering="numerical", allow=("ok", "(")), "policy.allow[1]: "),
    (SelectionSpec(name="p", ordering="numerical", deny=(r"\1",)), "policy.deny[0]: "),
    (
        SelectionSpec(name="p", ordering="numerical", filter_pattern="(a"),
        "policy.filterTags.pattern: invalid pattern",
    ),
    (
        SelectionSpec(name="p", ordering="numerical", extract="$1"),
        "policy.filterTags.extract: needs policy.filterTags.pattern",
    ),
    (
        SelectionSpec(
            name="p", ordering="numerical", filter_pattern=r"(?P<ts>\d+)", extract="$stamp"
        ),
        "policy.filterTags.extract: 'stamp' names no group",
    ),
    (
        SelectionSpec(name="p", ordering="numerical", filter_pattern=r"(\d+)", extract="$2"),
        "policy.filterTags.extract: '2' names no group",
    ),
    (SelectionSpec(name="p", ordering="alphabetical", suffix=""), "policy.suffix: "),
    (SelectionSpec(name="p", ordering="alphabetical", pin=""), "policy.pin: "),
    (
        SelectionSpec(name="p", ordering="alphabetical", min_age=timedelta(hours=-1)),
        "policy.minAge: must not be negative",
    ),
    (SelectionSpec(name="p", ordering="bogus"), "policy.ordering: must be one of"),  # type: ignore[arg-type]
    (SelectionSpec(name="p", ordering="numerical", order="up"), "policy.order: "),  # type: ignore[arg-type]
]


@pytest.mark.parametrize(("spec", "problem"), PROBLEMS)
def test_each_problem_names_its_field(spec: SelectionSpec, problem: str) -> None:
    problems = validate_spec(spec)
    assert len(problems) == 1, problems
    assert problems[0].startswith(problem)


VALID = [
    SelectionSpec(name="p", ordering="semver", semver_range="^1.2"),
    SelectionSpec(name="p", ordering="alphabetical", order="desc"),
    SelectionSpec(
        name="p", ordering="numerical", filter_pattern=r"^main-(?P<ts>\d+)$", extract="${ts}"
    ),
    SelectionSpec(name="p", ordering="newest_build", min_age=timedelta(hours=1)),
    SelectionSpec(name="p", ordering="follow", follow_tag="latest"),
    SelectionSpec(name="p", ordering="semver", semver_range="*", pin="1.2.3", suffix="-alpine"),
]


@pytest.mark.parametrize("spec", VALID)
def test_valid_specs_have_no_problems(spec: SelectionSpec) -> None:
    assert validate_spec(spec) == []


def test_all_problems_are_reported_together() -> None:
    spec = SelectionSpec(
        name="p", ordering="semver", exclusion=("(",), filter_pattern="(", deny=("(",)
    )
    fields = [problem.split(":")[0] for problem in validate_spec(spec)]
    assert fields == [
        "policy.semver.range",
        "policy.exclusion[0]",
        "policy.deny[0]",
        "policy.filterTags.pattern",
    ]


def test_compiling_an_invalid_spec_raises_a_policy_error_with_every_problem() -> None:
    spec = SelectionSpec(name="p", ordering="semver", exclusion=("(",))
    with pytest.raises(InvalidSpec) as caught:
        compile_spec(spec)
    assert isinstance(caught.value, PolicyError)
    assert isinstance(caught.value, ValueError)
    assert len(caught.value.problems) == 2


def test_spec_is_frozen_and_hashable() -> None:
    spec = SelectionSpec(name="p", ordering="semver", semver_range="^1")
    with pytest.raises(AttributeError):
        spec.name = "q"  # type: ignore[misc]
    assert hash(spec) == hash(SelectionSpec(name="p", ordering="semver", semver_range="^1"))
