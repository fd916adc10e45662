"""Where registry credentials come from: docker ``config.json`` and Kubernetes secrets on disk.

A docker config holds ``auths`` (``auth`` = base64 ``user:password``, or ``identitytoken``, an
OAuth2 refresh token), ``credHelpers`` (host → helper name) and ``credsStore`` (default helper);
a helper is the executable ``docker-credential-<name>`` speaking the docker credential-helper
protocol (``get`` with the server on stdin, JSON on stdout).

A Kubernetes Secret mounted at ``DIR/X`` gives ``DIR/X/.dockerconfigjson`` (``secretRef``) and
``DIR/X/ca.crt``, ``tls.crt``, ``tls.key`` (``certSecretRef``); :class:`SecretsDir` reads them.

:class:`Credential` never prints its secret: ``repr`` and ``str`` redact it, and no error built
here quotes a file's content or a helper's output.
"""

from __future__ import annotations

import asyncio
import base64
import binascii
import hashlib
import hmac
import json
import os
import shutil
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from image_automation.domain import MASK
from image_automation.errors import RegistryError

_HUB_KEYS = frozenset(
    {
        "docker.io",
        "index.docker.io",
        "registry-1.docker.io",
        "https://index.docker.io/v1/",
        "https://index.docker.io/v1",
        "https://registry-1.docker.io",
    }
)


_FINGERPRINT_KEY = os.urandom(32)
"""Keys :attr:`Credential.fingerprint`: one per process, so a fingerprint proves nothing
outside it (nor can a weak password be guessed from one)."""


@dataclass(frozen=True, slots=True)
class Credential:
    """A username/password, or an identity (refresh) token. Its secrets never print."""

    username: str = ""
    password: str = field(default="", repr=False)
    identity_token: str = field(default="", repr=False)

    def __repr__(self) -> str:
        kind = "identity_token" if self.identity_token else "password"
        return f"Credential(username={self.username!r}, {kind}={MASK})"

    __str__ = __repr__

    @property
    def fingerprint(self) -> str:
        """Who this credential is, for cache keys: a keyed one-way hash of all its fields.

        Two credentials differ when any field does (GHCR, GitLab and Harbor tokens often share
        a user name), so a token fetched with one is never served to the other.
        """
        fields = (self.username, self.password, self.identity_token)
        material = "\0".join(fields).encode()
        return hmac.new(_FINGERPRINT_KEY, material, hashlib.sha256).hexdigest()[:32]

    @property
    def secrets(self) -> tuple[str, ...]:
        """The secret strings (for redaction checks)."""
        return tuple(s for s in (self.password, self.identity_token) if s)


class CredentialSource(Protocol):
    """Anything that can say which credential to use for a registry (``docker.io``, host:port).

    A source whose credentials expire (cloud logins) also has ``async forget(registry,
    credential) -> bool``: drop one the registry refused, True if asking again may give a
    fresh one (see :func:`forget_credential`).
    """

    async def credential_for(self, registry: str) -> Credential | None: ...


async def forget_credential(source: CredentialSource, registry: str, stale: Credential) -> bool:
    """Tell ``source`` that ``stale`` was refused; True when it can renew it. Sources of
    fixed credentials (files, helpers) have no ``forget``: asking them again cannot help."""
    forget = getattr(source, "forget", None)
    return forget is not None and bool(await forget(registry, stale))


def normalise_server(key: str) -> str:
    """``https://index.docker.io/v1/`` → ``docker.io``; ``https://h:5000/x`` → ``h:5000``."""
    if key in _HUB_KEYS:
        return "docker.io"
    text = key
    for prefix in ("https://", "http://"):
        if text.startswith(prefix):
            text = text[len(prefix) :]
    host = text.split("/", 1)[0].lower()
    return "docker.io" if host in _HUB_KEYS else host


@dataclass(frozen=True)
class StaticCredentials:
    """A fixed map registry → credential (tests, flags)."""

    by_registry: Mapping[str, Credential]

    async def credential_for(self, registry: str) -> Credential | None:
        return self.by_registry.get(normalise_server(registry))


@dataclass(frozen=True)
class ChainedCredentials:
    """Ask each source in order; the first answer wins."""

    sources: Sequence[CredentialSource]

    async def credential_for(self, registry: str) -> Credential | None:
        for source in self.sources:
            found = await source.credential_for(registry)
            if found is not None:
                return found
        return None

    async def forget(self, registry: str, credential: Credential) -> bool:
        renewable = False
        for source in self.sources:
            renewable = await forget_credential(source, registry, credential) or renewable
        return renewable


