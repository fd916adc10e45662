"""Markdown that hostile values cannot escape from, and the links we dare to build.

Tags, file names, OCI labels and policy names reach a pull-request body that forges render
as Markdown with some HTML. A tag cannot hold much, but an image's ``source`` label is
whatever its publisher wrote, and a file name can be anything git stores. So every value we
did not write goes into a code span (inside which no renderer makes links, emphasis or HTML)
unless it is made only of characters that mean nothing to Markdown; a ``|`` is escaped so a
table row stays one row; line breaks, control and bidirectional-override characters are
replaced. Links are built only from what we parsed and re-assembled from known-safe parts.
"""

from __future__ import annotations

import re
from urllib.parse import quote, unquote, urlsplit

import jinja2
import markupsafe

MAX_SHOWN = 256
"""Longest value shown; a 100,000-character file name is cut, not pasted."""

_UNSAFE_CHARS = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200b-\u200f\u2028-\u202e\u2060-\u2069\ufeff]"
)
_PLAIN = re.compile(r"(?:[^\W_]|[ .,;()'\"=+%-])*")
_BACKTICKS = re.compile(r"`+")


class Safe(str):
    """Text that is already Markdown we wrote: shown as is."""

    __slots__ = ()


def clean(value: object, *, limit: int = MAX_SHOWN) -> str:
    """``value`` as one line of printable text, at most ``limit`` characters."""
    text = _UNSAFE_CHARS.sub(_replacement, str(value))
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _replacement(match: re.Match[str]) -> str:
    return " " if match.group() in "\t\n\r\x0b\x0c\u2028\u2029" else "\ufffd"


def code(value: object) -> Safe:
    """``value`` as a code span: literal in every renderer; ``""`` stays empty."""
    text = clean(value).replace("|", "\\|")
    if not text:
        return Safe("")
    fence = "`" * (max((len(run) for run in _BACKTICKS.findall(text)), default=0) + 1)
    if text.startswith(("`", " ")) or text.endswith(("`", " ")):
        text = f" {text} "
    return Safe(f"{fence}{text}{fence}")


def md(value: object) -> Safe | str:
    """``value`` for Markdown: as is when it is ours or plain words, else a code span."""
    if isinstance(value, Safe | markupsafe.Markup):
        return value
    if isinstance(value, jinja2.Undefined):
        return str(value)  # StrictUndefined raises here, naming the variable
    if isinstance(value, bool | int | float):
        return str(value)
    text = str(value)
    if len(text) <= MAX_SHOWN and _PLAIN.fullmatch(text) and "www." not in text.lower():
        return text
    return code(text)


def encode_marker(value: str) -> str:
    """``value`` for our hidden HTML comment: no space, ``=``, ``>`` or ``--`` survives raw,
    so the comment cannot be closed early nor read ambiguously (CommonMark 0.29 ends a
    comment at ``--``)."""
    quoted = quote(value, safe="/:@+._~-")
    return re.sub(r"-{2,}", lambda m: "%2D" * len(m.group()), quoted)


def decode_marker(value: str) -> str:
    return unquote(value)


# --- compare links --------------------------------------------------------------------------

_LABEL = r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?"
_HOST = re.compile(rf"(?=.{{1,253}}$){_LABEL}(?:\.{_LABEL})+")
_SEGMENT = re.compile(r"[A-Za-z0-9_~-][A-Za-z0-9_.~-]{0,99}")
_REVISION = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}")
_KNOWN_HOSTS = {
    "github.com": "github",
    "gitlab.com": "gitlab",
    "gitea.com": "gitea",
    "codeberg.org": "gitea",
    "bitbucket.org": "bitbucket",
}
_HOST_PREFIXES = {"github": "github", "gitlab": "gitlab", "gitea": "gitea", "forgejo": "gitea"}


def source_repository(source: str | None) -> tuple[str, str] | None:
    """``(kind, web URL)`` of the repository an OCI ``source`` label names, or None.

    Only http(s) URLs on a host whose forge we recognise, without credentials, query or
    fragment; a ``git+`` prefix and a ``.git`` suffix are dropped; paths below the
    repository (``/tree/main/app``) are cut off.
    """
    if not source or len(source) > 2048 or _UNSAFE_CHARS.search(source) or " " in source:
        return None
    text = source.removeprefix("git+")
    try:
        parts = urlsplit(text)
        port = parts.port
    except ValueError:
        return None
    host = (parts.hostname or "").lower()
    if parts.scheme.lower() not in ("http", "https") or parts.username is not None:
        return None
    if parts.query or parts.fragment or not _HOST.fullmatch(host):
        return None
    kind = _KNOWN_HOSTS.get(host.removeprefix("www.")) or _self_hosted(host)
    segments = _repository_path(kind, parts.path)
    if kind is None or segments is None:
        return None
    netloc = host if port is None else f"{host}:{port}"
    return kind, f"{parts.scheme.lower()}://{netloc}/{'/'.join(segments)}"


def _self_hosted(host: str) -> str | None:
    """``gitlab.example.com`` → ``gitlab``; a bare ``github.io`` is not a forge."""
    labels = host.split(".")
    return _HOST_PREFIXES.get(labels[0]) if len(labels) >= 3 else None


def _repository_path(kind: str | None, path: str) -> list[str] | None:
    segments = [s for s in path.split("/") if s]
    if kind == "gitlab" and "-" in segments:
        segments = segments[: segments.index("-")]  # /group/project/-/tree/main
    elif kind != "gitlab":
        segments = segments[:2]
    if segments:
        segments[-1] = segments[-1].removesuffix(".git")
    if len(segments) < 2 or not all(_SEGMENT.fullmatch(s) and ".." not in s for s in segments):
        return None
    return segments


def compare_url(source: str | None, old: str | None, new: str | None) -> Safe | None:
    """The forge's web page comparing revision ``old`` with ``new`` of ``source``, or None."""
    repository = source_repository(source)
    if repository is None or not _revision(old) or not _revision(new) or old == new:
        return None
    kind, base = repository
    if kind == "gitlab":
        return Safe(f"{base}/-/compare/{old}...{new}")
    if kind == "bitbucket":
        return Safe(f"{base}/branches/compare/{new}%0D{old}")  # newer first, CR between
    return Safe(f"{base}/compare/{old}...{new}")


def _revision(value: str | None) -> bool:
    return bool(value) and bool(_REVISION.fullmatch(value or "")) and ".." not in (value or "")


__all__ = [
    "MAX_SHOWN",
    "Safe",
    "clean",
    "code",
    "compare_url",
    "decode_marker",
    "encode_marker",
    "md",
    "source_repository",
]
