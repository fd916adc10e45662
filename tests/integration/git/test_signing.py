"""Signed commits from a key file: GPG (private GNUPGHOME) and SSH (gpg.format=ssh)."""

from __future__ import annotations

from pathlib import Path

import pytest

from image_automation.errors import GitError
from image_automation.git import CommitSettings, PushSettings, RepoSpec, SigningKey, Workspace
from tests.integration.git.helpers import bump_to
from tests.integration.git_fixtures import GitRemote, make_gpg_key, make_ssh_key, run_git

pytestmark = pytest.mark.integration


async def _signed_publish(remote: GitRemote, work: Path, key: SigningKey) -> str:
    settings = CommitSettings(author_name="Bot", author_email="bot@example.test", signing=key)
    async with Workspace.open(RepoSpec(url=remote.url), work_dir=work) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=settings, push=PushSettings())
    assert outcome.commit is not None
    return outcome.commit


def _passphrase_file(directory: Path, passphrase: str) -> Path | None:
    if not passphrase:
        return None
    path = directory / "passphrase"
    path.write_text(passphrase + "\n")
    return path


PASSPHRASES = pytest.mark.parametrize("passphrase", ["", "it's a 'secret' $HOME"])


@PASSPHRASES
async def test_gpg_signed_commit_verifies_with_the_public_key(
    git_remote: GitRemote, tmp_path: Path, passphrase: str
) -> None:
    key = make_gpg_key(tmp_path, passphrase=passphrase)
    secret = SigningKey("gpg", key.secret_key_file, _passphrase_file(tmp_path, passphrase))
    try:
        sha = await _signed_publish(git_remote, tmp_path / "work", secret)
        verified = run_git(
            "--git-dir",
            str(git_remote.path),
            "log",
            "-1",
            "--format=%G? %GF",
            sha,
            env={"GNUPGHOME": str(key.home)},
        ).split()
        run_git(
            "--git-dir",
            str(git_remote.path),
            "verify-commit",
            sha,
            env={"GNUPGHOME": str(key.home)},
        )
    finally:
        key.close()
    assert verified == ["G", key.fingerprint]


@PASSPHRASES
async def test_ssh_signed_commit_verifies_against_allowed_signers(
    git_remote: GitRemote, tmp_path: Path, passphrase: str
) -> None:
    key = make_ssh_key(tmp_path / "signer", passphrase=passphrase)
    key.chmod(0o644)  # as a mounted Secret would be; the adapter copies it to a 0600 file
    secret = SigningKey("ssh", key, _passphrase_file(tmp_path, passphrase))
    sha = await _signed_publish(git_remote, tmp_path / "work", secret)
    allowed = tmp_path / "allowed_signers"
    allowed.write_text(f"bot@example.test {key.with_suffix('.pub').read_text()}")
    out = run_git(
        "-c",
        "gpg.ssh.allowedSignersFile=" + str(allowed),
        "--git-dir",
        str(git_remote.path),
        "log",
        "-1",
        "--format=%G?",
        sha,
    ).strip()
    run_git(
        "-c",
        "gpg.ssh.allowedSignersFile=" + str(allowed),
        "--git-dir",
        str(git_remote.path),
        "verify-commit",
        sha,
    )
    assert out == "G"


async def test_unsigned_by_default(git_remote: GitRemote, tmp_path: Path) -> None:
    settings = CommitSettings()
    async with Workspace.open(RepoSpec(url=git_remote.url), work_dir=tmp_path) as ws:
        outcome = await ws.publish(bump_to("1.1.0"), commit=settings, push=PushSettings())
    assert outcome.commit is not None
    assert git_remote.git("log", "-1", "--format=%G?", outcome.commit).strip() == "N"


async def test_unusable_signing_key_is_a_clear_error_and_nothing_is_pushed(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    bogus = tmp_path / "not-a-key.asc"
    bogus.write_text("this is not an OpenPGP key\n")
    base = git_remote.head()
    with pytest.raises(GitError, match="GPG signing key could not be imported"):
        await _signed_publish(git_remote, tmp_path / "work", SigningKey("gpg", bogus))
    assert git_remote.head() == base


@pytest.mark.parametrize("fmt", ["gpg", "ssh"])
async def test_a_wrong_passphrase_is_a_clear_error_and_nothing_is_pushed(
    git_remote: GitRemote, tmp_path: Path, fmt: str
) -> None:
    if fmt == "gpg":
        gpg = make_gpg_key(tmp_path, passphrase="right-one")
        gpg.close()
        key_file = gpg.secret_key_file
    else:
        key_file = make_ssh_key(tmp_path / "signer", passphrase="right-one")
    wrong = _passphrase_file(tmp_path, "wrong-guess")
    base = git_remote.head()
    with pytest.raises(GitError) as raised:
        await _signed_publish(git_remote, tmp_path / "work", SigningKey(fmt, key_file, wrong))  # type: ignore[arg-type]
    assert git_remote.head() == base
    assert "wrong-guess" not in str(raised.value) and "right-one" not in str(raised.value)
