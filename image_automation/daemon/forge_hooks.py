"""Forge webhooks: is this request really from the forge, and which pull request changed how?

A pull request we opened that is closed, merged, reopened, edited or pushed to should wake its
automation at once instead of at its next interval. Each forge proves a delivery its own way
(facts from each forge's webhook documentation):

===========  ==========================================  ====================================
provider     proof                                       pull-request event
===========  ==========================================  ====================================
github       ``X-Hub-Signature-256: sha256=<hex HMAC>``  ``X-GitHub-Event: pull_request``
gitlab       ``X-Gitlab-Token`` equals the secret        ``X-Gitlab-Event: Merge Request Hook``
gitea        ``X-Gitea-Signature: <hex HMAC>``           ``X-Gitea-Event: pull_request``
forgejo      ``X-Forgejo-Signature`` (or the Gitea one)  ``X-Forgejo-Event`` (or the Gitea one)
bitbucket    ``X-Hub-Signature: sha256=<hex HMAC>``      ``X-Event-Key: pullrequest:*``
azuredevops  HTTP basic auth, password = the secret      body ``eventType: git.pullrequest.*``
===========  ==========================================  ====================================

HMACs are HMAC-SHA256 of the raw body keyed by the secret; every comparison is constant-time.
The proof is checked before the body is parsed. A verified body is parsed defensively: it is
bounded in depth, must be UTF-8 JSON, and every field read is type-checked, so a hostile
payload yields ``MALFORMED`` and never an exception. Pure: no I/O, no clock.
"""

from __future__ import annotations

import base64
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from urllib.parse import unquote, urlsplit

from image_automation.daemon._payloads import (
    MAX_TEXT,
    Malformed,
    dig,
    field_flag,
    field_number,
    field_object,
    field_text,
    load_object,
)
from image_automation.daemon._repo_events import azure_push, bitbucket, github_style, gitlab
from image_automation.daemon.hooks import Verdict, hmac_hex, same_text

PROVIDERS = ("github", "gitlab", "gitea", "forgejo", "bitbucket", "azuredevops")


class PullRequestAction(enum.StrEnum):
    """What happened to the pull request, the same words on every forge."""

    OPENED = "opened"
    CLOSED = "closed"
    """Closed without merging (GitLab close, Bitbucket declined, Azure abandoned)."""
    MERGED = "merged"
    REOPENED = "reopened"
    EDITED = "edited"
    """Title, body or base changed (``body_edited`` says whether the body may have)."""
    SYNCHRONIZED = "synchronized"
    """New commits on the head branch (Azure: any other update of an active request)."""
    PUSHED = "pushed"
    """Not a pull request: ``base_branch`` moved to ``sha`` (a merge into a stage, say)."""
    STATUS = "status"
    """Not a pull request: a commit status or check of ``sha`` changed."""


@dataclass(frozen=True, slots=True)
class ForgeEvent:
    """A verified pull-request event. ``repository`` is the forge's path form: ``org/fleet``,
    ``group/sub/project``, ``workspace/slug``, Azure ``org/project/_git/repo``."""

    provider: str
    repository: str
    number: int
    head_branch: str
    base_branch: str
    action: PullRequestAction
    body_edited: bool = False
    """The description may have changed: re-read it (its checkboxes)."""
    sha: str = ""
    """For ``pushed`` and ``status`` (``number`` is 0 then): the commit."""

    def describe(self) -> str:
        """One line for a log: which pull request, or which branch or commit."""
        if self.action is PullRequestAction.PUSHED:
            return f"{self.repository} push to {self.base_branch} ({self.sha[:12]})"
        if self.action is PullRequestAction.STATUS:
            return f"{self.repository} checks of {self.sha[:12]}"
        return (
            f"{self.repository} pull request {self.number} ({self.head_branch} -> "
            f"{self.base_branch}) {self.action}"
        )


@dataclass(frozen=True, slots=True)
class ForgeEventCheck:
    """The verdict; ``event`` is set exactly when it is ``ACCEPTED``."""

    verdict: Verdict
    reason: str = ""
    event: ForgeEvent | None = None


