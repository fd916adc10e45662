"""Forge-neutral PR rules every fake shares: open, close, reopen, merge, auto-merge.

The rules are the ones all five forges agree on, checked against the real bare repository:
a PR needs existing head and base branches with commits between them; one open PR per
head/base pair; a merge needs an open, conflict-free PR (and the expected head sha when the
client names one); reopening needs the head branch and no other open PR for it. Auto-merge
(GitHub auto-merge, GitLab auto_merge, Gitea merge_when_checks_succeed, Azure auto-complete)
merges as soon as the head's checks are green: at least one status or check run, all
successful, and no conflict. Each forge module turns a :class:`Refusal` into its own error.
"""

from __future__ import annotations

import threading

from tests.forges.repo import ForgeRepo, MergeConflict, MergeMethod
from tests.forges.state import CheckRun, CheckState, Comment, PullRequest, Status, combined, now


class Refusal(Exception):
    """Why the forge says no; ``kind`` picks the forge's status code."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind  # missing-branch | no-commits | exists | not-open | conflict | sha
        self.message = message


class Lifecycle:
    repo: ForgeRepo
    bot_user: str

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self.pulls: dict[int, PullRequest] = {}
        self.statuses: list[Status] = []
        self.check_runs: list[CheckRun] = []
        self._ids = 0

    def next_id(self) -> int:
        self._ids += 1
        return self._ids

    # -- reading ----------------------------------------------------------------------------

    def head_sha(self, pr: PullRequest) -> str:
        """The live head sha while the branch exists, else the last one seen."""
        if pr.state == "open":
            live = self.repo.sha(pr.head)
            if live:
                pr.head_sha = live
        return pr.head_sha

    def mergeable(self, pr: PullRequest) -> bool:
        return pr.state == "open" and self.repo.mergeable(pr.base, pr.head)

    def find_open(self, head: str, base: str | None = None) -> PullRequest | None:
        for pr in sorted(self.pulls.values(), key=lambda p: -p.number):
            if pr.state == "open" and pr.head == head and base in (None, pr.base):
                return pr
        return None

    def resolve_sha(self, ref: str) -> str:
        """A branch name or a sha -> sha (unknown names come back as they are)."""
        return self.repo.sha(ref) or ref

    def latest_statuses(self, sha: str) -> list[Status]:
        latest: dict[str, Status] = {}
        for status in self.statuses:
            if status.sha == sha:
                latest[status.context] = status
        return list(latest.values())

    def latest_check_runs(self, sha: str) -> list[CheckRun]:
        latest: dict[str, CheckRun] = {}
        for run in self.check_runs:
            if run.sha == sha:
                latest[run.name] = run
        return list(latest.values())

    def checks_state(self, sha: str) -> str:
        states: list[CheckState] = [s.state for s in self.latest_statuses(sha)]
        states += [r.state for r in self.latest_check_runs(sha)]
        return combined(states)

    # -- changing ---------------------------------------------------------------------------

    def open_pull(
        self, *, head: str, base: str, title: str, body: str, draft: bool = False, author: str = ""
    ) -> PullRequest:
        for branch in (head, base):
            if self.repo.sha(branch) is None:
                raise Refusal("missing-branch", f"branch {branch!r} does not exist")
        if head == base or self.repo.is_ancestor(self.repo.sha(head) or "", base):
            raise Refusal("no-commits", f"no commits between {base} and {head}")
        existing = self.find_open(head, base)
        if existing is not None:
            raise Refusal("exists", f"a pull request already exists for {head}: #{existing.number}")
        number = max(self.pulls, default=0) + 1
        pr = PullRequest(number, title, body, head, base, author or self.bot_user, draft=draft)
        pr.head_sha = self.repo.sha(head) or ""
        pr.node_id = f"PR_fake{number:06d}"
        self.pulls[number] = pr
        return pr

    def close_pull(self, pr: PullRequest) -> None:
        if pr.state != "open":
            raise Refusal("not-open", f"pull request #{pr.number} is {pr.state}")
        self.head_sha(pr)
        pr.state, pr.closed_at, pr.auto_merge = "closed", now(), None
        pr.touch()

    def reopen_pull(self, pr: PullRequest) -> None:
        if pr.state != "closed":
            raise Refusal("not-open", f"pull request #{pr.number} is {pr.state}, not closed")
        if self.repo.sha(pr.head) is None:
            raise Refusal("missing-branch", f"branch {pr.head!r} was deleted")
        if self.find_open(pr.head, pr.base) is not None:
            raise Refusal("exists", f"another pull request is open for {pr.head}")
        pr.state, pr.closed_at = "open", None
        pr.touch()

    def merge_pull(
        self,
        pr: PullRequest,
        *,
        method: MergeMethod,
        message: str = "",
        expected_sha: str | None = None,
        by: str = "",
    ) -> str:
        if pr.state != "open":
            raise Refusal("not-open", f"pull request #{pr.number} is {pr.state}")
        head_sha = self.head_sha(pr)
        if expected_sha and expected_sha != head_sha:
            raise Refusal("sha", f"head is {head_sha}, not {expected_sha}")
        text = message or f"Merge pull request #{pr.number} from {pr.head}\n\n{pr.title}"
        try:
            merged = self.repo.merge(base=pr.base, head=pr.head, method=method, message=text)
        except MergeConflict as exc:
            raise Refusal("conflict", str(exc)) from exc
        pr.state, pr.merged_at, pr.closed_at = "merged", now(), now()
        pr.merge_commit_sha, pr.merged_by, pr.auto_merge = merged, by or self.bot_user, None
        pr.touch()
        return merged

    def add_comment(self, pr: PullRequest, body: str, author: str = "") -> Comment:
        comment = Comment(self.next_id(), body, author or self.bot_user)
        pr.comments.append(comment)
        pr.touch()
        return comment

    def find_comment(self, comment_id: int) -> tuple[PullRequest, Comment] | None:
        for pr in self.pulls.values():
            for comment in pr.comments:
                if comment.id == comment_id:
                    return pr, comment
        return None

    def after_change(self) -> None:
        """Run after every API call, status hook and push: auto-merge what is ready."""
        for pr in list(self.pulls.values()):
            if pr.state != "open" or pr.auto_merge is None or pr.draft:
                continue
            if self.checks_state(self.head_sha(pr)) != "success" or not self.mergeable(pr):
                continue
            method = pr.auto_merge if pr.auto_merge in ("merge", "squash", "rebase") else "merge"
            self.merge_pull(pr, method=method, by=pr.auto_merge_by)  # type: ignore[arg-type]
            if pr.extra.get("delete_head"):  # the client asked for it when it set auto-merge
                self.repo.delete_branch(pr.head)

    def after_push(self) -> None:
        self.after_change()
