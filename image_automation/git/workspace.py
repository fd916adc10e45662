"""A cached checkout of one (url, branch) and the commit-and-push cycle on it.

Why a cache: cloning a big repository every run dominates the run time; fetching into the
previous clone and hard-resetting costs a fraction. Why it is safe: every run starts with
fetch + ``checkout -f -B`` to the remote head (which resets the index, the tracked files and
the branch, and drops merge state); unless the previous run left a clean mark (see
:mod:`image_automation.git._mark`: it finished, git showed its tree free of untracked and
ignored files, and nothing changed since), the work dir is also checked, stale lock files
and operation states are removed, and ``reset --hard`` + ``clean -ffdx`` run. So whatever a
killed run left behind (dirty files, a local commit, a detached HEAD, a stale
``index.lock``, untracked files) is discarded; a clone is made in a temp dir and renamed into
place, so a half clone is never mistaken for a good one. A file lock per work dir serialises
processes.

GitPython runs the git binary for us (index-heavy steps are far faster there than in its
pure-Python index); every blocking call runs in a thread via ``asyncio.to_thread``.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import shutil
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping, Sequence
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any, TypeVar

from image_automation.domain import UpdateResult
from image_automation.errors import GitConflict, GitError
from image_automation.git import _branches
from image_automation.git._auth import GitAuth, check_url, git_environment
from image_automation.git._branches import BranchHeads
from image_automation.git._checkout import Checkout, absolute_path
from image_automation.git._errors import Remote
from image_automation.git._history import MAX_COMMITS, MarkedHistory, marked_history
from image_automation.git._lock import locked
from image_automation.git._options import (
    CommitSettings,
    PublishResult,
    PushSettings,
    RepoSpec,
    check_branch,
)
from image_automation.git._origin import LineOrigin, history_mentions, is_ancestor, line_origin
from image_automation.git.messages import render_message, with_trailer

log = logging.getLogger(__name__)
_T = TypeVar("_T")

Apply = Callable[[Path], Awaitable[UpdateResult]]
PushGuard = Callable[[], Awaitable[None]]
"""Awaited right before each push or branch deletion; raises to stop it (a replica that
lost its lease on the repository)."""


async def _in_thread(func: Callable[..., _T], *args: Any) -> _T:
    """Run blocking git work in a thread; if cancelled, let it finish before unwinding.

    Otherwise a cancelled run would release the work dir lock while git still writes in it.
    """
    task = asyncio.ensure_future(asyncio.to_thread(func, *args))
    try:
        return await asyncio.shield(task)
    except asyncio.CancelledError:
        await asyncio.wait([task])
        raise
    except OSError as exc:  # a file step around git (rename, rmtree, a mark): ours, not a crash
        step = getattr(func, "__name__", "git step").strip("_").replace("_", " ")
        raise GitError(f"{step} failed: {exc}") from exc


def cache_key(url: str, branch: str) -> str:
    """Directory name of the clone of (url, branch): readable slug + hash of both."""
    digest = hashlib.sha256(f"{url}\0{branch}".encode()).hexdigest()[:16]
    tail = url.rstrip("/").rsplit("/", 1)[-1].removesuffix(".git")
    slug = re.sub(r"[^A-Za-z0-9._-]+", "-", f"{tail}-{branch}").strip("-.")[:48]
    return f"{slug or 'repo'}-{digest}"


def _private_dir(work_dir: Path, key: str) -> Path:
    """A 0700 temp dir for askpass files, key copies, GNUPGHOME: one fixed name per work dir.

    Fixed so that the next run (holding the same lock) deletes what a killed run left there,
    including credential files; in the temp dir, not the work dir, so gpg-agent's socket path
    stays short.
    """
    tag = hashlib.sha256(f"{work_dir.resolve()}\0{key}".encode()).hexdigest()[:16]
    path = Path(tempfile.gettempdir()) / f"ia-git-{tag}"
    shutil.rmtree(path, ignore_errors=True)
    try:
        path.mkdir(mode=0o700)
    except FileExistsError as exc:
        raise GitError(f"private temp dir {path} exists and cannot be removed") from exc
    return path


class Workspace:
    """One locked checkout. Create it with :meth:`Workspace.open`, never directly.

    Write into :attr:`path` only from :meth:`publish`'s ``apply`` (or before :meth:`commit`
    or :meth:`diff`): whether the checkout is left clean for the next run is judged from
    what went through these methods.
    """

    def __init__(self, *, spec: RepoSpec, path: Path, env: Mapping[str, str], private: Path,
                 secrets: Sequence[str], remote: Remote | None = None) -> None:  # fmt: skip
        self.spec = spec
        self.path = path
        self._guard: PushGuard | None = None
        self._checkout = Checkout(
            spec=spec, path=path, env=env, private=private, secrets=secrets, remote=remote
        )

    # -- lifecycle ------------------------------------------------------------------------

    @classmethod
    @asynccontextmanager
    async def open(
        cls,
        spec: RepoSpec,
        *,
        work_dir: Path,
        auth: GitAuth | None = None,
        lock_timeout: float | None = None,
    ) -> AsyncIterator[Workspace]:
        """Lock the clone of ``spec`` under ``work_dir``, clone or repair it, and yield it."""
        check_url(spec.url)
        work_dir = absolute_path(work_dir)  # git runs in other directories; never relative
        try:
            work_dir.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise GitError(f"cannot create work dir {work_dir}: {exc.strerror or exc}") from exc
        key = cache_key(spec.url, spec.branch)
        async with locked(work_dir / f"{key}.lock", timeout=lock_timeout):
            private = _private_dir(work_dir, key)
            try:
                env = git_environment(spec.url, auth, private)
                secrets = auth.secrets() if auth else ()
                workspace = cls(spec=spec, path=work_dir / key, env=env, private=private,
                                secrets=secrets, remote=Remote.of(spec.url, auth))  # fmt: skip
                await _in_thread(workspace._checkout.ensure_clone)
                yield workspace
                await _in_thread(workspace._checkout.leave)  # not reached when the run failed
            finally:
                shutil.rmtree(private, ignore_errors=True)

    # -- public steps -----------------------------------------------------------------------

    async def prepare(
        self, push: PushSettings | None = None, *, prefixes: Sequence[str] = ()
    ) -> str:
        """Fetch and hard-reset (and clean) to the remote head; return the HEAD commit.

        With a push branch that exists on the remote (and no ``force``), the base is that
        branch, so a rerun continues its work instead of duplicating it. ``prefixes``: fetch
        every branch whose name starts with one of them too (pull-request heads), so that
        :meth:`prepare_branch` right after needs no second fetch.
        """
        for prefix in prefixes:
            check_branch(prefix, "branch prefix")
        settings = push or PushSettings()
        return await _in_thread(self._checkout.prepare, settings, tuple(prefixes))

    async def commit(
        self,
        result: UpdateResult,
        settings: CommitSettings,
        *,
        automation: str = "",
        values: Mapping[str, Any] | None = None,
    ) -> str | None:
        """Commit every change in the checkout; ``None`` (and no commit) when nothing changed.

        The message is rendered from ``result`` (see :mod:`image_automation.git.messages`)
        only when there is something to commit, and before the commit is made, so a bad
        template fails without side effects and an empty update never renders one.
        """

        def message() -> str:
            text = render_message(
                result, settings.message_template, automation=automation, values=values
            )
            return with_trailer(text, automation)

        return await _in_thread(self._checkout.commit, message, settings)

    async def diff(self) -> str:
        """The uncommitted edits in the checkout as a unified diff (for dry runs); "" if none."""
        return await _in_thread(self._checkout.diff)

    def guard_pushes(self, guard: PushGuard) -> None:
        """Await ``guard`` right before every push and branch deletion from now on; whatever
        it raises stops that push (the commit stays local and the next run resets it)."""
        self._guard = guard

    async def push(self, settings: PushSettings) -> tuple[str, ...]:
        """Push HEAD once; raise GitConflict when the remote moved, GitError otherwise."""
        if self._guard is not None:
            await self._guard()
        return await _in_thread(self._checkout.push, settings)

    async def files_containing(self, needles: Sequence[str], globs: Sequence[str]) -> list[str]:
        """Tracked files matching ``globs`` whose text holds any of ``needles`` (git grep).

        Paths are relative to the checkout, in git's order. Cheaper than reading every file
        in Python: git grep searches the checkout from several threads.
        """
        return await _in_thread(self._checkout.grep, tuple(needles), tuple(globs))

    async def publish(
        self,
        apply: Apply,
        *,
        commit: CommitSettings,
        push: PushSettings,
        automation: str = "",
        values: Mapping[str, Any] | None = None,
        prepared: bool = False,
    ) -> PublishResult:
        """prepare → ``apply(path)`` → commit → push, retried from scratch if the remote moved.

        ``apply`` edits the files under the checkout and returns what it changed; it runs
        again on a fresh checkout after each rejected push, so it must decide from the files,
        never from a previous attempt. Never merges, never rewrites a remote commit.
        ``prepared``: the caller has just run :meth:`prepare` with these push settings and
        changed nothing since, so the first attempt skips it (retries always prepare).
        """
        for attempt in range(1, push.attempts + 1):
            if attempt > 1 or not prepared:
                await self.prepare(push)
            self._checkout.pristine = False  # until the commit has looked at what apply() wrote
            result = await apply(self.path)
            sha = await self.commit(result, commit, automation=automation, values=values)
            if sha is None:
                return PublishResult(commit=None, result=result, attempts=attempt)
            try:
                refs = await self.push(push)
            except GitConflict as exc:
                if attempt == push.attempts:
                    raise GitConflict(
                        f"push rejected {attempt} times, remote keeps moving: {exc}",
                        delay=push.max_backoff,
                    ) from exc
                delay = min(push.backoff * 2 ** (attempt - 1), push.max_backoff)
                log.info("push rejected (attempt %d), retrying in %.2fs: %s", attempt, delay, exc)
                await asyncio.sleep(delay)
                continue
            return PublishResult(commit=sha, result=result, attempts=attempt, refs=refs)
        raise AssertionError("unreachable")  # pragma: no cover

    async def line_origin(self, file: str, line: int) -> LineOrigin | None:
        """The commit that last changed ``file``'s line ``line`` at ``HEAD`` (git blame);
        ``None`` when git cannot say (the line is gone, the file is untracked)."""
        return await _in_thread(line_origin, self._checkout, file, line)

    async def history_mentions(self, file: str, needle: str) -> bool:
        """Whether a commit in ``HEAD``'s history added or removed ``needle`` in ``file``."""
        return await _in_thread(history_mentions, self._checkout, file, needle)

    async def contains(self, commit: str) -> bool:
        """Whether ``commit`` is in ``HEAD``'s history."""
        return await _in_thread(is_ancestor, self._checkout, commit)

    # -- pull-request head branches (see :mod:`image_automation.git._branches`) -------------

    async def prepare_branch(self, branch: str) -> BranchHeads:
        """Fetch the checkout branch and ``branch``; check ``branch`` out re-created from the
        checkout branch's remote head. A later :meth:`force_push` of ``branch`` wins only
        against the remote value seen here (``head``), never against a newer push.

        Without a fetch when the last :meth:`prepare` fetched ``branch`` too (``prefixes``)
        and nothing changed the checkout since."""
        check_branch(branch, "branch")
        base = await _in_thread(self._checkout.reuse_fetch, branch)
        if base is None:
            base = await self.prepare(PushSettings(branch=branch, force=True))
        head = await _in_thread(_branches.tracked, self._checkout, branch)
        return BranchHeads(base=base, head=head)

    async def remote_heads(self, branches: Sequence[str]) -> dict[str, str | None]:
        """Where each branch is on the remote now (``None``: absent); no fetch."""
        return await _in_thread(_branches.remote_heads, self._checkout, tuple(branches))

    async def committers(self, *, base: str, head: str) -> tuple[str, ...]:
        """Committer e-mails of the commits ``head`` has over ``base`` (both fetched)."""
        return await _in_thread(lambda: _branches.committers(self._checkout, base=base, head=head))

    async def carries(self, *, head: str, base: str) -> bool:
        """``head`` is one commit on ``base`` with the tree of our ``HEAD`` (nothing to push)."""
        return await _in_thread(lambda: _branches.carries(self._checkout, head=head, base=base))

    async def adopt(self, *, head: str, base: str) -> bool:
        """After :meth:`write`: when ``head`` is one commit on ``base`` holding exactly the
        edited files, take it as our ``HEAD`` (True) instead of committing the same tree."""
        return await _in_thread(lambda: _branches.adopt(self._checkout, head=head, base=base))

    async def write(self, apply: Apply) -> UpdateResult:
        """``apply(path)`` without committing; :meth:`commit` or :meth:`adopt` follows."""
        self._checkout.pristine = False  # until the commit has looked at what apply() wrote
        return await apply(self.path)

    async def edit(
        self,
        apply: Apply,
        commit: CommitSettings,
        *,
        automation: str = "",
        values: Mapping[str, Any] | None = None,
    ) -> tuple[UpdateResult, str | None]:
        """``apply(path)`` then :meth:`commit`; the commit sha is ``None`` when nothing changed."""
        self._checkout.pristine = False  # until the commit has looked at what apply() wrote
        result = await apply(self.path)
        return result, await self.commit(result, commit, automation=automation, values=values)

    async def force_push(self, branch: str, *, options: Sequence[str] = ()) -> tuple[str, ...]:
        """Push ``HEAD`` to ``branch`` with a lease on the value :meth:`prepare_branch` saw;
        :class:`GitConflict` when the branch moved since."""
        return await self.push(PushSettings(branch=branch, force=True, options=tuple(options)))

    # -- promotions (see :mod:`image_automation.git._history`) ------------------------------

    async def marked_history(
        self, *, branch: str, path: str, max_commits: int = MAX_COMMITS
    ) -> MarkedHistory:
        """Which commits of ``branch`` (as last fetched) added or removed marked lines under
        ``path``, newest first, with those lines; no network."""
        return await _in_thread(
            lambda: marked_history(
                self._checkout, branch=branch, path=path, max_commits=max_commits
            )
        )

    async def delete_branch(self, branch: str, *, expect: str) -> bool:
        """Delete ``branch`` on the remote if it is still at ``expect``; False if it moved."""
        if self._guard is not None:
            await self._guard()
        return await _in_thread(
            lambda: _branches.delete_branch(self._checkout, branch, expect=expect)
        )


__all__ = [
    "Apply",
    "BranchHeads",
    "LineOrigin",
    "MarkedHistory",
    "PushGuard",
    "Workspace",
    "cache_key",
]
