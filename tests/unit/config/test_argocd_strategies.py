"""Each AIU update strategy and tag filter, as AIU's documentation describes them, through
the TrackedImage an image maps onto and our selection."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from image_automation.config.argocd_images import ImageSpec, glob_to_re2, map_image, merge
from image_automation.config.argocd_models import CommonUpdateSettings
from image_automation.config.loading import Loaded, LoadResult
from image_automation.config.resolving import resolve
from image_automation.domain import TagInfo
from image_automation.policy import select

NOW = datetime(2026, 1, 1, tzinfo=UTC)


def _select(image: str, settings: dict[str, object], tags: list[str | TagInfo]) -> str | None:
    spec = ImageSpec("a", image, CommonUpdateSettings.model_validate(settings), ("i",), ("s",))
    mapped = map_image(spec, namespace="argocd", name="u/app/a")
    assert mapped.tracked is not None, mapped.problems
    doc = Loaded(obj=mapped.tracked, file="f.yaml", line=1, lines={})
    resolved = resolve(LoadResult(documents=[doc]))
    assert not resolved.errors, resolved.errors
    return select(resolved.policies[0].spec, tags, now=NOW).tag


CASES = [
    # semver: the constraint is the tag part of imageName (Masterminds rules)
    ("some/image:1.2.x", {}, ["1.2.5", "1.2.12", "1.3.0"], "1.2.12"),
    ("some/image:1.x", {}, ["1.2.12", "1.3.0", "1.15.2", "2.0.0"], "1.15.2"),
    ("nginx:~1.26", {}, ["1.26.0", "1.26.3", "1.27.0"], "1.26.3"),
    ("some/image:1.x", {}, ["v1.0", "v1.1", "latest"], "v1.1"),  # loose, v prefix
    ("some/image:2.x", {}, ["2.0.0", "2.1.0-rc1"], "2.0.0"),  # no -0: no prereleases
    ("some/image:2.x-0", {}, ["2.0.0", "2.1.0-rc1"], "2.1.0-rc1"),  # -0: prereleases too
    ("some/image", {}, ["1.0.0", "2.0.0-rc.1", "main"], "2.0.0-rc.1"),  # none: every version
    ("registry:5000/team/app:1.x", {}, ["1.0.0", "1.1.0"], "1.1.0"),  # a port is no constraint
    # alphabetical (and its deprecated name), with an allowTags regexp
    ("some/image", {"updateStrategy": "alphabetical",
                    "allowTags": r"regexp:^[0-9]{4}-[0-9]{2}-[0-9]{2}$"},
     ["2024-01-02", "2024-12-31", "2023-05-05", "zzz"], "2024-12-31"),
    ("some/image", {"updateStrategy": "name"}, ["a", "c", "b"], "c"),
    # allowTags: any, an invalid regexp or function matches nothing (AIU)
    ("some/image", {"updateStrategy": "alphabetical", "allowTags": "any"}, ["a", "b"], "b"),
    ("some/image", {"updateStrategy": "alphabetical", "allowTags": "regexp:["}, ["a"], None),
    ("some/image", {"updateStrategy": "alphabetical", "allowTags": "glob:*"}, ["a"], None),
    # ignoreTags: filepath.Match globs
    ("some/image", {"updateStrategy": "alphabetical", "ignoreTags": ["latest", "master"]},
     ["latest", "master", "abc"], "abc"),
    ("some/image", {"updateStrategy": "alphabetical", "ignoreTags": ["*"]}, ["a", "b"], None),
    ("some/image", {"updateStrategy": "alphabetical", "ignoreTags": ["v1.?", "[xy]*"]},
     ["v1.9", "v1.10", "x1", "w"], "w"),
    ("some/image:1.x", {"ignoreTags": ["1.3.*"]}, ["1.2.0", "1.3.0"], "1.2.0"),
]  # fmt: skip


@pytest.mark.parametrize(("image", "settings", "tags", "expected"), CASES)
def test_strategy_and_filters_pick_what_aiu_documents(
    image: str, settings: dict[str, object], tags: list[str | TagInfo], expected: str | None
) -> None:
    assert _select(image, settings, tags) == expected


def test_newest_build_picks_the_latest_build_and_the_greater_tag_on_a_tie() -> None:
    built = datetime(2025, 6, 1, tzinfo=UTC)
    tags: list[str | TagInfo] = [
        TagInfo("old", created=datetime(2024, 1, 1, tzinfo=UTC)),
        TagInfo("f33bacd", created=built),
        TagInfo("dev", created=built),
        TagInfo("latest", created=built),
    ]
    assert _select("some/image", {"updateStrategy": "newest-build"}, tags) == "latest"
    restricted = {"updateStrategy": "newest-build", "allowTags": "regexp:^[0-9a-f]{7}$"}
    assert _select("some/image", restricted, tags) == "f33bacd"


def test_digest_follows_the_named_tag_and_writes_its_digest() -> None:
    digest = "sha256:" + "a" * 64
    tags: list[str | TagInfo] = [TagInfo("latest", digest=digest), TagInfo("1.0.0")]
    spec = ImageSpec("a", "some/image:latest", CommonUpdateSettings(update_strategy="digest"),
                     ("i",), ("s",))  # fmt: skip
    mapped = map_image(spec, namespace="argocd", name="u/app/a")
    assert mapped.tracked is not None
    assert mapped.tracked.spec.digest_reflection_policy == "Always"
    assert _select("some/image:latest", {"updateStrategy": "digest"}, tags) == "latest"


@pytest.mark.parametrize(
    ("image", "settings", "message", "error"),
    [
        ("some/image", {"updateStrategy": "newest_build"}, "unknown updateStrategy", True),
        ("some/image", {"updateStrategy": "latest"}, "deprecated", False),
        ("some/image", {"updateStrategy": "digest"}, "needs the tag to follow", True),
        ("some/image:>=1.0 <<2", {}, "version constraint", True),
        ("some/image", {"updateStrategy": "alphabetical", "allowTags": "regexp:("},
         "matches no tag", False),
        ("some/image", {"pullSecret": "ext:/bin/steal"}, "not read from Git", True),
        ("some/image", {"pullSecret": "env:TOKEN"}, "not read from Git", True),
        ("Some/Image", {}, "", True),
        ("some/image@sha256:" + "a" * 64, {}, "cannot be tracked", True),
    ],
)  # fmt: skip
def test_bad_or_odd_settings_are_reported_at_their_field(
    image: str, settings: dict[str, object], message: str, error: bool
) -> None:
    spec = ImageSpec("a", image, CommonUpdateSettings.model_validate(settings), ("i",), ("s",))
    problems = map_image(spec, namespace="argocd", name="u/app/a").problems
    assert any(message in p.message and p.error is error for p in problems), problems


def test_settings_merge_per_field_innermost_wins() -> None:
    outer = CommonUpdateSettings(update_strategy="alphabetical", ignore_tags=["x"])
    inner = CommonUpdateSettings(allow_tags="any")
    merged = merge(outer, None, inner)
    assert (merged.update_strategy, merged.ignore_tags, merged.allow_tags) == (
        "alphabetical", ["x"], "any",
    )  # fmt: skip


@pytest.mark.parametrize(
    ("glob", "regex"),
    [("*", "^[^/]*$"), ("v1.?", r"^v1\.[^/]$"), ("[^a]b", "^[^a]b$"), ("[", None), ("a\\", None)],
)
def test_ignore_globs_follow_go_filepath_match(glob: str, regex: str | None) -> None:
    assert glob_to_re2(glob) == regex