def verify_forge_event(
    provider: str, *, secret: str, headers: Mapping[str, str], body: bytes
) -> ForgeEventCheck:
    """Apply ``provider``'s proof, then parse a pull-request event. Never raises.

    ``headers`` must look up names case-insensitively (aiohttp's headers do).
    """
    rule = _RULES.get(provider)
    if rule is None:
        return ForgeEventCheck(Verdict.UNAUTHORIZED, f"unknown forge provider {_shown(provider)}")
    if not secret:
        return ForgeEventCheck(Verdict.UNAUTHORIZED, "no secret configured")
    try:
        return rule(secret, headers, body)
    except Malformed as exc:
        return ForgeEventCheck(Verdict.MALFORMED, str(exc))


def _refused(why: str) -> ForgeEventCheck:
    return ForgeEventCheck(Verdict.UNAUTHORIZED, why)


def _ignored(why: str) -> ForgeEventCheck:
    return ForgeEventCheck(Verdict.IGNORED, why)


def _shown(text: str | None) -> str:
    """A header value as a log line may carry it: quoted, at most 40 characters."""
    return "none" if text is None else repr(text[:40])


# -- proofs ----------------------------------------------------------------------------------


def _hmac_header(header: str | None, expected: str) -> bool:
    return header is not None and same_text(expected, header.strip().lower())


def _basic_password(header: str | None, secret: str) -> bool:
    """``Authorization: Basic base64(user:password)`` with any user and the secret."""
    if header is None:
        return False
    scheme, _, value = header.strip().partition(" ")
    if scheme.lower() != "basic":
        return False
    try:
        decoded = base64.b64decode(value.strip(), validate=True).decode("utf-8")
    except ValueError:  # binascii.Error, non-ASCII input and UnicodeDecodeError alike
        return False
    _, sep, password = decoded.partition(":")
    return bool(sep) and same_text(secret, password)


def _repo_event(provider: str, found: tuple[str, str, str, str] | None) -> ForgeEventCheck:
    """A push or commit-status event (for promotions), or ignored when it moves no branch."""
    if found is None:
        return _ignored("an event that moves no branch")
    action, repository, branch, sha = found
    kind = PullRequestAction.PUSHED if action == "pushed" else PullRequestAction.STATUS
    event = ForgeEvent(provider, repository, 0, "", branch, kind, sha=sha)
    return ForgeEventCheck(Verdict.ACCEPTED, event.describe(), event)


def _accepted(
    provider: str,
    *,
    repository: str,
    number: int,
    head: str,
    base: str,
    action: PullRequestAction,
    body_edited: bool = False,
) -> ForgeEventCheck:
    event = ForgeEvent(provider, repository, number, head, base, action, body_edited)
    return ForgeEventCheck(Verdict.ACCEPTED, f"pull request {number} {action}", event)


# -- forges ----------------------------------------------------------------------------------

_GITHUB_ACTIONS = {
    "opened": PullRequestAction.OPENED,
    "reopened": PullRequestAction.REOPENED,
    "closed": PullRequestAction.CLOSED,
    "edited": PullRequestAction.EDITED,
    "synchronize": PullRequestAction.SYNCHRONIZED,  # GitHub's word
    "synchronized": PullRequestAction.SYNCHRONIZED,  # Gitea's and Forgejo's
}


def _github_style(provider: str, payload: dict[str, object]) -> ForgeEventCheck:
    """The ``pull_request`` payload GitHub sends and Gitea/Forgejo mirror."""
    name = field_text(payload, "action")
    action = _GITHUB_ACTIONS.get(name)
    if action is None:
        return _ignored(f"pull request action {_shown(name)}")
    pull = field_object(payload, "pull_request")
    if action is PullRequestAction.CLOSED and field_flag(pull, "merged"):
        action = PullRequestAction.MERGED
    return _accepted(
        provider,
        repository=field_text(payload, "repository", "full_name"),
        number=field_number(payload, "number"),
        head=field_text(pull, "head", "ref"),
        base=field_text(pull, "base", "ref"),
        action=action,
        body_edited=action is PullRequestAction.EDITED
        and isinstance(dig(payload, "changes", "body"), dict),
    )


