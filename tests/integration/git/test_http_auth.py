"""A credential the remote refuses: one line naming the remote and the secret, never its value.

Against the real smart-HTTP server (401 for a wrong or missing credential, 403 for a push
with its read-only token) and the real sshd (a key it does not know). Before, git's own
words came through: curl trace lines (``http.c:… == Info:``) and, for a refused token,
"could not read Username".
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from image_automation.errors import GitError
from image_automation.git import CommitSettings, GitAuth, PushSettings, RepoSpec, Workspace
from tests.integration.conftest import LeakCheck
from tests.integration.fixture_base import SECRETS
from tests.integration.git.helpers import bump_to
from tests.integration.git_fixtures import GitRemote, HttpGitServer, SshGitServer, make_ssh_key

pytestmark = pytest.mark.integration

WRONG_PASSWORD = "pw-Wr0ng-refused-by-the-remote"
WRONG_TOKEN = "tok-Wr0ng-refused-by-the-remote"
SECRETS.add(WRONG_PASSWORD)
SECRETS.add(WRONG_TOKEN)

NOISE = ("http.c:", "== Info:", "could not read Username", "terminal prompts", "\n")


def _secret(root: Path, name: str, **files: str | bytes) -> GitAuth:
    folder = root / "secrets" / name
    folder.mkdir(parents=True)
    for key, value in files.items():
        path = folder / key
        path.write_bytes(value) if isinstance(value, bytes) else path.write_text(value)
    return GitAuth.from_secrets_dir(root / "secrets", name)


async def _clone_error(url: str, auth: GitAuth | None, work: Path, check: LeakCheck) -> str:
    with check.raises(GitError) as caught:
        async with Workspace.open(RepoSpec(url=url), work_dir=work, auth=auth):
            pass  # pragma: no cover
    message = str(caught.value)
    for noise in NOISE:
        assert noise not in message, message
    return message


@pytest.mark.parametrize("kind", ["password", "bearerToken"])
async def test_a_refused_http_credential_is_one_line_naming_remote_and_secret(
    kind: str,
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    tmp_path: Path,
    leak_check: LeakCheck,
) -> None:
    if kind == "password":
        auth = _secret(tmp_path, "fleet-auth", username="automation", password=WRONG_PASSWORD)
        hint = "check its username and password"
    else:
        auth = _secret(tmp_path, "fleet-auth", bearerToken=WRONG_TOKEN)
        hint = "check its bearerToken"
    url = http_git_server.url_for(served_remote)
    message = await _clone_error(url, auth, tmp_path / "work", leak_check)
    assert message == (
        f"clone failed: {url} refused the credential of git secret 'fleet-auth' (HTTP 401; {hint})"
    )


async def test_a_push_forbidden_for_the_credential_is_one_line_with_http_403(
    served_remote: GitRemote,
    http_git_server: HttpGitServer,
    tmp_path: Path,
    leak_check: LeakCheck,
) -> None:
    auth = _secret(tmp_path, "read-only", bearerToken=http_git_server.read_only_token)
    url = http_git_server.url_for(served_remote)
    before = served_remote.head()
    async with Workspace.open(RepoSpec(url=url), work_dir=tmp_path / "work", auth=auth) as ws:
        with leak_check.raises(GitError) as caught:
            await ws.publish(bump_to("1.1.0"), commit=CommitSettings(), push=PushSettings())
    assert str(caught.value) == (
        f"push failed: {url} refused the credential of git secret 'read-only' "
        "(HTTP 403; it may lack access to this repository)"
    )
    assert served_remote.head() == before


async def test_a_credential_made_in_code_is_named_by_its_kind(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    url = http_git_server.url_for(served_remote)
    auth = GitAuth(username="automation", password=WRONG_PASSWORD)
    message = await _clone_error(url, auth, tmp_path / "work", leak_check)
    assert message == (
        f"clone failed: {url} refused the credential (HTTP 401; check its username and password)"
    )


async def test_a_remote_asking_for_a_credential_when_none_is_configured_says_so(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    url = http_git_server.url_for(served_remote)
    message = await _clone_error(url, None, tmp_path / "work", leak_check)
    assert message == (
        f"clone failed: {url} asks for a credential (HTTP 401) and none is configured; "
        "give the repository a git secret"
    )


async def test_a_refused_ssh_key_is_one_line_naming_remote_and_secret(
    served_remote: GitRemote, ssh_git_server: SshGitServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    stranger = make_ssh_key(tmp_path / "stranger").read_bytes()
    auth = _secret(tmp_path, "fleet-ssh", identity=stranger, known_hosts=ssh_git_server.known_hosts)
    url = ssh_git_server.url_for(served_remote)
    message = await _clone_error(url, auth, tmp_path / "work", leak_check)
    assert message == (
        f"clone failed: {url} refused the SSH key of git secret 'fleet-ssh' "
        "(check its identity, and that the server knows its public key)"
    )


def test_reconcile_prints_a_refused_credential_as_one_line(
    served_remote: GitRemote, http_git_server: HttpGitServer, tmp_path: Path, leak_check: LeakCheck
) -> None:
    _secret(tmp_path, "fleet-auth", bearerToken=WRONG_TOKEN)
    url = http_git_server.url_for(served_remote)
    proc = subprocess.run(
        [
            sys.executable, "-c", "from image_automation.cli import main; main()",
            "reconcile", "--once", "--repo", url, "--secrets-dir", "secrets",
            "--git-secret", "fleet-auth", "--work-dir", "wd", "--state", "state.db",
        ],
        cwd=tmp_path, capture_output=True, text=True, timeout=120, check=False,
    )  # fmt: skip
    leak_check.record(proc.stdout + proc.stderr)
    assert proc.returncode == 1
    assert proc.stderr.splitlines()[0] == (
        f"error: {url} (main): clone failed: {url} refused the credential of git secret "
        "'fleet-auth' (HTTP 401; check its bearerToken)"
    )
