"""Masking credentials in text: the one redaction every layer uses.

Adapters keep secrets out of their messages by masking the secrets they know
(:func:`mask_secrets`) and anything shaped like a credential (:func:`redact`: URL userinfo,
``Authorization`` values, ``token=…`` pairs, JWTs). A URL keeps its user name when it has a
password (``https://alice:***@host``); that rule lives in :mod:`image_automation.errors`,
whose exceptions all apply it to their messages. The scanner runs :func:`redact` once more
over error text it stores for everyone to read (``status``, the status page); the daemon's
log formatter masks every registered secret in every line. One mask, ``***``, everywhere.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from image_automation.errors import mask_url_credentials

MASK = "***"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # Authorization: Bearer xyz / Basic xyz (header dumps, repr of requests)
    (re.compile(r"(?i)\b(authorization[\"']?\s*[:=]\s*[\"']?)[^\"'\r\n,}]+"), rf"\1{MASK}"),
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{4,}"), rf"\1 {MASK}"),
    # key=value and "key": "value" for the usual secret names
    (
        re.compile(
            r"(?i)\b((?:password|passwd|pwd|secret|token|access_token|refresh_token"
            r"|identitytoken|registrytoken|auth|api[_-]?key)[\"']?\s*[:=]\s*[\"']?)"
            r"[^\s\"'&,;}]+"
        ),
        rf"\1{MASK}",
    ),
    # bare JWTs
    (re.compile(r"\beyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*"), MASK),
)


def mask_secrets(text: str, secrets: Iterable[str]) -> str:
    """``text`` with every non-empty string in ``secrets`` masked (longest first, so a
    secret that contains another is masked whole)."""
    for secret in sorted({s for s in secrets if s}, key=len, reverse=True):
        if secret in text:
            text = text.replace(secret, MASK)
    return text


def redact(text: str, secrets: Iterable[str] = ()) -> str:
    """``text`` with every string in ``secrets`` and every credential-shaped part masked."""
    text = mask_url_credentials(mask_secrets(text, secrets))
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text


__all__ = ["MASK", "mask_secrets", "redact"]
