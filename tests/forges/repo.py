"""The real bare repository behind a fake forge: refs, mergeability and merges are git's own.

A fake forge keeps PR metadata in memory but never pretends about git: a PR's head sha is read
from the ref, "mergeable" is what ``git merge-tree --write-tree`` says for base and head, and a
merge through the API (or a human merge in a test) writes a real merge, squash or rebased
commit onto the base branch with a compare-and-swap ``update-ref``. The repository is served
over smart HTTP by the fake itself (``git http-backend`` under ``/git/``).
"""

from __future__ import annotations

import os
import subprocess
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

from tests.integration.git_fixtures import SEED_FILES, GitRemote, make_remote

MergeMethod = Literal["merge", "squash", "rebase", "ff"]
ZERO = "0" * 40
_FORGE_IDENTITY = {
    "GIT_AUTHOR_NAME": "Fake Forge",
    "GIT_AUTHOR_EMAIL": "forge@forge.invalid",
    "GIT_COMMITTER_NAME": "Fake Forge",
    "GIT_COMMITTER_EMAIL": "forge@forge.invalid",
}


class MergeConflict(Exception):
    """Base and head do not merge cleanly (or a fast-forward is impossible)."""


@dataclass
class ForgeRepo:
    """A bare repository on disk, with the merge operations a forge performs."""

    path: Path
    _lock: threading.RLock = field(default_factory=threading.RLock)

    @classmethod
    def create(cls, path: Path, files: Mapping[str, str] = SEED_FILES) -> ForgeRepo:
        path.parent.mkdir(parents=True, exist_ok=True)
        make_remote(path, files)
        return cls(path)

    @property
    def remote(self) -> GitRemote:
        return GitRemote(self.path)

    def git(self, *args: str, env: Mapping[str, str] | None = None) -> str:
        return self.remote.git(*args, env=env)

    def _status(self, *args: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            ["git", "--git-dir", str(self.path), *args],
            capture_output=True,
            text=True,
            check=False,
            env={**os.environ, **_FORGE_IDENTITY},
        )

    def sha(self, branch: str) -> str | None:
        """The commit ``refs/heads/<branch>`` points at, or None when there is no such branch."""
        out = self.git("for-each-ref", "--format=%(objectname)", f"refs/heads/{branch}")
        return out.strip() or None

    def branches(self) -> list[str]:
        out = self.git("for-each-ref", "--format=%(refname:lstrip=2)", "refs/heads/")
        return out.split()

    def delete_branch(self, branch: str) -> bool:
        with self._lock:
            old = self.sha(branch)
            if old is None:
                return False
            self.git("update-ref", "-d", f"refs/heads/{branch}", old)
            return True

    def is_ancestor(self, ancestor: str, descendant: str) -> bool:
        return self._status("merge-base", "--is-ancestor", ancestor, descendant).returncode == 0

    def mergeable(self, base: str, head: str) -> bool:
        """Whether ``head`` merges into ``base`` without conflicts (both branch names)."""
        base_sha, head_sha = self.sha(base), self.sha(head)
        if base_sha is None or head_sha is None:
            return False
        return self._merge_tree(base_sha, head_sha) is not None

    def _merge_tree(self, ours: str, theirs: str) -> str | None:
        proc = self._status("merge-tree", "--write-tree", "--no-messages", ours, theirs)
        if proc.returncode == 1:
            return None
        if proc.returncode != 0:
            raise RuntimeError(f"git merge-tree failed: {proc.stderr.strip()}")
        return proc.stdout.split()[0]

    def _commit_tree(self, tree: str, parents: list[str], message: str) -> str:
        args = ["commit-tree", tree, "-m", message]
        for parent in parents:
            args += ["-p", parent]
        return self.git(*args, env=_FORGE_IDENTITY).strip()

    def merge(self, *, base: str, head: str, method: MergeMethod, message: str) -> str:
        """Merge branch ``head`` into branch ``base`` the forge's way; the new base sha.

        Raises :class:`MergeConflict` when git cannot do it cleanly; the repo is unchanged then.
        """
        with self._lock:
            base_sha, head_sha = self.sha(base), self.sha(head)
            if base_sha is None or head_sha is None:
                raise MergeConflict(f"missing branch: {base if base_sha is None else head}")
            if method == "ff":
                if not self.is_ancestor(base_sha, head_sha):
                    raise MergeConflict("not a fast-forward")
                new = head_sha
            elif method == "rebase":
                new = self._rebase(base_sha, head_sha)
            else:
                tree = self._merge_tree(base_sha, head_sha)
                if tree is None:
                    raise MergeConflict(f"{head} conflicts with {base}")
                parents = [base_sha, head_sha] if method == "merge" else [base_sha]
                new = self._commit_tree(tree, parents, message)
            self.git("update-ref", f"refs/heads/{base}", new, base_sha)
            return new

    def _rebase(self, base_sha: str, head_sha: str) -> str:
        """Replay head's own commits onto base, as a rebase merge does (git 2.39 has no
        ``merge-tree --merge-base``, so in a throwaway worktree with ``cherry-pick``)."""
        work = self.path.parent / f"{self.path.name}-rebase-{threading.get_ident()}"
        self.git("worktree", "add", "--quiet", "--detach", str(work), base_sha)
        try:
            listed = self.git("rev-list", "--reverse", "--no-merges", f"{base_sha}..{head_sha}")
            for commit in listed.split():
                picked = subprocess.run(
                    ["git", "-C", str(work), "cherry-pick", "--allow-empty", commit],
                    capture_output=True,
                    text=True,
                    check=False,
                    env={**os.environ, **_FORGE_IDENTITY},
                )
                if picked.returncode != 0:
                    raise MergeConflict(f"commit {commit[:12]} does not apply")
            return subprocess.run(
                ["git", "-C", str(work), "rev-parse", "HEAD"],
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        finally:
            self.git("worktree", "remove", "--force", str(work))

    def commit_files(
        self, branch: str, files: Mapping[str, str], message: str, *, base: str = ""
    ) -> str:
        """A commit by "someone else" on ``branch`` (created from ``base`` or main if missing)."""
        with self._lock:
            start = base and (self.sha(base) or base)
            return self.remote.commit_files(files, message, branch, base=start or "")

    def read(self, path: str, ref: str) -> str:
        return self.remote.read(path, ref)

    def subjects(self, ref: str) -> list[str]:
        """Commit subjects of ``ref``, newest first."""
        return [c.subject for c in self.remote.commits(ref)]

    def parents(self, sha: str) -> list[str]:
        return self.git("rev-list", "--parents", "-n", "1", sha).split()[1:]
