"""Push options (Flux ``git.push.options``) reach the server's hooks, over file:// and HTTP."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import ConfigError, GitError
from image_automation.git import CommitSettings, GitAuth, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import bump_to
from tests.integration.git_fixtures import GitRemote, HttpGitServer

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")
OPTIONS = ("merge_request.create", "merge_request.title=Update images: app 1.1.0")


def _record_push_options(remote: GitRemote) -> Path:
    """Advertise push options and have a pre-receive hook write down what it was sent."""
    remote.git("config", "receive.advertisePushOptions", "true")
    seen = remote.path / "seen-options"
    hook = remote.path / "hooks" / "pre-receive"
    hook.write_text(
        "#!/bin/sh\n"
        f": > '{seen}'\n"
        'i=0; while [ "$i" -lt "${GIT_PUSH_OPTION_COUNT:-0}" ]; do\n'
        f"  eval \"printf '%s\\n' \\\"\\$GIT_PUSH_OPTION_$i\\\"\" >> '{seen}'\n"
        "  i=$((i + 1)); done\n"
    )
    hook.chmod(0o755)
    return seen


async def _publish(url: str, work: Path, push: PushSettings, auth: GitAuth | None = None) -> None:
    async with Workspace.open(RepoSpec(url=url), work_dir=work, auth=auth) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=push)
    assert outcome.commit is not None


async def test_push_options_reach_the_hook_over_file(git_remote: GitRemote, tmp_path: Path) -> None:
    seen = _record_push_options(git_remote)
    await _publish(git_remote.url, tmp_path / "work", PushSettings(options=OPTIONS))
    assert seen.read_text().splitlines() == list(OPTIONS)


async def test_push_options_reach_the_hook_over_http(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    seen = _record_push_options(served_remote)
    auth = GitAuth(bearer_token=http_git_server.token)
    url = http_git_server.url_for(served_remote)
    await _publish(url, tmp_path / "work", PushSettings(options=OPTIONS), auth)
    assert seen.read_text().splitlines() == list(OPTIONS)


async def test_a_server_without_push_options_refuses_and_nothing_is_pushed(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    base = git_remote.head()
    with pytest.raises(GitError, match="push options"):
        await _publish(git_remote.url, tmp_path / "work", PushSettings(options=OPTIONS))
    assert git_remote.head() == base


@pytest.mark.parametrize(
    ("mapping", "options"),
    [
        ({"merge_request.create": "", "ci.skip": ""}, ("merge_request.create", "ci.skip")),
        ({"merge_request.target": "main"}, ("merge_request.target=main",)),
        (None, ()),
    ],
)
def test_flux_options_map_to_push_options(
    mapping: dict[str, str] | None, options: tuple[str, ...]
) -> None:
    assert PushSettings.options_from(mapping) == options


@pytest.mark.parametrize("bad", ["", "two\nlines"])
def test_an_option_git_cannot_send_is_a_config_error(bad: str) -> None:
    with pytest.raises(ConfigError, match="push option"):
        PushSettings(options=(bad,))
