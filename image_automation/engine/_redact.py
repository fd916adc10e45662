"""Last line of defence against credentials in stored or printed error text.

The registry adapter must already keep secrets out of its messages; the scanner stores error
text for everyone to read (``status``, the status page), so it scrubs anything shaped like a
credential once more before it does.
"""

from __future__ import annotations

import re

MASK = "***"

_RULES: tuple[tuple[re.Pattern[str], str], ...] = (
    # https://user:password@host/... and https://token@host/...
    (re.compile(r"(?i)\b([a-z][a-z0-9+.-]*://)[^/\s@]+@"), rf"\1{MASK}@"),
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


def redact(text: str, *, secrets: tuple[str, ...] = ()) -> str:
    """``text`` with credential-shaped parts and every string in ``secrets`` masked."""
    for secret in secrets:
        if secret:
            text = text.replace(secret, MASK)
    for pattern, replacement in _RULES:
        text = pattern.sub(replacement, text)
    return text
