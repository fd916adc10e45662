"""A forge's push and commit-status events, for promotions: something moved in a stage.

A promotion waits on Git (a merge into a stage, a human's revert) and on checks (a commit
status turning green on the previous stage's commit). Besides the pull-request events of
:mod:`image_automation.daemon.forge_hooks`, a verified delivery may therefore be:

===========  =======================================  ========================================
provider     push                                     commit status / check
===========  =======================================  ========================================
github       ``push`` (``ref``, ``after``)            ``status`` (``sha``), ``check_run`` and
                                                      ``check_suite`` (``head_sha``)
gitlab       ``Push Hook`` (``ref``, ``after``)       ``Pipeline Hook``
                                                      (``object_attributes.sha``)
gitea        ``push`` (as GitHub's)                   ``status`` (``sha``)
forgejo      ``push``                                 ``status``
bitbucket    ``repo:push`` (``push.changes[].new``)   ``repo:commit_status_created``/``_updated``
azuredevops  ``git.push`` (``resource.refUpdates``)   (none)
===========  =======================================  ========================================

Each becomes a :class:`~image_automation.daemon.forge_hooks.ForgeEvent` with action
``pushed`` (``base_branch`` the branch, ``sha`` its new head) or ``status`` (``sha``; the
branch when the forge names one). Parsed as defensively as pull-request events (bounded,
type-checked; ``Malformed`` otherwise). Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable

from image_automation.daemon._payloads import Malformed, dig, field_object, field_text

_SHA_CHARS = frozenset("0123456789abcdef")

Make = Callable[..., object]


def _sha(value: str) -> str:
    if len(value) not in (40, 64) or not set(value) <= _SHA_CHARS:
        raise Malformed("the commit id is not a hex sha")
    return value


def _branch(ref: str) -> str | None:
    """``refs/heads/x`` → ``x``; tags and other refs → None (they move no stage)."""
    return ref.removeprefix("refs/heads/") if ref.startswith("refs/heads/") else None


def github_style(event: str, payload: dict[str, object]) -> tuple[str, str, str, str] | None:
    """(action, repository, branch, sha) of a GitHub/Gitea/Forgejo push or status event."""
    if event == "push":
        branch = _branch(field_text(payload, "ref"))
        if branch is None:
            return None
        repository = field_text(payload, "repository", "full_name")
        return ("pushed", repository, branch, _sha(field_text(payload, "after")))
    if event == "status":
        repository = field_text(payload, "repository", "full_name")
        return ("status", repository, "", _sha(field_text(payload, "sha")))
    if event in ("check_run", "check_suite"):
        if dig(payload, "action") != "completed":
            return None
        item = field_object(payload, event)
        head = item.get("head_branch")
        name = head if isinstance(head, str) and len(head) <= 255 else ""
        repository = field_text(payload, "repository", "full_name")
        return ("status", repository, name, _sha(field_text(item, "head_sha")))
    return None


def gitlab(event: str, payload: dict[str, object]) -> tuple[str, str, str, str] | None:
    repository = field_text(payload, "project", "path_with_namespace")
    if event == "Push Hook":
        branch = _branch(field_text(payload, "ref"))
        if branch is None:
            return None
        return ("pushed", repository, branch, _sha(field_text(payload, "after")))
    if event == "Pipeline Hook":
        attributes = field_object(payload, "object_attributes")
        ref = attributes.get("ref")
        branch = (
            ref if isinstance(ref, str) and len(ref) <= 255 and not attributes.get("tag") else ""
        )
        return ("status", repository, branch, _sha(field_text(attributes, "sha")))
    return None


def bitbucket(key: str, payload: dict[str, object]) -> tuple[str, str, str, str] | None:
    repository = field_text(payload, "repository", "full_name")
    if key == "repo:push":
        changes = dig(payload, "push", "changes")
        if not isinstance(changes, list):
            raise Malformed("push.changes is missing or not a list")
        for change in changes[:50]:
            new = dig(change, "new")
            if isinstance(new, dict) and new.get("type") == "branch":
                name = field_text(new, "name")
                return ("pushed", repository, name, _sha(field_text(new, "target", "hash")))
        return None
    if key in ("repo:commit_status_created", "repo:commit_status_updated"):
        status = field_object(payload, "commit_status")
        refname = status.get("refname")
        branch = refname if isinstance(refname, str) and len(refname) <= 255 else ""
        return ("status", repository, branch, _sha(field_text(status, "commit", "hash")))
    return None


def azure_push(resource: dict[str, object]) -> tuple[str, str] | None:
    """(branch, sha) of the first branch an Azure DevOps ``git.push`` moved."""
    updates = resource.get("refUpdates")
    if not isinstance(updates, list):
        raise Malformed("resource.refUpdates is missing or not a list")
    for update in updates[:50]:
        branch = _branch(field_text(update, "name"))
        if branch is not None:
            return branch, _sha(field_text(update, "newObjectId"))
    return None


__all__ = ["azure_push", "bitbucket", "github_style", "gitlab"]
