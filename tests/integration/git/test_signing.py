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


async def test_gpg_signed_commit_verifies_with_the_public_key(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    key = make_gpg_key(tmp_path)
    try:
        sha = await _signed_publish(
            git_remote, tmp_path / "work", SigningKey("gpg", key.secret_key_file)
        )
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


async def test_ssh_signed_commit_verifies_against_allowed_signers(
    git_remote: GitRemote, tmp_path: Path
) -> None:
    key = make_ssh_key(tmp_path / "signer")
    key.chmod(0o644)  # as a mounted Secret would be; the adapter copies it to a 0600 file
    sha = await _signed_publish(git_remote, tmp_path / "work", SigningKey("ssh", key))
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
