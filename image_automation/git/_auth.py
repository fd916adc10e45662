"""Git credentials in Flux's ``GitRepository.spec.secretRef`` layout, and how git gets them.

A secret is a directory ``DIR/NAME/`` (a mounted Kubernetes Secret) with the keys
``username`` + ``password`` or ``bearerToken`` for HTTPS, and ``identity`` + ``known_hosts``
for SSH. Credentials never go into a URL, ``.git/config``, an argv or a log line:

- HTTPS basic: an askpass script that ``cat``s 0600 files in a private temp dir;
- HTTPS bearer: ``http.extraHeader`` through ``GIT_CONFIG_COUNT``/``KEY``/``VALUE`` env vars;
- SSH: ``GIT_SSH_COMMAND`` with a private copy of the key and strict host key checking.

``GIT_TERMINAL_PROMPT=0`` makes a missing or wrong credential fail at once instead of
waiting for a terminal that is not there. Git's curl tracing stays off: ``GIT_CURL_VERBOSE``
is never set (git only checks that it exists, so even ``0`` turns it on).
"""

from __future__ import annotations

import base64
import os
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from image_automation.errors import ConfigError, GitError

_SCP_LIKE = re.compile(r"^[\w.+-]+@[^/:]+:")


@dataclass(frozen=True, slots=True)
class GitAuth:
    """Credentials for one remote. ``repr`` never shows a secret value.

    ``secret_name``: the git secret they were read from, named (never its values) when the
    remote refuses them.
    """

    username: str | None = None
    password: str | None = None
    bearer_token: str | None = None
    identity: bytes | None = None
    known_hosts: bytes | None = None
    secret_name: str | None = None

    def __repr__(self) -> str:
        present = [
            f for f in ("username", "password", "bearer_token", "identity") if getattr(self, f)
        ]
        kh = ", known_hosts" if self.known_hosts else ""
        source = f" from {self.secret_name!r}" if self.secret_name else ""
        return f"GitAuth(<{', '.join(present) or 'empty'}{kh}>{source})"

    @classmethod
    def from_secrets_dir(cls, secrets_dir: Path, name: str) -> GitAuth:
        """Read ``secrets_dir/name/{username,password,bearerToken,identity,known_hosts}``."""
        if not name or "/" in name or name in {".", ".."}:
            raise ConfigError(f"git secret name {name!r} is not a plain directory name")
        folder = secrets_dir / name
        if not folder.is_dir():
            raise ConfigError(f"git secret {name!r}: no directory {folder}")

        def text(key: str) -> str | None:
            path = folder / key
            return path.read_text(encoding="utf-8").rstrip("\r\n") if path.is_file() else None

        def raw(key: str) -> bytes | None:
            path = folder / key
            return path.read_bytes() if path.is_file() else None

        auth = cls(
            username=text("username"),
            password=text("password"),
            bearer_token=text("bearerToken"),
            identity=raw("identity"),
            known_hosts=raw("known_hosts"),
            secret_name=name,
        )
        if auth.password and not auth.username:
            raise ConfigError(f"git secret {name!r}: 'password' without 'username'")
        if not any((auth.username, auth.bearer_token, auth.identity, auth.known_hosts)):
            raise ConfigError(
                f"git secret {name!r}: none of username/password, bearerToken, "
                "identity, known_hosts is present"
            )
        return auth

    def secrets(self) -> tuple[str, ...]:
        """Every value that must never appear in a message (for redaction)."""
        values = [self.password, self.bearer_token]
        if self.username and self.password:
            pair = f"{self.username}:{self.password}".encode()
            values.append(base64.b64encode(pair).decode())
        if self.identity:
            values.extend(
                line
                for line in self.identity.decode("utf-8", "replace").splitlines()
                if len(line) > 16 and "PRIVATE KEY" not in line
            )
        return tuple(v for v in values if v)


def transport_of(url: str) -> str:
    """``http``, ``ssh`` or ``file`` (local paths and file:// URLs)."""
    lowered = url.lower()
    if lowered.startswith(("http://", "https://")):
        return "http"
    if lowered.startswith(("ssh://", "git+ssh://", "ssh+git://")) or _SCP_LIKE.match(url):
        return "ssh"
    if lowered.startswith("file://") or "://" not in lowered:
        return "file"
    return lowered.split("://", 1)[0]


