"""Commit signing from a key file: OpenPGP (gpg) or SSH (``gpg.format=ssh``).

Keys live only in private temp dirs: an SSH key is copied into the run's private dir with mode
0600 (ssh-keygen refuses readable keys, and mounted Secrets are 0644); a GPG key is imported
into a GNUPGHOME of its own, so the user's keyring is never touched. That home is a short
0700 dir directly under ``/tmp``, whatever ``TMPDIR`` or the work dir are: gpg-agent puts its
sockets in it and a socket path is limited to about 107 bytes (a deeper home failed with
nothing but "secret keys read: 1"). The agent is stopped and the home removed when the commit
is done, whether it worked or not.

A passphrase-protected key stays protected; the passphrase is read from its file, never put
on a command line or in the environment: gpg gets ``--passphrase-file`` through a
``gpg.program`` wrapper script, ssh-keygen asks an ``SSH_ASKPASS`` script that prints the file.
The wrapper also sends gpg's own messages to a log file, because git keeps only "gpg failed
to sign the data": a failure is reported with gpg's words.
"""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

from image_automation.domain import redact
from image_automation.errors import GitError
from image_automation.git._auth import private_file, ssh_key_file

_SHORT_BASE = "/tmp"
# gpg's progress and statistics lines: not what went wrong.
_GPG_CHATTER = re.compile(
    r"^gpg:\s+(?:[\w ]+: \d+$|key \w+: .*\b(?:imported|unchanged|not changed)$|"
    r".*\b(?:created|Total number processed: \d+)$)"
)
# --logger-file lines read "2026-01-02 03:04:05 gpg[123] msg"; stderr lines "gpg: msg".
_LOG_PREFIX = re.compile(r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d gpg\[\d+\] ")


@dataclass(frozen=True, slots=True)
class SigningKey:
    """A private key file to sign commits with, and the file holding its passphrase (if any)."""

    format: Literal["gpg", "ssh"]
    key_file: Path
    passphrase_file: Path | None = None


@dataclass(frozen=True, slots=True)
class SigningSetup:
    """What ``git commit -S`` needs: ``-c`` pairs and environment entries.

    ``close`` stops the gpg-agent of ``gnupg_home`` and removes the home; ``explaining`` turns
    a failed signing commit into an error carrying gpg's log.
    """

    config: tuple[tuple[str, str], ...]
    env: dict[str, str]
    gnupg_home: Path | None = None
    gpg_log: Path | None = None

    def close(self) -> None:
        if self.gnupg_home is not None:
            _kill_agent(self.gnupg_home)
            shutil.rmtree(self.gnupg_home, ignore_errors=True)

    @contextmanager
    def explaining(self) -> Iterator[None]:
        try:
            yield
        except GitError as exc:
            said = _gpg_said(self.gpg_log)
            if not said:
                raise
            raise GitError(f"{exc}; {said}") from exc


def prepare_signing(key: SigningKey, private_dir: Path) -> SigningSetup:
    """Install ``key`` (SSH: under ``private_dir``); raise GitError when it is unusable."""
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
    home = _short_home()
    try:
        return _gpg_setup(key, data, home=home, private_dir=private_dir)
    except BaseException:
        SigningSetup(config=(), env={}, gnupg_home=home).close()
        raise


def _gpg_setup(key: SigningKey, data: bytes, *, home: Path, private_dir: Path) -> SigningSetup:
    fingerprint = _import_gpg_key(home, data)
    log = private_dir / "gpg.log"
    options = f"--batch --no-tty --logger-file {_quoted(log)}"
    if key.passphrase_file is not None:
        options += f" --pinentry-mode loopback --passphrase-file {_quoted(key.passphrase_file)}"
    wrapper = _script(private_dir / "gpg", f'exec gpg {options} "$@"')
    config = (
        ("gpg.format", "openpgp"),
        ("user.signingkey", fingerprint),
        ("gpg.openpgp.program", str(wrapper)),
    )
    return SigningSetup(config=config, env={"GNUPGHOME": str(home)}, gnupg_home=home, gpg_log=log)


def _short_home() -> Path:
    """A fresh 0700 dir with a short path (see the module docstring), for GNUPGHOME."""
    base = _SHORT_BASE if os.access(_SHORT_BASE, os.W_OK | os.X_OK) else None
    try:
        return Path(tempfile.mkdtemp(prefix="ia-gpg-", dir=base))
    except OSError as exc:
        raise GitError(f"cannot make a GNUPGHOME for signing: {exc}") from exc


def _kill_agent(home: Path) -> None:
    with suppress(OSError):  # no gpgconf: gpg never ran an agent there either
        subprocess.run(
            ["gpgconf", "--homedir", str(home), "--kill", "all"],
            check=False,
            capture_output=True,
        )


def _quoted(path: Path) -> str:
    return shlex.quote(str(path.absolute()))


def _script(path: Path, line: str) -> Path:
    return private_file(path, f"#!/bin/sh\n{line}\n".encode(), 0o700)


def _problems(stderr: str) -> str:
    """gpg's messages about what went wrong (first ones first: the cause), redacted."""
    lines = [_LOG_PREFIX.sub("gpg: ", ln.strip()) for ln in stderr.splitlines() if ln.strip()]
    wrong = [ln for ln in dict.fromkeys(lines) if not _GPG_CHATTER.match(ln)]
    return redact("; ".join(wrong[:4]))


def _gpg_said(log: Path | None) -> str:
    try:
        return _problems(log.read_text(encoding="utf-8", errors="replace")) if log else ""
    except OSError:
        return ""


def _import_gpg_key(home: Path, data: bytes) -> str:
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
        reason = _problems(imported.stderr.decode("utf-8", "replace"))
        raise GitError(f"GPG signing key could not be imported: {reason or 'no secret key'}")
    return fingerprints[0]


__all__ = ["SigningKey", "SigningSetup", "prepare_signing"]
