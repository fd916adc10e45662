"""The outcome of a selection: which tag won and why every other tag did not."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal

Release = Literal["untilNewer", "manual"]
RELEASES: tuple[Release, ...] = ("untilNewer", "manual")


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
class Hold:
    """A policy kept at a human's version: they rolled Git back from one we wrote.

    ``tag`` is the version Git holds (the human's), ``rolled_back_from`` the one we had
    written; ``commit`` and ``author`` name the change that put ``tag`` back. ``release``:
    ``untilNewer`` lifts the hold once a version newer than ``rolled_back_from`` wins;
    ``manual`` only by ``image-automation hold release``.
    """

    policy: str
    tag: str
    rolled_back_from: str
    commit: str
    author: str
    since: datetime
    release: Release = "untilNewer"
    automation: str = ""
    setter: str = ""
    released_at: datetime | None = None
    """When it was released (kept afterwards, so the same rollback is not held again and
    promotions can still refuse the rolled-back-from version); ``None`` while in force."""

    @property
    def active(self) -> bool:
        return self.released_at is None

    @property
    def reason(self) -> str:
        until = (
            f"until a version newer than {self.rolled_back_from} appears"
            if self.release == "untilNewer"
            else "until released (image-automation hold release)"
        )
        return (
            f"held at {self.tag}: rolled back from {self.rolled_back_from} by {self.author} "
            f"in {self.commit[:12]}, {until}"
        )


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
    hold: Hold | None = None
    """Set when the rollback gate keeps the policy at a human's version (``tag`` is then
    that version; the tag that would have won is in ``lost``)."""
    window: str | None = None
    """Set when an update window or freeze keeps the winner from being written now: why,
    and when it opens."""

    @property
    def selected(self) -> bool:
        return self.tag is not None

    def why(self, tag: str) -> str | None:
        """The reason ``tag`` was not chosen, or ``None`` when it was (or is unknown)."""
        return self.skipped.get(tag) or self.lost.get(tag)
