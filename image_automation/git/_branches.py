"""The git half of the pull-request lifecycle: a head branch on the remote, read and rewritten.

A pull request's head branch is ours to rewrite only while it holds nothing but our commits;
the lifecycle needs four answers from git to keep that promise, all from the remote's refs
rather than the forge's API (which may lag behind a push): where a branch is
(``ls-remote``, or the tracking ref after a fetch), who committed what it holds on top of the
base, whether it already carries exactly the change we would push (same tree, one commit on
the current base — then nothing is pushed), and deleting it with a lease, so a commit that a
human pushed after we looked is never deleted with it.

Functions here run git through :class:`~image_automation.git._checkout.Checkout` and block;
:class:`~image_automation.git.workspace.Workspace` calls them in a thread.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

from image_automation.errors import GitConflict, GitError
from image_automation.git._checkout import REMOTE, Checkout
from image_automation.git._mark import read_ref
from image_automation.git._options import check_branch

log = logging.getLogger(__name__)

_MAX_COMMITS = 200
"""Commits on a head branch we look at to tell whose they are; a branch deeper than that
over its base is not one of ours."""


@dataclass(frozen=True, slots=True)
class BranchHeads:
    """After :func:`prepare_branch`: the base commit the branch was re-created from, and where
    the branch is on the remote (``None``: it does not exist there)."""

    base: str
    head: str | None


def remote_heads(checkout: Checkout, branches: Sequence[str]) -> dict[str, str | None]:
    """Where each of ``branches`` is on the remote right now (one ``ls-remote``, no fetch)."""
    for branch in branches:
        check_branch(branch, "branch")
    refs = [f"refs/heads/{b}" for b in branches]
    out = checkout.run_git("ls-remote", "--heads", REMOTE, *refs, action="ls-remote")
    found: dict[str, str | None] = dict.fromkeys(branches)
    for line in out.splitlines():
        sha, _, ref = line.partition("\t")
        name = ref.removeprefix("refs/heads/")
        if name in found:
            found[name] = sha
    return found


def tracked(checkout: Checkout, branch: str) -> str | None:
    """The remote-tracking sha of ``branch`` as the last fetch left it; ``None`` if absent."""
    return read_ref(checkout.path / ".git", f"refs/remotes/{REMOTE}/{branch}")


def committers(checkout: Checkout, *, base: str, head: str) -> tuple[str, ...]:
    """Committer e-mails of the commits ``head`` has that ``base`` has not, newest first.

    More than :data:`_MAX_COMMITS` of them is an error: such a branch is nobody's automation.
    """
    out = checkout.run_git(
        "log", f"--max-count={_MAX_COMMITS + 1}", "--format=%ce", f"{base}..{head}", "--",
        action="read branch commits",
    )  # fmt: skip
    emails = tuple(line.strip() for line in out.splitlines() if line.strip())
    if len(emails) > _MAX_COMMITS:
        raise GitError(f"{head[:12]} has more than {_MAX_COMMITS} commits over {base[:12]}")
    return emails


def carries(checkout: Checkout, *, head: str, base: str) -> bool:
    """True when ``head`` is one commit on ``base`` whose tree is our ``HEAD``'s tree.

    That is the branch we would push, except for commit metadata: pushing again would only
    churn the pull request (new sha, checks re-run) for nothing.
    """
    parents = checkout.run_git("rev-list", "--parents", "-n", "1", head, "--",
                               action="read branch").split()  # fmt: skip
    if parents[1:] != [base]:
        return False
    trees = checkout.run_git("rev-parse", "HEAD^{tree}", f"{head}^{{tree}}", action="read trees")
    ours, theirs = trees.split()
    return ours == theirs


def adopt(checkout: Checkout, *, head: str, base: str) -> bool:
    """When ``head`` is one commit on ``base`` and the work tree (just edited) holds its tree:
    move the local branch and index to ``head`` and say True — there is nothing to commit.

    What :func:`carries` answers after a commit, without making one: no commit object, no
    message, no signature, no housekeeping for it. The updater rewrites tracked files only,
    so comparing the tracked files to ``head`` is comparing the trees.
    """
    parents = checkout.run_git("rev-list", "--parents", "-n", "1", head, "--",
                               action="read branch").split()  # fmt: skip
    if parents[1:] != [base]:
        return False
    if checkout.differs(head):
        return False
    checkout.run_git("reset", "--quiet", head, action="take branch")
    checkout.pristine = True  # the files were head's already; the index and branch are now
    return True


def delete_branch(checkout: Checkout, branch: str, *, expect: str) -> bool:
    """Delete ``branch`` on the remote if it is still at ``expect``.

    True when it was deleted or was already gone; False when it moved since (someone pushed:
    their commits stay). Other failures raise :class:`GitError`.
    """
    check_branch(branch, "branch")
    lease = f"--force-with-lease=refs/heads/{branch}:{expect}"
    try:
        out = checkout.run_git("push", "--porcelain", lease, REMOTE, f":refs/heads/{branch}",
                               action="delete branch", push=True)  # fmt: skip
    except GitConflict as exc:  # the lease failed: moved, or already deleted
        if remote_heads(checkout, [branch])[branch] is None:
            return True
        log.info("not deleting %s: it moved (%s)", branch, exc)
        return False
    rejected = [line for line in out.splitlines() if line.startswith("!")]
    if rejected:  # git exits non-zero on rejection, but never trust silence
        log.info("not deleting %s: %s", branch, "; ".join(rejected))
        return False
    log.info("deleted remote branch %s", branch)
    return True


__all__ = [
    "BranchHeads",
    "adopt",
    "carries",
    "committers",
    "delete_branch",
    "remote_heads",
    "tracked",
]
