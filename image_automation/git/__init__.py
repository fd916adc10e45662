"""Git adapter: clone cache, commit, push with retry; commit messages and pull-request
texts (pure).

Use :meth:`Workspace.open` to lock and prepare a cached checkout, then
:meth:`Workspace.publish` to apply, commit and push (retried when the remote moved).
"""

from image_automation.git._auth import GitAuth, check_url
from image_automation.git._checkout import absolute_local_url
from image_automation.git._marker_log import MAX_COMMITS as MAX_COMMITS_MARKED
from image_automation.git._marker_log import (
    MarkedCommit,
    MarkedLine,
    MarkedLog,
    marked_lines_at,
    marked_log,
)
from image_automation.git._options import CommitSettings, PublishResult, PushSettings, RepoSpec
from image_automation.git._signing import SigningKey
from image_automation.git.messages import DEFAULT_TEMPLATE, MessageTemplateError, render_message
from image_automation.git.pull_requests import (
    Checkboxes,
    ImageProvenance,
    PullRequestContent,
    PullRequestTemplateError,
    RenderedPullRequest,
    owned_by,
    read_checkboxes,
    render_pull_request,
)
from image_automation.git.workspace import Apply, BranchHeads, Workspace, cache_key

__all__ = [
    "DEFAULT_TEMPLATE",
    "MAX_COMMITS_MARKED",
    "Apply",
    "BranchHeads",
    "Checkboxes",
    "CommitSettings",
    "GitAuth",
    "ImageProvenance",
    "MarkedCommit",
    "MarkedLine",
    "MarkedLog",
    "MessageTemplateError",
    "PublishResult",
    "PullRequestContent",
    "PullRequestTemplateError",
    "PushSettings",
    "RenderedPullRequest",
    "RepoSpec",
    "SigningKey",
    "Workspace",
    "absolute_local_url",
    "cache_key",
    "check_url",
    "marked_lines_at",
    "marked_log",
    "owned_by",
    "read_checkboxes",
    "render_message",
    "render_pull_request",
]
