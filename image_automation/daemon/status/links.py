"""Which links the status views show: a link from a record is shown only when it is safe.

Pure; shared by the views of :mod:`.model` and :mod:`.promotions`.
"""

from __future__ import annotations

from urllib.parse import urlsplit


def safe_url(url: str | None) -> str | None:
    """``url`` when it is a plain http(s) link without credentials, else ``None``."""
    if not url:
        return None
    parts = urlsplit(url)
    if parts.scheme not in ("http", "https") or not parts.hostname or "@" in parts.netloc:
        return None
    return url


__all__ = ["safe_url"]
