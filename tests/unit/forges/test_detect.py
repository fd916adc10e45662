"""Which forge a git URL points at; hostile URLs are refused without leaking secrets."""

from __future__ import annotations

import pytest

from image_automation.errors import ForgeError
from image_automation.forges import ForgeLocation, detect_forge

DETECTED = [
    ("https://github.com/org/fleet.git", ("github", "https://api.github.com", "org/fleet")),
    ("https://github.com/org/fleet", ("github", "https://api.github.com", "org/fleet")),
    ("git@github.com:org/fleet.git", ("github", "https://api.github.com", "org/fleet")),
    ("ssh://git@github.com/org/fleet.git", ("github", "https://api.github.com", "org/fleet")),
    ("ssh://git@ssh.github.com:443/org/fleet", ("github", "https://api.github.com", "org/fleet")),
    (
        "https://x-access-token:ghp_x@github.com/org/fleet",
        ("github", "https://api.github.com", "org/fleet"),
    ),
    (
        "https://gitlab.com/group/sub/project.git",
        ("gitlab", "https://gitlab.com/api/v4", "group/sub/project"),
    ),
    ("git@gitlab.com:group/project.git", ("gitlab", "https://gitlab.com/api/v4", "group/project")),
    (
        "https://bitbucket.org/ws/fleet.git",
        ("bitbucket", "https://api.bitbucket.org/2.0", "ws/fleet"),
    ),
    ("git@bitbucket.org:ws/fleet.git", ("bitbucket", "https://api.bitbucket.org/2.0", "ws/fleet")),
    (
        "https://org@dev.azure.com/org/proj/_git/fleet",
        ("azuredevops", "https://dev.azure.com/org", "org/proj/_git/fleet"),
    ),
    (
        "git@ssh.dev.azure.com:v3/org/proj/fleet",
        ("azuredevops", "https://dev.azure.com/org", "org/proj/_git/fleet"),
    ),
    (
        "https://org.visualstudio.com/proj/_git/fleet",
        ("azuredevops", "https://org.visualstudio.com", "org/proj/_git/fleet"),
    ),
    (
        "https://org.visualstudio.com/DefaultCollection/proj/_git/fleet",
        ("azuredevops", "https://org.visualstudio.com", "org/proj/_git/fleet"),
    ),
    ("https://codeberg.org/org/fleet.git", ("forgejo", "https://codeberg.org/api/v1", "org/fleet")),
    ("git@gitea.com:org/fleet.git", ("gitea", "https://gitea.com/api/v1", "org/fleet")),
    ("HTTPS://GitHub.COM/org/fleet", ("github", "https://api.github.com", "org/fleet")),
]


@pytest.mark.parametrize(("url", "expected"), DETECTED)
def test_known_hosts_are_detected(url: str, expected: tuple[str, str, str]) -> None:
    assert detect_forge(url) == ForgeLocation(*expected)


@pytest.mark.parametrize(
    "url",
    [
        "https://git.example.com/org/fleet.git",
        "git@git.example.com:org/fleet.git",
        "file:///srv/git/fleet.git",
        "/srv/git/fleet.git",
        "./fleet",
    ],
)
def test_unknown_hosts_and_local_paths_are_none(url: str) -> None:
    assert detect_forge(url) is None


SELF_HOSTED = [
    (
        "https://ghe.example.com/org/fleet.git",
        "github",
        None,
        ("github", "https://ghe.example.com/api/v3", "org/fleet"),
    ),
    (
        "git@gitlab.example.com:group/sub/fleet.git",
        "gitlab",
        None,
        ("gitlab", "https://gitlab.example.com/api/v4", "group/sub/fleet"),
    ),
    (
        "http://127.0.0.1:3000/org/fleet.git",
        "gitea",
        None,
        ("gitea", "http://127.0.0.1:3000/api/v1", "org/fleet"),
    ),
    (
        "ssh://git@forge.example.com:2222/org/fleet.git",
        "forgejo",
        None,
        ("forgejo", "https://forge.example.com/api/v1", "org/fleet"),
    ),
    (
        "https://git.example.com/gitlab/group/fleet.git",
        "gitlab",
        "https://git.example.com/gitlab/api/v4",
        ("gitlab", "https://git.example.com/gitlab/api/v4", "gitlab/group/fleet"),
    ),
    (
        "https://tfs.example.com/tfs/Main/proj/_git/fleet",
        "azuredevops",
        None,
        ("azuredevops", "https://tfs.example.com/tfs/Main", "Main/proj/_git/fleet"),
    ),
    (
        "https://github.com/org/fleet",
        "github",
        "https://proxy.example.com/github",
        ("github", "https://proxy.example.com/github", "org/fleet"),
    ),
]


@pytest.mark.parametrize(("url", "provider", "api_url", "expected"), SELF_HOSTED)
def test_explicit_provider_and_api_url_win(
    url: str, provider: str, api_url: str | None, expected: tuple[str, str, str]
) -> None:
    assert detect_forge(url, provider=provider, api_url=api_url) == ForgeLocation(*expected)


HOSTILE = [
    ("https://user:hunter2@github.com/" + "a/" * 2000, "over 2048"),
    ("https://user:hunter2@github.com/org", "owner/name"),
    ("https://user:hunter2@github.com/org/fleet/extra", "owner/name"),
    ("https://user:hunter2@github.com/org/../fleet", "segment"),
    ("https://user:hunter2@github.com/org//fleet", "segment"),
    ("https://user:hunter2@github.com/org/fle et", "spaces"),
    ("https://user:hunter2@github.com/org/fleet\r\nHost: evil", "control"),
    ("https://user:hunter2@github.com:99999/org/fleet", "malformed"),
    ("https://user:hunter2@github.com/org/fleet?x=1", "query"),
    ("https://user:hunter2@gith_ub.com/org/fleet", "host name"),
    ("javascript://user:hunter2@github.com/org/fleet", "scheme"),
    ("https://user:hunter2@github.com/org/%2e%2e", "segment"),
    ("git@github.com:org/%2e%2e", "segment"),
    ("https://user:hunter2@dev.azure.com/org/proj/fleet", "_git"),
    ("https://user:hunter2@bitbucket.example.com/ws/fleet", "Bitbucket Cloud"),
    ("", "empty"),
    ("user:hunter2@git.example.com:org/../fleet", "segment"),  # scp-like, explicit provider
]


@pytest.mark.parametrize(("url", "words"), HOSTILE)
def test_hostile_urls_are_refused_clearly_without_the_password(url: str, words: str) -> None:
    provider = "bitbucket" if "bitbucket.example" in url else None
    provider = "gitea" if "git.example" in url else provider
    with pytest.raises(ForgeError, match=words) as caught:
        detect_forge(url, provider=provider)
    message = str(caught.value)
    assert "hunter2" not in message
    assert len(message) < 300


def test_an_unknown_provider_is_refused() -> None:
    with pytest.raises(ForgeError, match="unknown forge provider"):
        detect_forge("https://github.com/o/r", provider="sourceforge")
