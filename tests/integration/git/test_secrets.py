"""No password or token in any log line, exception text, remote URL, .git/config or file."""

from __future__ import annotations

import logging
import traceback
from pathlib import Path

import pytest

from image_automation.errors import GitError
from image_automation.git import CommitSettings, GitAuth, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import bump_to
from tests.integration.git_fixtures import GitRemote, HttpGitServer, SshGitServer, run_git

pytestmark = pytest.mark.integration


def _assert_nowhere(secret: str, *, texts: list[str], work: Path) -> None:
    for text in texts:
        assert secret not in text
    for path in work.rglob("*"):
        if path.is_file():
            assert secret.encode() not in path.read_bytes(), path


def _auths(server: HttpGitServer) -> list[tuple[GitAuth, str]]:
    return [
        (GitAuth(username=server.username, password=server.password), server.password),
        (GitAuth(bearer_token=server.token), server.token),
    ]


@pytest.mark.parametrize("kind", [0, 1], ids=["basic", "bearer"])
async def test_credentials_never_leak_on_success(
    kind: int,
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    auth, secret = _auths(http_git_server)[kind]
    url = http_git_server.url_for(served_remote)
    seen_before = len(http_git_server.requests)
    caplog.set_level(logging.DEBUG)
    async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path, auth=auth) as ws:
        await ws.publish(bump_to("1.1.0"), commit=CommitSettings(), push=PushSettings())
        checkout = ws.path
    # The credential really was used: the server saw it in a header, never in a URL.
    seen = http_git_server.requests[seen_before:]
    assert any("Authorization" in r.headers for r in seen)
    assert all(secret not in r.path_qs for r in seen)
    remote_urls = run_git("remote", "-v", cwd=checkout)
    assert url in remote_urls
    config = (checkout / ".git" / "config").read_text()
    _assert_nowhere(secret, texts=[caplog.text, remote_urls, config], work=tmp_path)


@pytest.mark.parametrize("kind", [0, 1], ids=["basic", "bearer"])
async def test_credentials_never_leak_in_errors(
    kind: int,
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    tmp_path: Path,
    caplog: pytest.LogCaptureFixture,
) -> None:
    wrong = ["pw-Wr0ng-but-still-secret", "tok-Wr0ng-but-still-secret"][kind]
    auth = (
        GitAuth(username=http_git_server.username, password=wrong)
        if kind == 0
        else GitAuth(bearer_token=wrong)
    )
    url = http_git_server.url_for(served_remote)
    caplog.set_level(logging.DEBUG)
    with pytest.raises(GitError) as caught:
        async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path, auth=auth):
            pass  # pragma: no cover
    rendered = "".join(traceback.format_exception(caught.value))
    assert "clone failed" in str(caught.value)
    _assert_nowhere(wrong, texts=[rendered, repr(caught.value), caplog.text], work=tmp_path)


async def test_ssh_with_wrong_host_key_is_refused(
    served_remote: GitRemote, ssh_git_server: SshGitServer, tmp_path: Path
) -> None:
    other = ssh_git_server.known_hosts.split(b" ")[0] + b" ssh-ed25519 " + b"A" * 68 + b"\n"
    auth = GitAuth(identity=ssh_git_server.identity, known_hosts=other)
    with pytest.raises(GitError, match="clone failed"):
        async with Workspace.open(
            RepoSpec(url=ssh_git_server.url_for(served_remote)), work_dir=tmp_path, auth=auth
        ):
            pass  # pragma: no cover
    assert not [p for p in tmp_path.rglob("*") if p.name == "identity"]


async def test_ssh_without_known_hosts_is_refused_before_connecting(
    served_remote: GitRemote, ssh_git_server: SshGitServer, tmp_path: Path
) -> None:
    auth = GitAuth(identity=ssh_git_server.identity)
    with pytest.raises(GitError, match="known_hosts"):
        async with Workspace.open(
            RepoSpec(url=ssh_git_server.url_for(served_remote)), work_dir=tmp_path, auth=auth
        ):
            pass  # pragma: no cover


async def test_missing_http_credentials_fail_at_once_instead_of_prompting(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    url = http_git_server.url_for(served_remote)
    with pytest.raises(GitError, match=r"asks for a credential .* none is configured"):
        async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path):
            pass  # pragma: no cover
