"""The blocking half of :class:`~image_automation.git.workspace.Workspace`: git on one checkout.

Every method runs the git binary (through GitPython) and blocks; the workspace calls them in a
thread. Two concerns live here: keeping the clone usable (clone into a temp dir and rename,
diagnose and repair a work dir a killed run left, the clean mark) and the cycle on it (fetch,
sync to the remote head, commit, push).
"""

from __future__ import annotations

import logging
import os
import shutil
import subprocess
import tempfile
import uuid
from collections.abc import Callable, Generator, Mapping, Sequence
from contextlib import ExitStack
from pathlib import Path
from typing import Any

import git

from image_automation.errors import GitConflict, GitError
from image_automation.git._errors import Remote, redact, translating
from image_automation.git._mark import leave_mark, leftovers, read_head, read_ref, take_mark
from image_automation.git._options import CommitSettings, PushSettings, RepoSpec
from image_automation.git._signing import prepare_signing

log = logging.getLogger(__name__)

REMOTE = "origin"
_REMOTE = REMOTE
# Fetch and commit would each start `git maintenance run --auto`; it runs once on close.
_FETCH = ("--quiet", "--no-tags", "--no-auto-maintenance")
_NO_AUTO_MAINTENANCE = ("maintenance.auto", "false")
_MISSING_REF = "couldn't find remote ref"


def absolute_path(path: Path) -> Path:
    """``path`` made absolute against the current directory, lexically (symlinks kept, so a
    mounted Secret's ``..data`` link is followed afresh on every read)."""
    return Path(os.path.abspath(path))


def absolute_local_url(url: str) -> str:
    """A remote given as a relative local path, made absolute; any other URL unchanged.

    Git's rule: a URL without ``://`` is a local path unless a ``:`` comes before the first
    ``/`` (then it is scp-like ``host:path``). Git resolves a local path against its working
    directory, which is not ours for a clone.
    """
    if "://" in url or os.path.isabs(url):
        return url
    colon, slash = url.find(":"), url.find("/")
    if colon != -1 and (slash == -1 or colon < slash):
        return url
    return os.path.abspath(url)


