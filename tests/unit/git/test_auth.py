"""Git secrets in Flux's secretRef layout, and how credentials reach git without leaking."""

from __future__ import annotations

import os
import stat
import subprocess
from pathlib import Path

import pytest

from image_automation.errors import ConfigError, GitError
from image_automation.git._auth import GitAuth, check_url, git_environment, transport_of


def _secret(root: Path, name: str, **files: str) -> Path:
    folder = root / name
    folder.mkdir(parents=True)
    for key, value in files.items():
        (folder / key).write_text(value)
    return root


def test_reads_username_and_password_without_trailing_newline(tmp_path: Path) -> None:
    root = _secret(tmp_path, "repo", username="bot\n", password="s3cret\n")
    auth = GitAuth.from_secrets_dir(root, "repo")
    assert (auth.username, auth.password, auth.bearer_token) == ("bot", "s3cret", None)


def test_reads_bearer_token_and_ssh_files(tmp_path: Path) -> None:
    root = _secret(tmp_path, "repo", bearerToken="tok\n", identity="KEY\n", known_hosts="h k\n")
    auth = GitAuth.from_secrets_dir(root, "repo")
    assert auth.bearer_token == "tok"
    assert (auth.identity, auth.known_hosts) == (b"KEY\n", b"h k\n")


@pytest.mark.parametrize(
    ("name", "files", "fragment"),
    [
        ("missing", None, "no directory"),
        ("../etc", None, "plain directory name"),
        ("repo", {"password": "x"}, "'password' without 'username'"),
        ("repo", {"other": "x"}, "none of"),
    ],
)
def test_bad_secret_dirs_are_config_errors(
    tmp_path: Path, name: str, files: dict[str, str] | None, fragment: str
) -> None:
    if files is not None:
        _secret(tmp_path, name, **files)
    with pytest.raises(ConfigError, match=fragment):
        GitAuth.from_secrets_dir(tmp_path, name)


def test_repr_never_shows_secret_values() -> None:
    auth = GitAuth(username="bot", password="pw-123456", bearer_token="tok-abcdef")
    assert "pw-123456" not in repr(auth)
    assert "tok-abcdef" not in repr(auth)


@pytest.mark.parametrize(
    ("url", "transport"),
    [
        ("https://example.test/a.git", "http"),
        ("http://127.0.0.1:8080/a.git", "http"),
        ("ssh://git@example.test/a.git", "ssh"),
        ("git@github.com:org/repo.git", "ssh"),
        ("file:///srv/a.git", "file"),
        ("/srv/a.git", "file"),
    ],
)
def test_transport_of(url: str, transport: str) -> None:
    assert transport_of(url) == transport


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("https://bot:pw-1234@example.test/a.git", "https://bot:***@example.test/a.git"),
        ("http://alice:S3cret@127.0.0.1:1/fleet.git", "http://alice:***@127.0.0.1:1/fleet.git"),
        ("https://tok-1234@example.test/a.git", "https://***@example.test/a.git"),
        ("ssh://git:pw-1234@example.test/a.git", "ssh://git:***@example.test/a.git"),
    ],
)
def test_urls_with_credentials_are_refused_naming_the_url_redacted(url: str, shown: str) -> None:
    with pytest.raises(ConfigError, match="embeds credentials") as caught:
        check_url(url)
    assert shown in str(caught.value)
    for secret in ("pw-1234", "S3cret", "tok-1234"):
        assert secret not in str(caught.value)


@pytest.mark.parametrize(
    "url",
    ["https://example.test/a.git", "ssh://git@example.test/a.git", "git@github.com:o/r.git"],
)
def test_urls_without_a_secret_are_accepted(url: str) -> None:
    check_url(url)


def test_basic_auth_goes_through_an_askpass_script_reading_private_files(tmp_path: Path) -> None:
    env = git_environment("https://example.test/a.git", GitAuth("bot", "pw-xyz"), tmp_path)
    assert env["GIT_TERMINAL_PROMPT"] == "0"
    assert "pw-xyz" not in "".join(env.values())
    askpass = env["GIT_ASKPASS"]
    for prompt, answer in (
        ("Username for 'https://example.test': ", "bot"),
        ("Password for 'https://bot@example.test': ", "pw-xyz"),
    ):
        out = subprocess.run([askpass, prompt], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == answer
    assert stat.S_IMODE(os.stat(tmp_path / "password").st_mode) == 0o600


@pytest.mark.parametrize("url", ["https://example.test/a.git", "ssh://git@example.test/a.git"])
def test_git_tracing_is_never_turned_on(url: str, tmp_path: Path) -> None:
    # git checks only that GIT_CURL_VERBOSE exists: even "0" pads every error with curl lines
    auth = GitAuth(bearer_token="tok-1", known_hosts=b"host ssh-ed25519 AAAA\n")
    env = git_environment(url, auth, tmp_path)
    assert not {"GIT_CURL_VERBOSE", "GIT_TRACE", "GIT_TRACE_CURL"} & env.keys()


def test_a_secret_read_from_a_directory_knows_its_name(tmp_path: Path) -> None:
    auth = GitAuth.from_secrets_dir(_secret(tmp_path, "fleet", bearerToken="tok-xyz"), "fleet")
    assert auth.secret_name == "fleet"
    assert "'fleet'" in repr(auth) and "tok-xyz" not in repr(auth)


def test_bearer_token_is_an_env_config_header_not_an_argument(tmp_path: Path) -> None:
    env = git_environment("https://example.test/a.git", GitAuth(bearer_token="tok-1"), tmp_path)
    keys = {env[k]: env[k.replace("KEY", "VALUE")] for k in env if k.startswith("GIT_CONFIG_KEY_")}
    assert keys["http.extraHeader"] == "Authorization: Bearer tok-1"
    assert keys["credential.helper"] == ""


def test_ssh_without_known_hosts_is_refused(tmp_path: Path) -> None:
    with pytest.raises(GitError, match="known_hosts"):
        git_environment("ssh://git@example.test/a.git", GitAuth(identity=b"KEY"), tmp_path)
    with pytest.raises(GitError, match="known_hosts"):
        git_environment("git@example.test:a.git", None, tmp_path)


def test_ssh_command_checks_host_keys_strictly_with_a_private_key_copy(tmp_path: Path) -> None:
    auth = GitAuth(identity=b"KEY", known_hosts=b"host ssh-ed25519 AAAA\n")
    command = git_environment("ssh://git@example.test/a.git", auth, tmp_path)["GIT_SSH_COMMAND"]
    assert "StrictHostKeyChecking=yes" in command
    assert "IdentitiesOnly=yes" in command
    assert f"UserKnownHostsFile={tmp_path / 'known_hosts'}" in command
    assert stat.S_IMODE(os.stat(tmp_path / "identity").st_mode) == 0o600
