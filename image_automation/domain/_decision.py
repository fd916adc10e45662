"""The outcome of a selection: which tag won and why every other tag did not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime


@dataclass(frozen=True, slots=True)
class TagInfo:
    """What the scanner knows of one tag. Only ``name`` is always present.

    ``created`` is the image config's build time, ``pushed`` the registry's push time where it
    exposes one, ``first_seen`` when our scanner first saw the tag (the fallback clock for
    minimum age on registries with no timestamps). All datetimes are timezone-aware UTC.
    """

    name: str
    digest: str | None = None
    created: datetime | None = None
    pushed: datetime | None = None
    first_seen: datetime | None = None


@dataclass(frozen=True, slots=True)
class Decision:
    """The result of one policy over one tag list.

    ``tag`` is the winner or ``None``. ``considered`` lists tags that passed exclusion,
    allow/deny, filter/extract and suffix (in input order). ``skipped`` maps each tag dropped
    before ranking to the reason — a considered tag can still be skipped later (not semver,
    outside the range, younger than minAge); ``lost`` maps tags that were ranked but did not
    win to the reason. Every tag is exactly one of: the winner, skipped, lost.
    ``reasons`` holds policy-level remarks (pin in force, nothing qualifies, ...).
    """

    policy: str
    tag: str | None
    considered: tuple[str, ...] = ()
    skipped: dict[str, str] = field(default_factory=dict)
    lost: dict[str, str] = field(default_factory=dict)
    reasons: tuple[str, ...] = ()
    digest: str | None = None

    @property
    def selected(self) -> bool:
        return self.tag is not None

    def why(self, tag: str) -> str | None:
        """The reason ``tag`` was not chosen, or ``None`` when it was (or is unknown)."""
        return self.skipped.get(tag) or self.lost.get(tag)