@dataclass(frozen=True)
class DockerConfig:
    """A parsed docker ``config.json`` (or a ``.dockerconfigjson`` secret)."""

    auths: Mapping[str, Credential] = field(default_factory=dict)
    cred_helpers: Mapping[str, str] = field(default_factory=dict)
    creds_store: str | None = None
    origin: str = "<memory>"
    helper_timeout: float = 30.0

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> DockerConfig:
        """Read ``path``; a bad file raises :class:`RegistryError` naming the file, not its text."""
        origin = str(path)
        try:
            raw = Path(path).read_bytes()
        except OSError as exc:
            raise RegistryError(f"cannot read docker config {origin}: {exc.strerror}") from exc
        try:
            data = json.loads(raw)
        except ValueError:
            raise RegistryError(f"docker config {origin} is not valid JSON") from None
        return cls.from_dict(data, origin=origin)

    @classmethod
    def from_dict(cls, data: Any, *, origin: str = "<memory>") -> DockerConfig:
        if not isinstance(data, dict):
            raise RegistryError(f"docker config {origin}: top level must be an object")
        auths: dict[str, Credential] = {}
        for key, entry in (data.get("auths") or {}).items():
            if isinstance(entry, dict):
                cred = _entry_credential(entry, origin=origin, key=key)
                if cred is not None:
                    auths[normalise_server(key)] = cred
        helpers = {
            normalise_server(k): str(v)
            for k, v in (data.get("credHelpers") or {}).items()
            if isinstance(v, str) and v
        }
        store = data.get("credsStore")
        return cls(
            auths=auths,
            cred_helpers=helpers,
            creds_store=store if isinstance(store, str) and store else None,
            origin=origin,
        )

    async def credential_for(self, registry: str) -> Credential | None:
        server = normalise_server(registry)
        helper = self.cred_helpers.get(server)
        if helper:
            return await run_credential_helper(helper, server, timeout=self.helper_timeout)
        if server in self.auths:
            return self.auths[server]
        if self.creds_store:
            return await run_credential_helper(
                self.creds_store, server, timeout=self.helper_timeout
            )
        return None


def _entry_credential(entry: dict[str, Any], *, origin: str, key: str) -> Credential | None:
    username = str(entry.get("username") or "")
    password = str(entry.get("password") or "")
    encoded = entry.get("auth")
    if isinstance(encoded, str) and encoded:
        try:
            decoded = base64.b64decode(encoded, validate=True).decode("utf-8")
        except (binascii.Error, UnicodeDecodeError):
            raise RegistryError(
                f"docker config {origin}: auths[{key!r}].auth is not base64 of user:password"
            ) from None
        username, sep, password = decoded.partition(":")
        if not sep:
            raise RegistryError(
                f"docker config {origin}: auths[{key!r}].auth is not base64 of user:password"
            )
    token = str(entry.get("identitytoken") or "")
    if not (password or token):
        return None
    return Credential(username=username, password=password, identity_token=token)


async def run_credential_helper(name: str, server: str, *, timeout: float = 30.0) -> Credential:
    """Run ``docker-credential-<name> get`` for ``server`` (docker.io asks for the v1 URL)."""
    executable = f"docker-credential-{name}"
    path = shutil.which(executable)
    if path is None:
        raise RegistryError(f"credential helper {executable} not found on PATH (for {server})")
    query = "https://index.docker.io/v1/" if server == "docker.io" else server
    proc = await asyncio.create_subprocess_exec(
        path,
        "get",
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, _stderr = await asyncio.wait_for(proc.communicate(query.encode()), timeout)
    except TimeoutError:
        proc.kill()
        await proc.wait()
        raise RegistryError(f"credential helper {executable} timed out for {server}") from None
    if proc.returncode != 0:
        # Its output may echo secrets: report the exit status only.
        raise RegistryError(
            f"credential helper {executable} failed for {server} (exit {proc.returncode})"
        )
    try:
        data = json.loads(stdout)
        username, secret = str(data["Username"]), str(data["Secret"])
    except (ValueError, KeyError, TypeError):
        raise RegistryError(
            f"credential helper {executable} gave no credential for {server}"
        ) from None
    if username == "<token>":
        return Credential(identity_token=secret)
    return Credential(username=username, password=secret)


@dataclass(frozen=True, slots=True)
class TlsFiles:
    """Paths from a ``certSecretRef`` secret; each is ``None`` when the key is absent."""

    ca_file: Path | None = None
    cert_file: Path | None = None
    key_file: Path | None = None


@dataclass(frozen=True)
class SecretsDir:
    """Kubernetes secrets mounted as files: ``DIR/<name>/<key>``."""

    root: Path

    def _secret(self, name: str) -> Path:
        if not name or "/" in name or name in {".", ".."}:
            raise RegistryError(f"invalid secret name {name!r}")
        path = self.root / name
        if not path.is_dir():
            raise RegistryError(f"secret {name!r} not found: no directory {path}")
        return path

    def docker_config(self, name: str) -> DockerConfig:
        """``secretRef: {name}`` → ``DIR/name/.dockerconfigjson`` (``.dockercfg`` is not read)."""
        path = self._secret(name) / ".dockerconfigjson"
        if not path.is_file():
            raise RegistryError(f"secret {name!r} has no .dockerconfigjson ({path})")
        return DockerConfig.load(path)

    def tls(self, name: str) -> TlsFiles:
        """``certSecretRef: {name}`` → ``ca.crt``, ``tls.crt``, ``tls.key`` in ``DIR/name``."""
        path = self._secret(name)

        def present(key: str) -> Path | None:
            candidate = path / key
            return candidate if candidate.is_file() else None

        files = TlsFiles(present("ca.crt"), present("tls.crt"), present("tls.key"))
        if (files.cert_file is None) != (files.key_file is None):
            raise RegistryError(f"secret {name!r} must hold both tls.crt and tls.key, or neither")
        if files == TlsFiles():
            raise RegistryError(f"secret {name!r} holds none of ca.crt, tls.crt, tls.key")
        return files


__all__ = [
    "ChainedCredentials",
    "Credential",
    "CredentialSource",
    "DockerConfig",
    "SecretsDir",
    "StaticCredentials",
    "TlsFiles",
    "forget_credential",
    "normalise_server",
    "run_credential_helper",
]