def check_url(url: str) -> None:
    """Refuse URLs that embed a credential: it would land in ``.git/config`` and logs.

    Over HTTP any user part counts (``https://TOKEN@host`` is a credential too); over SSH
    only a password does (``ssh://git@host`` names the account). The message shows the URL
    with the secret masked (the error tree masks it), so the user sees which one it is.
    """
    if "://" not in url:
        return
    authority = url.split("://", 1)[1].split("/", 1)[0]
    userinfo = authority.rpartition("@")[0]
    if not userinfo or (transport_of(url) != "http" and ":" not in userinfo):
        return
    raise ConfigError(
        f"git URL {url} embeds credentials; put them in a git secret (username/password "
        "or bearerToken) instead"
    )


def git_environment(url: str, auth: GitAuth | None, private_dir: Path) -> dict[str, str]:
    """Environment for every git command against ``url``; writes helper files to ``private_dir``.

    ``private_dir`` must be a 0700 directory owned by us and removed after the run.
    """
    env = {
        "GIT_TERMINAL_PROMPT": "0",
        "GCM_INTERACTIVE": "never",
        # No inherited prompt helper answers for us; ours is set below when there is a secret.
        "GIT_ASKPASS": "",
        "SSH_ASKPASS": "",
        # If someone turns on git's HTTP tracing, it must still not print the credential.
        "GIT_TRACE_REDACT": "1",
    }
    config: list[tuple[str, str]] = [("credential.helper", ""), ("gc.autoDetach", "false")]
    transport = transport_of(url)
    if transport == "http" and auth is not None:
        if auth.bearer_token:
            config.append(("http.extraHeader", f"Authorization: Bearer {auth.bearer_token}"))
        elif auth.username:
            env["GIT_ASKPASS"] = str(_askpass(private_dir, auth.username, auth.password or ""))
    elif transport == "ssh":
        env["GIT_SSH_COMMAND"] = _ssh_command(auth, private_dir)
    env.update(_config_env(config))
    return env


def _config_env(pairs: list[tuple[str, str]]) -> Mapping[str, str]:
    """Pass config through env (not argv, not .git/config), after any inherited entries."""
    start = int(os.environ.get("GIT_CONFIG_COUNT", "0") or 0)
    env = {"GIT_CONFIG_COUNT": str(start + len(pairs))}
    for i, (key, value) in enumerate(pairs, start=start):
        env[f"GIT_CONFIG_KEY_{i}"] = key
        env[f"GIT_CONFIG_VALUE_{i}"] = value
    return env


def private_file(path: Path, data: bytes, mode: int = 0o600) -> Path:
    """Write ``data`` to a file created with ``mode`` (never readable by others in between)."""
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, mode)
    with os.fdopen(fd, "wb") as handle:
        handle.write(data)
    return path


def ssh_key_file(path: Path, data: bytes) -> Path:
    """A 0600 copy of an SSH private key; ssh refuses a key without its final newline."""
    return private_file(path, data if data.endswith(b"\n") else data + b"\n")


def _askpass(private_dir: Path, username: str, password: str) -> Path:
    user_file = private_file(private_dir / "username", username.encode())
    pass_file = private_file(private_dir / "password", password.encode())
    script = (
        "#!/bin/sh\n"
        "# git calls this with its prompt; answer from files only we can read\n"
        'case "$1" in\n'
        f"  [Uu]sername*) cat {shlex.quote(str(user_file))} ;;\n"
        f"  *) cat {shlex.quote(str(pass_file))} ;;\n"
        "esac\n"
        "echo\n"
    )
    return private_file(private_dir / "askpass.sh", script.encode(), 0o700)


def _ssh_command(auth: GitAuth | None, private_dir: Path) -> str:
    if auth is None or not auth.known_hosts:
        raise GitError(
            "SSH remote needs a known_hosts entry in its git secret: host keys are checked "
            "strictly and an unknown host is refused"
        )
    known_hosts = private_file(private_dir / "known_hosts", auth.known_hosts)
    argv = [
        "ssh",
        "-F",
        "/dev/null",
        "-o",
        "BatchMode=yes",
        "-o",
        f"UserKnownHostsFile={known_hosts}",
        "-o",
        "GlobalKnownHostsFile=/dev/null",
        "-o",
        "StrictHostKeyChecking=yes",
    ]
    if auth.identity:
        identity = ssh_key_file(private_dir / "identity", auth.identity)
        argv += ["-i", str(identity), "-o", "IdentitiesOnly=yes"]
    return shlex.join(argv)


__all__ = ["GitAuth", "check_url", "git_environment", "transport_of"]
