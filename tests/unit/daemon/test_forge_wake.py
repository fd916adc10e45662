"""Which automations a forge event wakes: repository path and push branch, table-driven."""

from __future__ import annotations

import pytest

from image_automation.daemon.forge_hooks import ForgeEvent, PullRequestAction
from image_automation.daemon.forge_wake import (
    PushTarget,
    automations_for_event,
    branch_matches,
    same_repository,
    url_segments,
)

SEGMENTS: list[tuple[str, tuple[str, ...] | None]] = [
    ("https://github.com/Org/Fleet.git", ("org", "fleet")),
    ("https://x-access-token:secret@github.com/org/fleet", ("org", "fleet")),
    ("git@github.com:org/fleet.git", ("org", "fleet")),
    ("ssh://git@gitlab.example.com:2222/group/sub/fleet.git", ("group", "sub", "fleet")),
    ("https://gitlab.example.com/gitlab/group/fleet", ("gitlab", "group", "fleet")),
    ("https://org@dev.azure.com/org/Fleet%20Project/_git/fleet",
     ("org", "fleet project", "_git", "fleet")),
    ("git@ssh.dev.azure.com:v3/org/Fleet%20Project/fleet",
     ("org", "fleet project", "_git", "fleet")),
    ("https://org.visualstudio.com/DefaultCollection/P/_git/r", ("org", "p", "_git", "r")),
    ("https://org.visualstudio.com/P/_git/r", ("org", "p", "_git", "r")),
    ("http://127.0.0.1:8081/fleet.git", ("fleet",)),
    ("/srv/git/fleet.git", None),
    ("./fleet", None),
    ("file:///srv/git/fleet.git", None),
    ("https://[::1/broken", None),
]  # fmt: skip


@pytest.mark.parametrize(("url", "segments"), SEGMENTS)
def test_url_segments(url: str, segments: tuple[str, ...] | None) -> None:
    assert url_segments(url) == segments


SAME: list[tuple[str, str, bool]] = [
    ("org/fleet", "https://github.com/org/fleet.git", True),
    ("Org/Fleet", "git@github.com:org/fleet.git", True),
    ("org/fleet", "https://github.com/org/fleet-staging.git", False),
    ("org/fleet", "https://github.com/other/fleet.git", False),
    ("group/sub/fleet", "https://gitlab.example.com/gitlab/group/sub/fleet.git", True),
    ("sub/fleet", "https://gitlab.example.com/group/sub/fleet.git", True),
    ("group/sub/fleet", "https://gitlab.example.com/sub/fleet.git", False),
    ("org/Fleet Project/_git/fleet", "https://dev.azure.com/org/Fleet%20Project/_git/fleet", True),
    ("org/Fleet Project/_git/fleet", "git@ssh.dev.azure.com:v3/org/Fleet%20Project/fleet", True),
    ("org/P/_git/r", "https://org.visualstudio.com/DefaultCollection/P/_git/r", True),
    ("other/P/_git/r", "https://org.visualstudio.com/P/_git/r", False),
    ("Main/P/_git/r", "https://tfs.example.com/tfs/Main/P/_git/r", True),
    ("workspace/fleet", "https://bitbucket.org/workspace/fleet.git", True),
    ("fleet", "http://127.0.0.1:8081/fleet.git", True),
    ("org/fleet", "/srv/git/org/fleet.git", False),
    ("", "https://github.com/org/fleet.git", False),
    ("/", "https://github.com/org/fleet.git", False),
]  # fmt: skip


@pytest.mark.parametrize(("repository", "url", "same"), SAME)
def test_same_repository(repository: str, url: str, same: bool) -> None:
    assert same_repository(repository, url) is same


BRANCHES: list[tuple[str, str, bool]] = [
    ("image-updates", "image-updates", True),
    ("image-updates-apps-web", "image-updates", True),
    ("image-updates-", "image-updates", False),
    ("image-updatesx", "image-updates", False),
    ("image-update", "image-updates", False),
    ("Image-Updates", "image-updates", False),
    ("image-updates/web", "image-updates", False),
    ("main", "image-updates", False),
]


@pytest.mark.parametrize(("head", "push", "matches"), BRANCHES)
def test_branch_matches(head: str, push: str, matches: bool) -> None:
    assert branch_matches(head, push) is matches


TARGETS = {
    "apps/web": PushTarget("https://github.com/org/fleet.git", "image-updates"),
    "apps/api": PushTarget("https://github.com/org/fleet.git", "api-updates"),
    "apps/direct": PushTarget("https://github.com/org/fleet.git", None),
    "apps/other-repo": PushTarget("https://github.com/org/other.git", "image-updates"),
    "ImageAutomation/apps/grouped": PushTarget("git@github.com:org/fleet.git", "image-updates"),
}


def event(head: str, repository: str = "org/fleet") -> ForgeEvent:
    return ForgeEvent("github", repository, 7, head, "main", PullRequestAction.MERGED)


def test_an_event_wakes_the_automations_pushing_that_branch_of_that_repository() -> None:
    assert automations_for_event(event("image-updates-apps-app"), TARGETS) == [
        "ImageAutomation/apps/grouped",
        "apps/web",
    ]
    assert automations_for_event(event("api-updates"), TARGETS) == ["apps/api"]


def test_a_branch_or_repository_of_no_automation_wakes_nothing() -> None:
    assert automations_for_event(event("main"), TARGETS) == []
    assert automations_for_event(event("image-updates", "org/unknown"), TARGETS) == []
    assert automations_for_event(event("image-updates"), {}) == []


def test_the_branch_rule_can_be_replaced() -> None:
    exact = automations_for_event(
        event("image-updates-apps-app"), TARGETS, branch_rule=lambda head, push: head == push
    )
    assert exact == []