def _github(secret: str, headers: Mapping[str, str], body: bytes) -> ForgeEventCheck:
    signature = headers.get("X-Hub-Signature-256")
    if signature is None:
        return _refused("missing X-Hub-Signature-256 header")
    if not _hmac_header(signature, "sha256=" + hmac_hex(secret, body)):
        return _refused("X-Hub-Signature-256 does not match")
    event = headers.get("X-GitHub-Event")
    if event in _REPO_EVENTS:
        return _repo_event("github", github_style(event, load_object(body)))
    if event != "pull_request":
        return _ignored(f"event {_shown(event)}")
    return _github_style("github", load_object(body))


_REPO_EVENTS = ("push", "status", "check_run", "check_suite")


def _gitea_rule(provider: str, names: tuple[str, ...]) -> _Rule:
    """Gitea signs with ``X-Gitea-*`` headers; Forgejo adds ``X-Forgejo-*`` and keeps both."""

    def rule(secret: str, headers: Mapping[str, str], body: bytes) -> ForgeEventCheck:
        signature = next((h for n in names if (h := headers.get(f"X-{n}-Signature"))), None)
        if signature is None:
            return _refused(f"missing X-{names[0]}-Signature header")
        if not _hmac_header(signature, hmac_hex(secret, body)):
            return _refused(f"X-{names[0]}-Signature does not match")
        event = next((h for n in names if (h := headers.get(f"X-{n}-Event"))), None)
        if event in ("push", "status"):
            return _repo_event(provider, github_style(event, load_object(body)))
        if event != "pull_request":
            return _ignored(f"event {_shown(event)}")
        return _github_style(provider, load_object(body))

    return rule


_GITLAB_ACTIONS = {
    "open": PullRequestAction.OPENED,
    "reopen": PullRequestAction.REOPENED,
    "close": PullRequestAction.CLOSED,
    "merge": PullRequestAction.MERGED,
    "update": PullRequestAction.EDITED,
}


def _gitlab(secret: str, headers: Mapping[str, str], body: bytes) -> ForgeEventCheck:
    token = headers.get("X-Gitlab-Token")
    if token is None or not same_text(secret, token):
        return _refused("X-Gitlab-Token does not match")
    event = headers.get("X-Gitlab-Event")
    if event in ("Push Hook", "Pipeline Hook"):
        return _repo_event("gitlab", gitlab(event, load_object(body)))
    if event not in ("Merge Request Hook", "System Hook"):
        return _ignored(f"event {_shown(event)}")
    payload = load_object(body)
    if payload.get("object_kind") != "merge_request":
        if event == "System Hook":
            return _ignored("system hook that is not about a merge request")
        raise Malformed("object_kind is not merge_request")
    attributes = field_object(payload, "object_attributes")
    name = field_text(attributes, "action")
    action = _GITLAB_ACTIONS.get(name)
    if action is None:
        return _ignored(f"merge request action {_shown(name)}")
    # An update that moved the source branch carries the previous head as ``oldrev``.
    if action is PullRequestAction.EDITED and isinstance(attributes.get("oldrev"), str):
        action = PullRequestAction.SYNCHRONIZED
    return _accepted(
        "gitlab",
        repository=field_text(payload, "project", "path_with_namespace"),
        number=field_number(attributes, "iid"),
        head=field_text(attributes, "source_branch"),
        base=field_text(attributes, "target_branch"),
        action=action,
        body_edited=isinstance(dig(payload, "changes", "description"), dict),
    )


_BITBUCKET_EVENTS = {
    "pullrequest:created": PullRequestAction.OPENED,
    "pullrequest:updated": PullRequestAction.EDITED,
    "pullrequest:fulfilled": PullRequestAction.MERGED,
    "pullrequest:rejected": PullRequestAction.CLOSED,
}


def _bitbucket(secret: str, headers: Mapping[str, str], body: bytes) -> ForgeEventCheck:
    signature = headers.get("X-Hub-Signature")
    if signature is None:
        return _refused("missing X-Hub-Signature header")
    if not _hmac_header(signature, "sha256=" + hmac_hex(secret, body)):
        return _refused("X-Hub-Signature does not match")
    key = headers.get("X-Event-Key")
    action = _BITBUCKET_EVENTS.get(key or "")
    if key in ("repo:push", "repo:commit_status_created", "repo:commit_status_updated"):
        return _repo_event("bitbucket", bitbucket(key, load_object(body)))
    if action is None:
        return _ignored(f"event {_shown(key)}")
    payload = load_object(body)
    pull = field_object(payload, "pullrequest")
    return _accepted(
        "bitbucket",
        repository=field_text(payload, "repository", "full_name"),
        number=field_number(pull, "id"),
        head=field_text(pull, "source", "branch", "name"),
        base=field_text(pull, "destination", "branch", "name"),
        action=action,
        # ``pullrequest:updated`` does not say what changed: the body may have.
        body_edited=action is PullRequestAction.EDITED,
    )


