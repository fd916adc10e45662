"""Commit signing from a key file: OpenPGP (gpg) or SSH (``gpg.format=ssh``).

Keys live only in the run's private temp dir: an SSH key is copied there with mode 0600
(ssh-keygen refuses readable keys, and mounted Secrets are 0644); a GPG key is imported into a
GNUPGHOME made there, so the user's keyring is never touched. The gpg-agent that gpg starts
for that home is stopped again when the run ends.

A passphrase-protected key stays protected; the passphrase is read from its file, never put
on a command line or in the environment: gpg gets ``--passphrase-file`` through a
``gpg.program`` wrapper script, ssh-keygen asks an ``SSH_ASKPASS`` script that prints the file.
"""

from __future__ import annotations

import shlex
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from image_automation.errors import GitError
from image_automation.git._auth import private_file, ssh_key_file


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key file to sign commits with, and the file holding its passphrase (if any)."""

    format: Literal["gpg", "ssh"]
    key_file: Path
    passphrase_file: Path | None = None


@dataclass(frozen=True, slots=True)
class SigningSetup:
    """What ``git commit -S`` needs: ``-c`` pairs and environment entries."""

    config: tuple[tuple[str, str], ...]
    env: dict[str, str]
    gnupg_home: Path | None = None

    def close(self) -> None:
        if self.gnupg_home is not None:
            subprocess.run(
                ["gpgconf", "--homedir", str(self.gnupg_home), "--kill", "all"],
                check=False,
                capture_output=True,
            )


def prepare_signing(key: SigningKey, private_dir: Path) -> SigningSetup:
    """Install ``key`` under ``private_dir``; raise GitError when the key is unusable."""
    try:
        data = key.key_file.read_bytes()
        if key.passphrase_file is not None:
            key.passphrase_file.stat()
    except OSError as exc:
        raise GitError(f"signing key {exc.filename}: {exc.strerror}") from exc
    if key.format == "ssh":
        path = ssh_key_file(private_dir / "signing_key", data)
        env = {}
        if key.passphrase_file is not None:
            askpass = _script(private_dir / "askpass", f"cat {_quoted(key.passphrase_file)}")
            env = {"SSH_ASKPASS": str(askpass), "SSH_ASKPASS_REQUIRE": "force"}
        return SigningSetup(config=(("gpg.format", "ssh"), ("user.signingkey", str(path))), env=env)
    home = private_dir / "gnupg"
    home.mkdir(mode=0o700)
    setup = SigningSetup(config=(), env={}, gnupg_home=home)
    fingerprint = _import_gpg_key(home, data, setup)
    config = [("gpg.format", "openpgp"), ("user.signingkey", fingerprint)]
    if key.passphrase_file is not None:
        wrapper = _script(
            private_dir / "gpg",
            "exec gpg --batch --pinentry-mode loopback --passphrase-file "
            f'{_quoted(key.passphrase_file)} "$@"',
        )
        config.append(("gpg.openpgp.program", str(wrapper)))
    return SigningSetup(config=tuple(config), env={"GNUPGHOME": str(home)}, gnupg_home=home)


def _quoted(path: Path) -> str:
    return shlex.quote(str(path.absolute()))


def _script(path: Path, line: str) -> Path:
    return private_file(path, f"#!/bin/sh\n{line}\n".encode(), 0o700)


def _import_gpg_key(home: Path, data: bytes, setup: SigningSetup) -> str:
    base = ["gpg", "--homedir", str(home), "--batch", "--no-tty"]
    imported = subprocess.run([*base, "--import"], input=data, capture_output=True, check=False)
    listed = subprocess.run(
        [*base, "--with-colons", "--list-secret-keys"], capture_output=True, check=False
    )
    fingerprints = [
        line.split(":")[9]
        for line in listed.stdout.decode("utf-8", "replace").splitlines()
        if line.startswith("fpr:")
    ]
    if imported.returncode != 0 or not fingerprints:
        setup.close()
        reason = imported.stderr.decode("utf-8", "replace").strip().splitlines()[-1:] or [
            "no secret key in the file"
        ]
        raise GitError(f"GPG signing key could not be imported: {reason[0]}")
    return fingerprints[0]


__all__ = ["SigningKey", "SigningSetup", "prepare_signing"]
