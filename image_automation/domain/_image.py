"""Image references: parse and normalise the way docker and Flux do.

``nginx`` means ``docker.io/library/nginx``, served from ``registry-1.docker.io``. The first
path component is a registry host only when it contains ``.`` or ``:`` or is ``localhost``.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

DOCKER_HUB = "docker.io"
DOCKER_HUB_API = "registry-1.docker.io"
_HUB_ALIASES = frozenset({"docker.io", "index.docker.io", "registry-1.docker.io"})

# OCI distribution spec grammar.
TAG_RE = re.compile(r"[A-Za-z0-9_][A-Za-z0-9._-]{0,127}")
_ALL_TAGS_RE = re.compile(rf"(?:{TAG_RE.pattern}\n)*")  # newline-joined tags
NOT_A_TAG = "not a valid OCI tag"
"""The one reason every part gives for a tag off the grammar (scan, select, update --set)."""
_COMPONENT_RE = re.compile(r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*")
DIGEST_RE = re.compile(r"[a-z0-9]+(?:[+._-][a-z0-9]+)*:[a-zA-Z0-9=_-]+")
_HOST_RE = re.compile(
    r"(?:[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?)*"
    r"|\[[0-9A-Fa-f:]+\])(?::[0-9]+)?"
)


_DIGEST_LENGTHS = {"sha256": 64, "sha512": 128}  # the OCI image spec's registered algorithms
_LOWER_HEX_RE = re.compile(r"[0-9a-f]+")


class InvalidReference(ValueError):
    """The text is not a valid image reference; the message says which part and why."""


def is_valid_tag(tag: str) -> bool:
    """True when ``tag`` matches the OCI tag grammar ``[A-Za-z0-9_][A-Za-z0-9._-]{0,127}``."""
    return TAG_RE.fullmatch(tag) is not None


def digest_problem(digest: str) -> str | None:
    """Why ``digest`` is not a well-formed ``sha256:``/``sha512:`` digest, or None if it is.

    The reference grammar admits any ``algorithm:encoded``; a digest that pins an image must
    also be one a registry can serve: sha256 with 64, sha512 with 128 lowercase hex digits.
    """
    algorithm, _, encoded = digest.partition(":")
    length = _DIGEST_LENGTHS.get(algorithm)
    if length is None:
        return f"unsupported digest algorithm {_shown(algorithm)} (sha256 or sha512)"
    if len(encoded) != length or _LOWER_HEX_RE.fullmatch(encoded) is None:
        return f"{algorithm} digest needs {length} lowercase hex characters, got {_shown(encoded)}"
    return None


def invalid_tags(tags: Sequence[str]) -> list[str]:
    """The tags of ``tags`` that :func:`is_valid_tag` refuses, in order.

    One regex pass over the joined tags answers the common case (all valid) at C speed;
    only a list holding a bad tag is checked tag by tag.
    """
    if not tags:
        return []
    joined = "\n".join(tags) + "\n"
    # The count guards against a tag that itself holds a newline posing as two valid ones.
    if joined.count("\n") == len(tags) and _ALL_TAGS_RE.fullmatch(joined):
        return []
    return [tag for tag in tags if TAG_RE.fullmatch(tag) is None]


@dataclass(frozen=True, slots=True, order=True)
class ImageRef:
    """A normalised image reference: ``registry/repository[:tag][@digest]``."""

    registry: str
    repository: str
    tag: str | None = None
    digest: str | None = None

    @classmethod
    def parse(cls, text: str) -> ImageRef:
        """Parse ``text``; raise :class:`InvalidReference` naming the bad part."""
        ref = text.strip()
        if not ref:
            raise InvalidReference("empty image reference")
        digest: str | None = None
        if "@" in ref:
            ref, digest = ref.split("@", 1)
            if not DIGEST_RE.fullmatch(digest):
                raise InvalidReference(f"{_shown(text)}: invalid digest {_shown(digest)}")
        tag: str | None = None
        slash = ref.rfind("/")
        colon = ref.rfind(":")
        if colon > slash:
            ref, tag = ref[:colon], ref[colon + 1 :]
            if not is_valid_tag(tag):
                raise InvalidReference(f"{_shown(text)}: tag {_shown(tag)} is {NOT_A_TAG}")
        registry, repository = _split_registry(ref, text)
        return cls(registry=registry, repository=repository, tag=tag, digest=digest)

    @property
    def name(self) -> str:
        """``registry/repository`` without tag or digest (the Flux ``:name`` value)."""
        return f"{self.registry}/{self.repository}"

    @property
    def api_host(self) -> str:
        """The host that serves the registry API (Docker Hub's differs from its name)."""
        return DOCKER_HUB_API if self.registry == DOCKER_HUB else self.registry

    def with_tag(self, tag: str | None, digest: str | None = None) -> ImageRef:
        return ImageRef(self.registry, self.repository, tag, digest)

    def __str__(self) -> str:
        out = self.name
        if self.tag:
            out += f":{self.tag}"
        if self.digest:
            out += f"@{self.digest}"
        return out


def _shown(text: str, limit: int = 80) -> str:
    """``text`` quoted for a message, cut when huge (a 100,000-character tag, say)."""
    if len(text) <= limit:
        return repr(text)
    return f"{text[:limit]!r}... ({len(text)} characters)"


def _split_registry(ref: str, original: str) -> tuple[str, str]:
    first, sep, rest = ref.partition("/")
    if sep and ("." in first or ":" in first or first == "localhost"):
        if not _HOST_RE.fullmatch(first):
            raise InvalidReference(f"{_shown(original)}: invalid registry host {_shown(first)}")
        registry, path = first.lower(), rest
    else:
        registry, path = DOCKER_HUB, ref
    if registry in _HUB_ALIASES:
        registry = DOCKER_HUB
        if "/" not in path:
            path = f"library/{path}"
    if not path:
        raise InvalidReference(f"{_shown(original)}: missing repository path")
    for component in path.split("/"):
        if not _COMPONENT_RE.fullmatch(component):
            raise InvalidReference(
                f"{_shown(original)}: invalid repository component {_shown(component)}"
            )
    return registry, path