def _azure_action(event_type: str, status: str) -> PullRequestAction | None:
    """Azure names the state in ``resource.status``. ``git.pullrequest.merged`` is a merge
    *attempt* (also made for every push to an active request): merged only when completed."""
    if event_type == "git.pullrequest.created":
        return PullRequestAction.OPENED
    if status == "completed":
        return PullRequestAction.MERGED
    if event_type == "git.pullrequest.updated":
        return {
            "abandoned": PullRequestAction.CLOSED,
            "active": PullRequestAction.SYNCHRONIZED,
        }.get(status)
    return None


def _azure(secret: str, headers: Mapping[str, str], body: bytes) -> ForgeEventCheck:
    if not _basic_password(headers.get("Authorization"), secret):
        return _refused("basic auth password does not match")
    payload = load_object(body)
    event_type = payload.get("eventType")
    if not isinstance(event_type, str):
        raise Malformed("eventType is missing or not a string")
    if event_type == "git.push":
        resource = field_object(payload, "resource")
        pushed = azure_push(resource)
        found = ("pushed", _azure_repository(resource), *pushed) if pushed else None
        return _repo_event("azuredevops", found)
    if event_type not in ("git.pullrequest.created", "git.pullrequest.updated",
                          "git.pullrequest.merged"):  # fmt: skip
        return _ignored(f"event {_shown(event_type)}")
    resource = field_object(payload, "resource")
    status = field_text(resource, "status")
    action = _azure_action(event_type, status)
    if action is None:
        return _ignored(f"{event_type} with status {_shown(status)}")
    return _accepted(
        "azuredevops",
        repository=_azure_repository(resource),
        number=field_number(resource, "pullRequestId"),
        head=field_text(resource, "sourceRefName").removeprefix("refs/heads/"),
        base=field_text(resource, "targetRefName").removeprefix("refs/heads/"),
        action=action,
    )


def _azure_repository(resource: dict[str, object]) -> str:
    """``org/project/_git/repo``: names from the payload, the organisation (or Azure DevOps
    Server collection) from the repository's URL, which is the only place that has it."""
    name = field_text(resource, "repository", "name")
    project = field_text(resource, "repository", "project", "name")
    for key in ("remoteUrl", "url"):
        url = dig(resource, "repository", key)
        org = _azure_org(url) if isinstance(url, str) and len(url) <= 2 * MAX_TEXT else None
        if org:
            return f"{org}/{project}/_git/{name}"
    raise Malformed("resource.repository has no URL naming its organisation")


def _azure_org(url: str) -> str | None:
    try:
        parts = urlsplit(url)
        host = (parts.hostname or "").lower()
    except ValueError:
        return None
    segments = [unquote(s) for s in parts.path.split("/") if s]
    if host.endswith(".visualstudio.com"):
        return host.split(".", 1)[0]
    if host == "dev.azure.com":
        return segments[0] if segments else None
    # Azure DevOps Server: .../<collection>/<project>/_git/<repo> or .../<collection>/_apis/...
    for marker, offset in (("_git", 2), ("_apis", 1)):
        if marker in segments and segments.index(marker) >= offset:
            return segments[segments.index(marker) - offset]
    return None


_Rule = Callable[[str, Mapping[str, str], bytes], ForgeEventCheck]
_RULES: dict[str, _Rule] = {
    "github": _github,
    "gitlab": _gitlab,
    "gitea": _gitea_rule("gitea", ("Gitea",)),
    "forgejo": _gitea_rule("forgejo", ("Forgejo", "Gitea")),
    "bitbucket": _bitbucket,
    "azuredevops": _azure,
}

__all__ = [
    "PROVIDERS",
    "ForgeEvent",
    "ForgeEventCheck",
    "PullRequestAction",
    "verify_forge_event",
]
