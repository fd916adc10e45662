"""Clone, commit and push over file://, smart HTTP (basic and bearer) and SSH."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from image_automation.domain import UpdateResult
from image_automation.git import CommitSettings, GitAuth, PushSettings, RepoSpec, Workspace
from tests.integration.git.helpers import APP_FILE, bump_to
from tests.integration.git_fixtures import GitRemote, HttpGitServer, SshGitServer

pytestmark = pytest.mark.integration

AUTHOR = CommitSettings(author_name="Image Bot", author_email="bot@example.test")


async def _publish_and_check(url: str, remote: GitRemote, auth: GitAuth | None, work: Path) -> None:
    before = remote.head()
    async with Workspace.open(RepoSpec(url=url), work_dir=work, auth=auth) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=AUTHOR, push=PushSettings())
    assert outcome.commit == remote.head()
    newest = remote.commits()[0]
    assert newest.parents == (before,)
    assert newest.author == "Image Bot <bot@example.test>"
    assert "registry.local/app:1.0.0 -> registry.local/app:1.1.0" in newest.body
    assert "image: registry.local/app:1.1.0" in remote.read(APP_FILE)


async def test_publish_over_file_url(git_remote: GitRemote, tmp_path: Path) -> None:
    await _publish_and_check(git_remote.url, git_remote, None, tmp_path / "work")


async def test_publish_over_http_with_basic_auth(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secrets" / "repo-https"
    secret.mkdir(parents=True)
    (secret / "username").write_text(http_git_server.username + "\n")
    (secret / "password").write_text(http_git_server.password + "\n")
    auth = GitAuth.from_secrets_dir(tmp_path / "secrets", "repo-https")
    url = http_git_server.url_for(served_remote)
    await _publish_and_check(url, served_remote, auth, tmp_path / "work")


async def test_publish_over_http_with_bearer_token(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    auth = GitAuth(bearer_token=http_git_server.token)
    url = http_git_server.url_for(served_remote)
    await _publish_and_check(url, served_remote, auth, tmp_path / "work")


async def test_publish_over_ssh_with_strict_host_key(
    served_remote: GitRemote, ssh_git_server: SshGitServer, tmp_path: Path
) -> None:
    secret = tmp_path / "secrets" / "repo-ssh"  # Flux secretRef layout, as mounted
    secret.mkdir(parents=True)
    (secret / "identity").write_bytes(ssh_git_server.identity)
    (secret / "known_hosts").write_bytes(ssh_git_server.known_hosts)
    (secret / "identity").chmod(0o644)  # Kubernetes mounts Secrets 0644; ssh wants 0600
    auth = GitAuth.from_secrets_dir(tmp_path / "secrets", "repo-ssh")
    url = ssh_git_server.url_for(served_remote)
    await _publish_and_check(url, served_remote, auth, tmp_path / "work")


async def test_push_larger_than_the_http_post_buffer_streams_through(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path
) -> None:
    blob = os.urandom(3 << 20).hex()  # ~6 MiB of incompressible text: a chunked pack upload
    bump = bump_to("1.1.0")

    async def apply(root: Path) -> UpdateResult:
        (root / "deploy" / "bundle.txt").write_text(blob)
        return await bump(root)

    auth = GitAuth(username=http_git_server.username, password=http_git_server.password)
    url = http_git_server.url_for(served_remote)
    async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path, auth=auth) as ws:
        outcome = await ws.publish(apply, commit=AUTHOR, push=PushSettings())
    assert outcome.commit == served_remote.head()
    assert served_remote.read("deploy/bundle.txt") == blob
    uploads = [r for r in http_git_server.requests if r.path_qs.endswith("/git-receive-pack")]
    assert any(r.headers.get("Transfer-Encoding") == "chunked" for r in uploads)


@pytest.mark.parametrize("transport", ["http", "ssh"])
async def test_rejected_push_is_retried_over_network_transports(
    transport: str,
    served_remote: GitRemote,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> None:
    if transport == "http":
        http: HttpGitServer = request.getfixturevalue("http_git_server")
        url = http.url_for(served_remote)
        auth = GitAuth(username=http.username, password=http.password)
    else:
        ssh: SshGitServer = request.getfixturevalue("ssh_git_server")
        url = ssh.url_for(served_remote)
        auth = GitAuth(identity=ssh.identity, known_hosts=ssh.known_hosts)
    bump = bump_to("1.5.0")
    calls = 0
    other = ""

    async def apply_while_the_remote_moves(root: Path) -> UpdateResult:
        nonlocal calls, other
        calls += 1
        if calls == 1:
            other = served_remote.commit_files({"README.md": "human\n"}, "Human edit")
        return await bump(root)

    async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path, auth=auth) as ws:
        outcome = await ws.publish(
            apply_while_the_remote_moves, commit=AUTHOR, push=PushSettings(backoff=0.01)
        )
    commits = served_remote.commits()
    assert (calls, outcome.attempts) == (2, 2)
    assert commits[0].sha == outcome.commit
    assert commits[0].parents == (other,)
    assert served_remote.git("rev-list", "--merges", "main").strip() == ""
    assert sum("app:1.5.0" in c.body for c in commits) == 1
