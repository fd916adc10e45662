"""The checks of a Promotion's single values: names, paths and URLs.

Each of them ends up somewhere it could do harm: a stage name or the promotion's own name in
a branch name, a log line and the comment that ends every pull request body; a path in a
pathspec; a URL on git's command line; a secret name under ``--secrets-dir``. So each is
refused at load — at its ``file:line`` — rather than at the first evaluation, and a message
quotes at most the start of a value. Pure: no I/O.
"""

from __future__ import annotations

import re
from typing import Annotated
from urllib.parse import urlsplit

from pydantic import AfterValidator

from image_automation.config.models import ObjectMeta
from image_automation.config.pull_requests import shown

MAX_URL_CHARS = 2048

_STAGE_NAME = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,38}[a-z0-9])?")
_POLICY_NAME = re.compile(r"[A-Za-z0-9](?:[A-Za-z0-9._-]{0,251}[A-Za-z0-9])?")
_CHECK_FORBIDDEN = re.compile(r"[\x00-\x1f\x7f]")
_DNS_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_OBJECT_NAME = re.compile(rf"(?=.{{1,253}}$){_DNS_LABEL}(?:\.{_DNS_LABEL})*")
_NAMESPACE = re.compile(_DNS_LABEL)
_REMOTE_HELPER = re.compile(r"[A-Za-z][A-Za-z0-9+.-]*::")


def stage_name(value: str) -> str:
    if not _STAGE_NAME.fullmatch(value):
        raise ValueError(
            f"stage name {value[:60]!r} must be 1-40 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit (it becomes part of a branch name)"
        )
    return value


def policy_name(value: str) -> str:
    if not _POLICY_NAME.fullmatch(value):
        raise ValueError(f"policy name {value[:60]!r} is not an object name")
    return value


def check_name(value: str) -> str:
    if not value.strip() or len(value) > 200 or _CHECK_FORBIDDEN.search(value):
        raise ValueError(f"check name {value[:60]!r} must be 1-200 printable characters")
    return value


def object_name(value: str) -> str:
    """A Kubernetes object name (DNS-1123 subdomain): it is part of the promotion's key."""
    if not _OBJECT_NAME.fullmatch(value):
        raise ValueError(
            f"name {shown(value)} must be a Kubernetes object name: at most 253 lower-case "
            "letters, digits, '-' or '.' (it names the promotion's branches and pull requests)"
        )
    return value


def namespace_name(value: str) -> str:
    if not _NAMESPACE.fullmatch(value):
        raise ValueError(
            f"namespace {shown(value)} must be 1-63 lower-case letters, digits or '-', "
            "starting and ending with a letter or digit"
        )
    return value


class PromotionMeta(ObjectMeta):
    """A Promotion's metadata: its name and namespace are checked, unlike other kinds'
    (they go into branch names, log lines and every pull request body's footer)."""

    name: Annotated[str, AfterValidator(object_name)]
    namespace: Annotated[str, AfterValidator(namespace_name)] = "default"


def stage_path(value: str) -> str:
    parts = value.replace("\\", "/").split("/")
    if value.startswith("/") or ".." in parts or "\0" in value or len(value) > 1024:
        raise ValueError(f"path {value[:60]!r} must be relative and stay inside the repository")
    clean = "/".join(p for p in parts if p not in ("", "."))
    return clean or "."


def gate_url(value: str) -> str:
    """An http(s) URL without credentials in its authority (a token goes in ``secretRef``)."""
    if len(value) > MAX_URL_CHARS or not value.isascii():
        raise ValueError(f"must be an ASCII URL of at most {MAX_URL_CHARS} characters")
    if any(ord(c) <= 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError("holds spaces or control characters")
    try:
        parts = urlsplit(value)
        parts.port  # noqa: B018 - raises on a malformed port
    except ValueError:
        raise ValueError("is not a valid URL") from None
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an https:// (or http://) URL with a host")
    if "@" in parts.netloc:
        raise ValueError("must not carry credentials; name a secret in secretRef instead")
    return value


def git_url(value: str) -> str:
    """A repository URL git is given as one argument: no option, no remote helper (``ext::``
    runs a command), no credentials in an http(s) URL (they would be logged and stored)."""
    if len(value) > MAX_URL_CHARS or any(ord(c) < 0x20 or ord(c) == 0x7F for c in value):
        raise ValueError(f"must be at most {MAX_URL_CHARS} characters without control characters")
    if value.startswith("-"):
        raise ValueError(f"{shown(value)} is not a URL (it starts with '-')")
    if _REMOTE_HELPER.match(value):
        raise ValueError("must not name a git remote helper ('<transport>::'); give a URL")
    scheme, _, rest = value.partition("://")
    if scheme.lower() in ("http", "https") and "@" in rest.split("/", 1)[0]:
        raise ValueError("must not carry credentials; name a secret in secretRef instead")
    return value


__all__ = [
    "MAX_URL_CHARS",
    "PromotionMeta",
    "check_name",
    "gate_url",
    "git_url",
    "namespace_name",
    "object_name",
    "policy_name",
    "stage_name",
    "stage_path",
]
