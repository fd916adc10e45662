"""Signed commits from a key file: GPG (private GNUPGHOME) and SSH (gpg.format=ssh)."""

from __future__ import annotations

import subprocess
import tempfile
import time
from collections.abc import Iterator
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


@pytest.fixture
def signing_homes(monkeypatch: pytest.MonkeyPatch) -> Iterator[list[Path]]:
    """Every temp dir made while the test runs, to check that each is gone (and its agent)."""
    made: list[Path] = []
    real = tempfile.mkdtemp

    def recording(*args: object, **kwargs: object) -> str:
        path = real(*args, **kwargs)  # type: ignore[call-overload]
        made.append(Path(path))
        return str(path)

    monkeypatch.setattr(tempfile, "mkdtemp", recording)
    yield made


def _assert_cleaned_up(made: list[Path]) -> None:
    for path in made:
        assert not path.exists(), path
    for _ in range(200):  # bounded: an agent told to stop may take a moment to exit
        agents = subprocess.run(["ps", "-eo", "args"], capture_output=True, text=True).stdout
        if not any(f"--homedir {path} " in agents for path in made):
            return
        time.sleep(0.05)
    raise AssertionError(f"a gpg-agent still runs for one of {made}")


def _deep(root: Path, name: str) -> Path:
    path = root / name / ("d" * 60) / ("e" * 60)
    assert len(str(path)) > 120
    return path


@PASSPHRASES
async def test_gpg_signing_works_under_a_long_work_dir_and_temp_dir(
    git_remote: GitRemote,
    tmp_path: Path,
    passphrase: str,
    monkeypatch: pytest.MonkeyPatch,
    signing_homes: list[Path],
) -> None:
    # gpg-agent's socket path is limited to ~107 bytes; a GNUPGHOME under either failed
    key = make_gpg_key(tmp_path, passphrase=passphrase)
    secret = SigningKey("gpg", key.secret_key_file, _passphrase_file(tmp_path, passphrase))
    long_tmp = _deep(tmp_path, "tmp")
    long_tmp.mkdir(parents=True)
    monkeypatch.setenv("TMPDIR", str(long_tmp))
    monkeypatch.setattr(tempfile, "tempdir", None)  # gettempdir() reads TMPDIR again
    assert tempfile.gettempdir() == str(long_tmp)
    try:
        sha = await _signed_publish(git_remote, _deep(tmp_path, "work"), secret)
        verified = git_remote.git(
            "log", "-1", "--format=%G? %GF", sha, env={"GNUPGHOME": str(key.home)}
        )
    finally:
        key.close()
    assert verified.split() == ["G", key.fingerprint]
    assert signing_homes  # the adapter made its signing home with mkdtemp
    _assert_cleaned_up(signing_homes)


async def test_a_gpg_failure_reports_gpgs_own_words_and_cleans_up(
    git_remote: GitRemote, tmp_path: Path, signing_homes: list[Path]
) -> None:
    gpg = make_gpg_key(tmp_path, passphrase="right-one")
    gpg.close()
    secret = SigningKey("gpg", gpg.secret_key_file, _passphrase_file(tmp_path, "wrong-guess"))
    with pytest.raises(GitError) as raised:
        await _signed_publish(git_remote, _deep(tmp_path, "work"), secret)
    message = str(raised.value)
    assert "gpg: signing failed: Bad passphrase" in message, message
    assert "wrong-guess" not in message and "right-one" not in message
    _assert_cleaned_up(signing_homes)


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
    with pytest.raises(GitError) as raised:
        await _signed_publish(git_remote, tmp_path / "work", SigningKey("gpg", bogus))
    assert str(raised.value) == (
        "GPG signing key could not be imported: gpg: no valid OpenPGP data found."
    )
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