class Checkout:
    """The clone of ``spec`` at ``path``; ``env`` and ``private`` come from the workspace."""

    def __init__(self, *, spec: RepoSpec, path: Path, env: Mapping[str, str], private: Path,
                 secrets: Sequence[str], remote: Remote | None = None) -> None:  # fmt: skip
        self.spec = spec
        # Absolute before any step runs git elsewhere (the clone runs beside its target).
        self.path = absolute_path(path)
        self._url = absolute_local_url(spec.url)
        self._env = dict(env)
        self._private = private
        self._secrets = tuple(secrets)
        self._remote = remote or Remote(spec.url)
        self._lease: dict[str, str] = {}
        self.pristine = False
        """The checkout is exactly its HEAD commit: index and tracked files as committed,
        nothing untracked or ignored. Known from our own steps, or from the clean mark."""
        self._housekeeping = False
        """Objects may have been added (fetch, commit): run ``maintenance --auto`` on close."""
        self._covered: tuple[str, ...] = ()
        """Branch-name prefixes the last sync fetched too (see :meth:`reuse_fetch`)."""
        self.branch = spec.branch
        """The local branch the last sync checked out (a head branch in pull-request mode)."""

    def _git(
        self,
        *args: str,
        action: str,
        cwd: Path | None = None,
        config: Sequence[tuple[str, str]] = (),
        env: Mapping[str, str] | None = None,
        push: bool = False,
    ) -> str:
        argv = ["git"]
        for key, value in config:
            argv += ["-c", f"{key}={value}"]
        argv += args
        runner = git.Git(str(cwd or self.path))
        log.debug("git %s", redact(" ".join(args), self._secrets))
        with translating(action, secrets=self._secrets, push=push, remote=self._remote):
            out = runner.execute(argv, env={**self._env, **(env or {})})
        return str(out)

    def run_git(self, *args: str, action: str, push: bool = False) -> str:
        """Run git in the checkout (for the adapter's sibling modules); see ``_git``."""
        return self._git(*args, action=action, push=push)

    def run_git_status(self, *args: str, action: str) -> tuple[int, str, str]:
        """Run git; (exit status, stdout, stderr) for sibling modules; see ``_git_status``."""
        return self._git_status(*args, action=action)

    def stream_git(self, *args: str, action: str) -> Generator[bytes, None, None]:
        """Run a local git command in the checkout and yield its output line by line (for
        long reads such as ``log -p``: never held in memory whole). Closing the generator
        early stops git."""
        log.debug("git %s", redact(" ".join(args), self._secrets))
        argv = ["git", *args]
        try:
            proc = subprocess.Popen(
                argv, cwd=self.path, env={**os.environ, **self._env}, stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE, stderr=subprocess.PIPE,
            )  # fmt: skip
        except OSError as exc:
            raise GitError(f"{action} failed: {exc.strerror or exc}") from exc
        assert proc.stdout is not None and proc.stderr is not None
        finished = False
        try:
            yield from proc.stdout
            finished = True
        finally:
            if not finished:
                proc.kill()
            err = proc.stderr.read(64 * 1024).decode("utf-8", "replace")
            status = proc.wait()
            proc.stdout.close()
            proc.stderr.close()
        if status != 0:
            detail = "; ".join(ln for ln in err.splitlines()[-4:] if ln.strip()) or str(status)
            raise GitError(f"{action} failed: {redact(detail, self._secrets)}")

    def _git_status(self, *args: str, action: str) -> tuple[int, str, str]:
        """Run git; (exit status, stdout, stderr) rather than an error for a non-zero exit."""
        log.debug("git %s", redact(" ".join(args), self._secrets))
        with translating(action, secrets=self._secrets):
            status, out, err = git.Git(str(self.path)).execute(
                ["git", *args], env=self._env, with_extended_output=True, with_exceptions=False
            )
        return int(status), str(out), str(err)

    def ensure_clone(self) -> None:
        root = self.path.parent
        for stale in root.glob(f"{self.path.name}.tmp-*"):
            log.info("removing half-finished clone %s", stale)
            shutil.rmtree(stale, ignore_errors=True)
        if self.path.exists():
            try:
                doubt = take_mark(self.path / ".git", self._settings())
            except OSError as exc:  # a mark we cannot delete could outlive a killed run
                raise GitError(f"cannot take the clean mark of {self.path}: {exc}") from exc
            if doubt is None:  # the last run finished and left it clean: no checks needed
                self.pristine = True
                return
            log.debug("checking work dir %s: %s", self.path, doubt)
            problem = self._diagnose()
            if problem is None:
                return
            log.warning("work dir %s is unusable (%s); cloning again", self.path, problem)
            shutil.rmtree(self.path)
        self._clone()

    def _settings(self) -> list[Any]:
        """What a clean mark must have been written for (JSON-shaped, for comparison)."""
        spec = self.spec
        return [spec.url, spec.branch, spec.depth, sorted(spec.sparse_paths)]

    def leave(self) -> None:
        """After a run that ended normally: housekeeping, then the clean mark if it is clean."""
        if not self.path.is_dir():
            return
        if self._housekeeping:
            # What fetch and commit would do on their own (gc --auto), once, after the push.
            try:
                self._git("maintenance", "run", "--auto", "--quiet", action="housekeeping")
            except GitError as exc:
                log.warning("housekeeping in %s failed: %s", self.path, exc)
                return
        if self.pristine:
            try:
                leave_mark(self.path / ".git", self._settings())
            except OSError as exc:  # the run itself succeeded; the next one just checks more
                log.warning("cannot mark %s clean: %s", self.path, exc)

    def _clone(self) -> None:
        tmp = self.path.with_name(f"{self.path.name}.tmp-{uuid.uuid4().hex[:8]}")
        args = ["clone", "--quiet", "--no-checkout", "--no-tags", "--single-branch"]
        args += ["--branch", self.spec.branch, "--origin", _REMOTE]
        if self.spec.depth:
            args += ["--depth", str(self.spec.depth)]
        self._git(*args, "--", self._url, str(tmp), action="clone", cwd=self.path.parent)
        if self.spec.sparse_paths:
            self._git("sparse-checkout", "set", "--cone", "--", *self.spec.sparse_paths,
                      action="sparse checkout", cwd=tmp)  # fmt: skip
        try:
            tmp.rename(self.path)
        except OSError as exc:
            shutil.rmtree(tmp, ignore_errors=True)
            raise GitError(f"clone failed: cannot move it to {self.path}: {exc}") from exc

    def _diagnose(self) -> str | None:
        """Why the existing clone cannot be reused, or None. Clears stale lock files."""
        git_dir = self.path / ".git"
        if not git_dir.is_dir():
            return "no .git directory"
        # We hold the work dir lock: any git lock file is a leftover of a killed run, and we
        # never merge, rebase, cherry-pick or revert, so such a state is a leftover too.
        for stale in leftovers(git_dir):
            log.info("removing stale %s", stale)
            if stale.is_dir() and not stale.is_symlink():
                shutil.rmtree(stale)
            else:
                stale.unlink(missing_ok=True)
        try:
            with translating("inspect work dir", secrets=self._secrets):
                git.Repo(self.path)
            url = self._git("config", "--get", f"remote.{_REMOTE}.url", action="inspect work dir")
            self._remote_sha(self.spec.branch)
            sparse_on = self._git("config", "--bool", "--default", "false", "--get",
                                  "core.sparseCheckout", action="inspect work dir")  # fmt: skip
            sparse = (
                self._git("sparse-checkout", "list", action="inspect work dir")
                if sparse_on == "true"
                else ""
            )
        except GitError as exc:
            return f"not a usable git checkout: {exc}"
        if url not in (self.spec.url, self._url):
            return "remote URL differs"
        if self.spec.depth is None and (git_dir / "shallow").exists():
            return "shallow clone, full history wanted"
        current = sorted(p for p in sparse.splitlines() if p)
        if current != sorted(self.spec.sparse_paths):
            return "sparse checkout settings changed"
        return None

    def _healthy(self) -> bool:
        """After a failed step: is the object database intact? (Only run on failure.)"""
        try:
            self._git("fsck", "--connectivity-only", "--no-dangling", "--no-progress",
                      action="check work dir")  # fmt: skip
        except GitError as exc:
            log.warning("work dir %s is damaged: %s", self.path, exc)
            return False
        return True

    def _fetch(self, push: PushSettings, prefixes: Sequence[str] = ()) -> bool:
        """Fetch the checkout branch (and the push branch, and every branch starting with one
        of ``prefixes``); True when the push branch exists.

        Prefix patterns match nothing without failing, and ``--prune`` drops the tracking
        refs of their branches that are gone, so a deleted head is never taken for a live one.
        """
        branches = [self.spec.branch]
        if push.branch and push.branch != self.spec.branch:
            branches.append(push.branch)
        depth = ["--depth", str(self.spec.depth)] if self.spec.depth else []
        refspecs = [f"+refs/heads/{b}:refs/remotes/{_REMOTE}/{b}" for b in branches]
        patterns = [f"+refs/heads/{p}*:refs/remotes/{_REMOTE}/{p}*" for p in prefixes]
        prune = ["--prune"] if patterns else []
        tracking = [f"refs/remotes/{_REMOTE}/{b}" for b in branches]
        before = [read_ref(self.path / ".git", ref) for ref in tracking]
        try:
            try:
                self._git("fetch", *_FETCH, *prune, *depth, _REMOTE, *refspecs, *patterns,
                          action="fetch")  # fmt: skip
                return len(branches) > 1
            except GitError as exc:
                missing = f"{_MISSING_REF} refs/heads/{branches[-1]}"
                if len(branches) == 1 or missing not in str(exc):
                    raise
            self._git("fetch", *_FETCH, *prune, *depth, _REMOTE, refspecs[0], *patterns,
                      action="fetch")  # fmt: skip
            self._git("update-ref", "-d", tracking[1], action="fetch")
            return False
        finally:  # objects arrive with a moved ref: then gc --auto may find work on close
            # (a prefix branch's objects are ours, pushed from here, or wait for the next one)
            if [read_ref(self.path / ".git", ref) for ref in tracking] != before:
                self._housekeeping = True

    def _remote_sha(self, branch: str) -> str:
        ref = f"refs/remotes/{_REMOTE}/{branch}"
        return self._git("rev-parse", "--verify", f"{ref}^{{commit}}", action="read " + ref)

    def _fetched_sha(self, branch: str) -> str:
        """``_remote_sha`` right after a fetch, read from the ref file (git if it is unusual)."""
        sha = read_ref(self.path / ".git", f"refs/remotes/{_REMOTE}/{branch}")
        return sha or self._remote_sha(branch)

    def prepare(self, push: PushSettings, prefixes: Sequence[str] = ()) -> str:
        try:
            return self._sync(push, prefixes)
        except GitError:
            if self._healthy():
                raise
        log.warning("cloning %s again", self.spec.url)
        shutil.rmtree(self.path)
        self._clone()
        return self._sync(push, prefixes)

    def _sync(self, push: PushSettings, prefixes: Sequence[str] = ()) -> str:
        pristine, self.pristine, self._covered = self.pristine, False, ()
        push_branch_exists = self._fetch(push, prefixes)
        local = push.branch or self.spec.branch
        base = local if push_branch_exists and not push.force else self.spec.branch
        # The remote value we based our work on; a forced push only wins against that value.
        known = local == self.spec.branch or push_branch_exists
        self._lease = {local: self._fetched_sha(local) if known else ""}
        target = f"refs/remotes/{_REMOTE}/{base}"
        sha = self._fetched_sha(base)
        if pristine and self._on_branch_at(local, sha):
            log.debug("checkout already at %s on %s", sha[:12], local)
        else:
            # -f -B: branch, index and tracked files to the target; merge state dropped.
            self._git("checkout", "--quiet", "--force", "-B", local, target, action="checkout")
        if not pristine:  # repair: untracked or ignored files may be about
            self._git("reset", "--quiet", "--hard", target, action="reset")
            self._git("clean", "-ffdxq", action="clean")
        self.pristine, self.branch = True, local
        self._covered = tuple(prefixes) if local == self.spec.branch else ()
        return sha

    def reuse_fetch(self, branch: str) -> str | None:
        """Check ``branch`` out re-created from the base without fetching again, when the last
        sync fetched it too (a prefix covered it) and the checkout is still exactly the base
        it synced to; return the base commit. ``None``: a fetch is needed.

        The daemon fetches its pull requests' heads with the base it reads its files from;
        a second fetch of both a few milliseconds later would only cost time.
        """
        if not self.pristine or not any(branch.startswith(p) for p in self._covered):
            return None
        sha = self._fetched_sha(self.spec.branch)
        if not self._on_branch_at(self.spec.branch, sha):
            return None
        tracked = read_ref(self.path / ".git", f"refs/remotes/{_REMOTE}/{branch}")
        self._lease, self._covered = {branch: tracked or ""}, ()
        # HEAD's commit and tree, so nothing in the work tree changes.
        self._git("checkout", "--quiet", "-B", branch, action="checkout")
        self.branch = branch
        return sha

    def _on_branch_at(self, branch: str, sha: str) -> bool:
        """HEAD is ``branch`` (not detached) and ``branch`` is at ``sha``."""
        try:
            head = (self.path / ".git" / "HEAD").read_text(encoding="utf-8").strip()
        except (OSError, UnicodeDecodeError):
            return False
        ref = f"refs/heads/{branch}"
        return head == f"ref: {ref}" and read_ref(self.path / ".git", ref) == sha

    def _status(self) -> tuple[list[str], bool]:
        """``git status`` entries (``XY path``) of changes, and whether ignored files exist."""
        out = self._git("status", "--porcelain", "-z", "--ignored", "--untracked-files=normal",
                        action="inspect changes")  # fmt: skip
        entries, ignored, fields = [], False, iter(out.split("\0"))
        for entry in fields:
            if entry.startswith("!!"):
                ignored = True
            elif entry:
                entries.append(entry)
                if entry[0] in "RC":  # a staged rename or copy: its source path follows
                    next(fields, None)
        return entries, ignored

    def differs(self, commit: str) -> bool:
        """Do the tracked files differ from ``commit``'s tree? (Writes no object.)"""
        status, _, err = self._git_status("diff", "--quiet", "--no-ext-diff", commit, "--",
                                          action="diff")  # fmt: skip
        if status not in (0, 1):
            raise GitError(f"git diff failed: {redact(err, self._secrets)}")
        return status == 1

    def _staged_changes(self) -> bool:
        """``add --all``; then, does the index differ from HEAD?"""
        self._housekeeping = True  # new blobs, maybe
        self._git("add", "--all", action="stage changes")
        status, _, _ = self._git_status("diff", "--cached", "--quiet", action="diff")
        return bool(status)

    def commit(self, message: Callable[[], str], settings: CommitSettings) -> str | None:
        """Commit the tree; ``message()`` is called only when there is something to commit,
        so a template that renders nothing for an empty update never fails a no-op run."""
        self.pristine = False  # until the commit went through
        entries, ignored = self._status()
        # Only tracked files changed in the tree (what the updater does): `commit -a` stages
        # exactly those. Anything else (new files, staged changes): add everything, compare.
        tracked_only = all(e[0] == " " and e[1] in "MDT" for e in entries)
        if not entries or (not tracked_only and not self._staged_changes()):
            log.info("nothing changed in %s; no commit", self.spec.url)
            self.pristine = not ignored
            return None
        env = {
            "GIT_AUTHOR_NAME": settings.author_name,
            "GIT_AUTHOR_EMAIL": settings.author_email,
            "GIT_COMMITTER_NAME": settings.author_name,
            "GIT_COMMITTER_EMAIL": settings.author_email,
        }
        message_file = self._private / "COMMIT_MSG"
        message_file.write_text(message(), encoding="utf-8")
        args = [
            "commit",
            "--quiet",
            "--no-verify",
            "--cleanup=verbatim",
            "--file",
            str(message_file),
            *(["--all"] if tracked_only else []),
        ]
        with ExitStack() as stack:
            config: tuple[tuple[str, str], ...] = (_NO_AUTO_MAINTENANCE,)
            if settings.signing is not None:
                signing_dir = Path(tempfile.mkdtemp(prefix="sig-", dir=self._private))
                setup = prepare_signing(settings.signing, signing_dir)
                stack.callback(setup.close)
                stack.enter_context(setup.explaining())
                config, env = (*config, *setup.config), {**env, **setup.env}
                args.append("--gpg-sign")
            self._git(*args, action="commit", config=config, env=env)
        # Everything but ignored files is committed now: the tree is clean unless there are.
        self.pristine, self._housekeeping = not ignored, True
        sha = read_head(self.path / ".git") or self._git("rev-parse", "HEAD", action="read HEAD")
        log.info("committed %s on %s", sha[:12], self.branch)
        return sha

    def diff(self) -> str:
        # The caller has edited the tree; the index gets staged files (and new blobs).
        self.pristine, self._housekeeping = False, True
        self._git("add", "--all", action="stage changes")
        out = self._git("diff", "--cached", "--no-color", "--no-ext-diff", action="diff")
        return f"{out}\n" if out else ""

    def grep(self, needles: tuple[str, ...], globs: tuple[str, ...]) -> list[str]:
        args = ["grep", "-l", "-z", "-F", "--no-color"]
        for needle in needles:
            args += ["-e", needle]
        status, out, err = self._git_status(*args, "--", *globs, action="search files")
        if status == 1:
            return []
        if status != 0:
            raise GitError(f"git grep failed: {redact(err, self._secrets)}")
        return [p for p in out.split("\0") if p]

    def push(self, settings: PushSettings) -> tuple[str, ...]:
        targets: list[str] = []
        branch = settings.branch or self.spec.branch
        if settings.branch or not settings.refspec:
            targets.append(f"HEAD:refs/heads/{branch}")
        if settings.refspec:
            targets.append(settings.refspec)
        args = ["push", "--porcelain"]
        if len(targets) > 1:
            args.append("--atomic")
        if settings.force:
            args.append(f"--force-with-lease=refs/heads/{branch}:{self._lease.get(branch, '')}")
        args.extend(f"--push-option={option}" for option in settings.options)
        out = self._git(*args, _REMOTE, *targets, action="push", push=True)
        rejected = [line for line in out.splitlines() if line.startswith("!")]
        if rejected:  # git exits non-zero on rejection, but never trust silence
            raise GitConflict(f"push rejected: {redact('; '.join(rejected), self._secrets)}")
        log.info("pushed %s", ", ".join(targets))
        return tuple(t.split(":", 1)[-1] for t in targets)


__all__ = ["REMOTE", "Checkout", "absolute_local_url", "absolute_path"]
