"""Redaction and push-conflict recognition in the one error-translation place."""

from __future__ import annotations

import git
import pytest

from image_automation.domain import MASK
from image_automation.errors import GitConflict, GitError
from image_automation.git import GitAuth
from image_automation.git._errors import Remote, is_push_conflict, redact, translating


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


HTTP = "https://git.example/fleet.git"
BASIC = GitAuth(username="bot", password="pw-1", secret_name="fleet")
TOKEN = GitAuth(bearer_token="tok-1", secret_name="fleet")
KEY = GitAuth(identity=b"KEY", known_hosts=b"h k", secret_name="ssh")


@pytest.mark.parametrize(
    ("url", "auth", "stderr", "expected"),
    [
        (HTTP, BASIC, f"fatal: Authentication failed for '{HTTP}/'",
         f"{HTTP} refused the credential of git secret 'fleet' "
         "(HTTP 401; check its username and password)"),
        (HTTP, TOKEN, "fatal: could not read Username for 'https://git.example': terminal "
         "prompts disabled",
         f"{HTTP} refused the credential of git secret 'fleet' (HTTP 401; check its bearerToken)"),
        (HTTP, TOKEN, f"fatal: unable to access '{HTTP}/': The requested URL returned error: 403",
         f"{HTTP} refused the credential of git secret 'fleet' "
         "(HTTP 403; it may lack access to this repository)"),
        (HTTP, GitAuth(bearer_token="t"), "fatal: Authentication failed for 'x'",
         f"{HTTP} refused the credential (HTTP 401; check its bearerToken)"),
        (HTTP, None, "fatal: could not read Username for 'https://git.example': terminal "
         "prompts disabled",
         f"{HTTP} asks for a credential (HTTP 401) and none is configured; "
         "give the repository a git secret"),
        ("ssh://git@h/a.git", KEY, "git@h: Permission denied (publickey).\nfatal: Could not",
         "ssh://git@h/a.git refused the SSH key of git secret 'ssh' "
         "(check its identity, and that the server knows its public key)"),
        (HTTP, TOKEN, "fatal: repository 'x' not found", None),
        (HTTP, TOKEN, "fatal: unable to access 'x': The requested URL returned error: 500", None),
        ("file:///srv/a.git", None, "fatal: Authentication failed for 'x'", None),
    ],
)  # fmt: skip
def test_a_refused_credential_is_one_line_naming_the_remote_and_secret(
    url: str, auth: GitAuth | None, stderr: str, expected: str | None
) -> None:
    assert Remote.of(url, auth).refusal(stderr) == expected


def test_trace_lines_a_user_turned_on_stay_out_of_the_message() -> None:
    stderr = (
        "00:57:09.437661 http.c:672  <= Recv header, 0000000002 bytes\n"
        "00:57:09.437670 http.c:725  == Info: Connection #0 to host left intact\n"
        "fatal: repository 'https://h/a.git/' not found"
    )
    with pytest.raises(GitError) as caught, translating("fetch"):
        raise git.GitCommandError(["git", "fetch"], 128, stderr, "")
    assert str(caught.value) == "fetch failed: fatal: repository 'https://h/a.git/' not found"
