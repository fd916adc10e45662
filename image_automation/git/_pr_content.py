"""What a pull request's text is rendered from, and what is read back from it: plain values.

Apart from :mod:`image_automation.git.pull_requests` so the data shaping can use them
without importing the renderer.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from image_automation.domain import Decision, UpdateResult


@dataclass(frozen=True, slots=True, kw_only=True)
class ImageProvenance:
    """What an image says of where it was built: the ``org.opencontainers.image.source``
    label and the ``org.opencontainers.image.revision`` labels of the old and new image, and
    the new image's digest. Any of them may be unknown (None)."""

    source: str | None = None
    old_revision: str | None = None
    new_revision: str | None = None
    digest: str | None = None


@dataclass(frozen=True, slots=True, kw_only=True)
class PullRequestContent:
    """Everything a pull request's text is rendered from.

    ``decisions``: policy key (``namespace/name``) → its decision. ``images``: new image
    reference → its provenance. ``selected``: policy key → the full reference it selected,
    so a ``:tag`` setter's change can be shown (and its provenance found) under its image.
    ``held``: policy key → why it is held back. ``checkboxes``: offer "rebase" and "ignore".
    """

    automation: str
    head: str
    base: str
    result: UpdateResult
    decisions: Mapping[str, Decision]
    images: Mapping[str, ImageProvenance]
    selected: Mapping[str, str] = field(default_factory=dict)
    held: Mapping[str, str] = field(default_factory=dict)
    checkboxes: bool = True


@dataclass(frozen=True, slots=True)
class RenderedPullRequest:
    title: str
    body: str


@dataclass(frozen=True, slots=True)
class Checkboxes:
    """Which of our checkboxes a reviewer ticked."""

    rebase: bool = False
    ignore: bool = False


__all__ = ["Checkboxes", "ImageProvenance", "PullRequestContent", "RenderedPullRequest"]
