"""A provider's secret from the secrets dir: ``DIR/<secretRef.name>/{address,token,username,
headers}``, the keys of Flux's provider Secret, mounted as files the Kubernetes way.

``headers`` holds ``Name: value`` lines (Flux's is a YAML map of strings; these lines are
that map's plain form). A header name must be an HTTP token and no value may hold a line
break, so a secret cannot smuggle a second header or request. Messages name the secret and
the key, never a value.
"""

from __future__ import annotations

import re
from pathlib import Path

from image_automation.errors import NotifyError
from image_automation.notify.settings import ProviderSecrets

MAX_SECRET_BYTES = 64 * 1024
MAX_HEADERS = 50
_HEADER_NAME = re.compile(r"[!#$%&'*+.^_`|~0-9A-Za-z-]{1,256}")
_FORBIDDEN_HEADERS = frozenset({"host", "content-length", "transfer-encoding", "connection"})


def _read(directory: Path, key: str, *, name: str) -> str | None:
    path = directory / key
    try:
        if not path.is_file():
            return None
        if path.stat().st_size > MAX_SECRET_BYTES:
            raise NotifyError(f"secret {name!r}: {key} is over {MAX_SECRET_BYTES} bytes")
        text = path.read_text(encoding="utf-8")
    except UnicodeDecodeError as exc:
        raise NotifyError(f"secret {name!r}: {key} is not UTF-8 text") from exc
    except OSError as exc:
        raise NotifyError(f"secret {name!r}: cannot read {key}: {exc.strerror}") from exc
    return text.rstrip("\r\n") or None


def parse_headers(text: str, *, name: str) -> dict[str, str]:
    headers: dict[str, str] = {}
    for number, line in enumerate(text.splitlines(), start=1):
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        key, sep, value = line.partition(":")
        key, value = key.strip(), value.strip().strip("\"'")
        if not sep or not _HEADER_NAME.fullmatch(key) or key.lower() in _FORBIDDEN_HEADERS:
            raise NotifyError(f"secret {name!r}: headers line {number}: not a usable header")
        if any(c in value for c in "\r\n\x00"):
            raise NotifyError(f"secret {name!r}: headers line {number}: control character")
        headers[key] = value
        if len(headers) > MAX_HEADERS:
            raise NotifyError(f"secret {name!r}: more than {MAX_HEADERS} headers")
    return headers


def read_provider_secrets(secrets_dir: Path | None, name: str) -> ProviderSecrets:
    """The values of secret ``name``; raises :class:`NotifyError` when it cannot be read."""
    if secrets_dir is None:
        raise NotifyError(f"secret {name!r}: no --secrets-dir given")
    if not name or "/" in name or name in {".", ".."}:
        raise NotifyError(f"secret name {name!r} is not a plain directory name")
    directory = secrets_dir / name
    if not directory.is_dir():
        raise NotifyError(f"secret {name!r} not found: no directory {name} in the secrets dir")
    headers_text = _read(directory, "headers", name=name)
    for key in ("address", "token", "username"):
        value = _read(directory, key, name=name)
        if value is not None and any(c in value for c in "\r\n\x00"):
            raise NotifyError(f"secret {name!r}: {key} holds a line break or NUL")
    return ProviderSecrets(
        address=_read(directory, "address", name=name),
        token=_read(directory, "token", name=name),
        username=_read(directory, "username", name=name),
        headers=parse_headers(headers_text, name=name) if headers_text else {},
    )


__all__ = ["parse_headers", "read_provider_secrets"]
