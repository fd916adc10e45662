"""What a test can do to a fake forge in plain Python: look, count, act as a human, break it.

Every fake forge offers the same hooks, whatever its API looks like:

- look: ``fake.pull(1)``, ``fake.pulls``, ``fake.comments(1)``, ``fake.requests`` (every API
  request with what it was answered), ``fake.count("pulls/list")`` (by operationId or
  ``"METHOD /template"``), ``fake.violations``;
- checks: ``fake.set_status(sha_or_branch, "ci", "success")``, ``fake.set_check_run(...)``
  (GitHub only: the others have commit statuses alone);
- act as a human: ``human_merge``, ``human_close``, ``human_reopen``, ``human_comment``,
  ``human_push`` (a commit onto any branch, e.g. the PR's head), ``move_base`` (a commit on
  the base branch, e.g. a conflicting edit of the marked line);
- break it: ``fake.inject(Fault("retry_after", operation="pulls/list", retry_after=2))`` —
  429 + ``Retry-After``; ``"secondary_rate_limit"`` (GitHub's 403 with ``retry-after``);
  ``"status"`` (any status, e.g. 502); ``"stall"`` (hold the request up to ``seconds`` or
  until ``fake.release_stalls()``, then answer normally). A fault serves the next ``times``
  matching requests; injected answers are not validated (they are the fault).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

from tests.forges.lifecycle import Lifecycle
from tests.forges.repo import MergeMethod
from tests.forges.specs import Operation
from tests.forges.state import CheckRun, CheckState, Comment, PullRequest, Seen, Status

FaultKind = Literal["retry_after", "secondary_rate_limit", "status", "stall"]


@dataclass
class Fault:
    kind: FaultKind
    operation: str = ""  # operationId or "METHOD /template"; "" matches every API request
    times: int = 1
    status: int = 503
    retry_after: int = 1
    seconds: float = 30.0


class Hooks(Lifecycle):
    supports_check_runs = False

    def __init__(self) -> None:
        super().__init__()
        self.requests: list[Seen] = []
        self._faults: list[Fault] = []

    # -- look -------------------------------------------------------------------------------

    def pull(self, number: int) -> PullRequest:
        with self.lock:
            self.head_sha(self.pulls[number])
            return self.pulls[number]

    def comments(self, number: int) -> list[Comment]:
        with self.lock:
            return list(self.pulls[number].comments)

    def record(self, seen: Seen) -> None:
        with self.lock:
            self.requests.append(seen)

    def count(self, operation: str = "", *, status: int | None = None) -> int:
        """Requests for ``operation`` (operationId or ``"METHOD /template"``; "" = all)."""
        with self.lock:
            return sum(
                1
                for s in self.requests
                if operation in ("", s.operation, s.operation_id)
                and (status is None or s.status == status)
            )

    def reset_requests(self) -> None:
        with self.lock:
            self.requests.clear()

    # -- checks -----------------------------------------------------------------------------

    def set_status(
        self,
        ref: str,
        context: str,
        state: CheckState,
        *,
        description: str = "",
        target_url: str = "",
    ) -> Status:
        """A commit status on ``ref`` (a sha or a branch name, resolved now)."""
        with self.lock:
            status = Status(self.next_id(), self.resolve_sha(ref), context, state)
            status.description, status.target_url = description, target_url
            self.statuses.append(status)
            self.after_change()
            return status

    def set_check_run(self, ref: str, name: str, state: CheckState) -> CheckRun:
        if not self.supports_check_runs:
            raise ValueError(f"{type(self).__name__} has commit statuses only, no check runs")
        with self.lock:
            run = CheckRun(self.next_id(), self.resolve_sha(ref), name, state)
            self.check_runs.append(run)
            self.after_change()
            return run

    # -- act as a human ---------------------------------------------------------------------

    def human_merge(self, number: int, method: MergeMethod = "merge") -> str:
        with self.lock:
            sha = self.merge_pull(self.pulls[number], method=method, by="a-human")
            self.after_change()
            return sha

    def human_close(self, number: int) -> None:
        with self.lock:
            self.close_pull(self.pulls[number])

    def human_reopen(self, number: int) -> None:
        with self.lock:
            self.reopen_pull(self.pulls[number])

    def human_comment(self, number: int, body: str) -> Comment:
        with self.lock:
            return self.add_comment(self.pulls[number], body, author="a-human")

    def human_push(self, branch: str, files: Mapping[str, str], message: str) -> str:
        """A commit by someone else on ``branch`` (made from main when it does not exist)."""
        with self.lock:
            sha = self.repo.commit_files(branch, files, message)
            self.after_push()
            return sha

    def move_base(self, files: Mapping[str, str], message: str, *, base: str = "main") -> str:
        """The base branch moves on (pass the marked line's file for a conflicting edit)."""
        return self.human_push(base, files, message)

    # -- break it ---------------------------------------------------------------------------

    def inject(self, fault: Fault) -> None:
        with self.lock:
            self._faults.append(fault)

    def take_fault(self, op: Operation) -> Fault | None:
        with self.lock:
            for fault in self._faults:
                if fault.operation in ("", op.key, op.operation_id) and fault.times > 0:
                    fault.times -= 1
                    if fault.times == 0:
                        self._faults.remove(fault)
                    return fault
            return None

    # -- the fixture's verdict --------------------------------------------------------------

    def take_violations(self) -> list[Any]:
        """The violations so far, cleared: for tests that provoke them on purpose."""
        with self.lock:
            found = list(self.violations)  # type: ignore[attr-defined]
            self.violations.clear()  # type: ignore[attr-defined]
            return found

    def assert_clean(self) -> None:
        with self.lock:
            found = list(self.violations)  # type: ignore[attr-defined]
        if found:
            lines = "\n".join(f"  - {v}" for v in found)
            raise AssertionError(f"requests or replies broke the forge's description:\n{lines}")
