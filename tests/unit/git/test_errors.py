"""Redaction and push-conflict recognition in the one error-translation place."""

from __future__ import annotations

import git
import pytest

from image_automation.domain import MASK
from image_automation.errors import GitConflict, GitError
from image_automation.git._errors import is_push_conflict, redact, translating


@pytest.mark.parametrize(
    ("text", "secrets", "expected"),
    [
        ("fatal: bad pw-1 here", ["pw-1"], f"fatal: bad {MASK} here"),
        ("https://bot:pw@host/a.git", [], f"https://bot:{MASK}@host/a.git"),
        ("Authorization: Bearer abc.def", [], f"Authorization: {MASK}"),
        ("nothing secret", ["", "zzz"], "nothing secret"),
    ],
)
def test_redact(text: str, secrets: list[str], expected: str) -> None:
    assert redact(text, secrets) == expected


@pytest.mark.parametrize(
    ("output", "conflict"),
    [
        ("! refs/heads/main:refs/heads/main [rejected] (fetch first)", True),
        ("! HEAD:refs/heads/main [rejected] (non-fast-forward)", True),
        ("! HEAD:refs/heads/x [rejected] (stale info)", True),
        ("! HEAD:refs/heads/main [remote rejected] (pre-receive hook declined)", False),
        ("fatal: Authentication failed", False),
    ],
)
def test_push_conflicts_are_recognised(output: str, conflict: bool) -> None:
    assert is_push_conflict(output) is conflict


def _failing(stdout: str, stderr: str) -> git.GitCommandError:
    return git.GitCommandError(["git", "push", "https://bot:pw-9@h/a"], 1, stderr, stdout)


def test_rejected_push_becomes_git_conflict_and_other_failures_git_error() -> None:
    with pytest.raises(GitConflict), translating("push", push=True):
        raise _failing("!\tHEAD:refs/heads/main\t[rejected] (fetch first)", "error: failed")
    with pytest.raises(GitError) as caught, translating("push", secrets=["pw-9"], push=True):
        raise _failing("", "fatal: Authentication failed for pw-9")
    assert "pw-9" not in str(caught.value)
    assert "pw-9" not in str(caught.value.__cause__)
    assert "push failed" in str(caught.value)
