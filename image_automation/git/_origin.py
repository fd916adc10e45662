"""Who last changed a line: ``git blame`` for one line and the commit's identity and message.

The rollback gate asks this of a marked line whose value is older than the one we wrote: a
commit of ours (our trailer, or our author or committer e-mail) is no rollback; anyone
else's is.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING

from image_automation.git.messages import has_trailer

if TYPE_CHECKING:
    from image_automation.git._checkout import Checkout

_SHA = re.compile(r"^[0-9a-f]{40}(?:[0-9a-f]{24})?$")


@dataclass(frozen=True, slots=True)
class LineOrigin:
    """The commit that last changed a line, and whose it is."""

    commit: str
    author_name: str
    author_email: str
    committer_email: str
    message: str

    @property
    def author(self) -> str:
        return f"{self.author_name} <{self.author_email}>"

    def is_ours(self, email: str) -> bool:
        """Made by us: our trailer in the message, or our e-mail as author or committer."""
        return has_trailer(self.message) or email in (self.author_email, self.committer_email)


def line_origin(checkout: Checkout, file: str, line: int) -> LineOrigin | None:
    if line < 1 or file.startswith("-"):
        return None
    status, out, _ = checkout.run_git_status(
        "blame", "--porcelain", "-L", f"{line},{line}", "HEAD", "--", file, action="blame"
    )
    sha = out.split(" ", 1)[0] if status == 0 and out else ""
    if not _SHA.match(sha) or set(sha) == {"0"}:
        return None
    fields = checkout.run_git(
        "log", "-1", "--format=%an%x00%ae%x00%ce%x00%B", sha, "--", action="read commit"
    ).split("\x00", 3)
    if len(fields) != 4:
        return None
    name, email, committer, message = fields
    return LineOrigin(sha, name, email, committer, message)


def is_ancestor(checkout: Checkout, commit: str) -> bool:
    if not _SHA.match(commit):
        return False
    status, _, _ = checkout.run_git_status(
        "merge-base", "--is-ancestor", commit, "HEAD", action="check ancestry"
    )
    return status == 0


def history_mentions(checkout: Checkout, file: str, needle: str) -> bool:
    """Whether a commit in ``HEAD``'s history added or removed ``needle`` in ``file``
    (``git log -S``): the hold-annotation gate tells "deleted" from "never written"."""
    if file.startswith("-") or not needle:
        return False
    status, out, _ = checkout.run_git_status(
        "log", "--format=%H", f"-S{needle}", "HEAD", "--", file, action="search history"
    )
    return status == 0 and bool(out.strip())
