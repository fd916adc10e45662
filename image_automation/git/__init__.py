"""Git adapter: clone cache, commit, push with retry; commit messages (pure).

Use :meth:`Workspace.open` to lock and prepare a cached checkout, then
:meth:`Workspace.publish` to apply, commit and push (retried when the remote moved).
"""

from image_automation.git._auth import GitAuth
from image_automation.git._checkout import absolute_local_url
from image_automation.git._options import CommitSettings, PublishResult, PushSettings, RepoSpec
from image_automation.git._signing import SigningKey
from image_automation.git.messages import DEFAULT_TEMPLATE, MessageTemplateError, render_message
from image_automation.git.workspace import Apply, BranchHeads, Workspace

__all__ = [
    "DEFAULT_TEMPLATE",
    "Apply",
    "BranchHeads",
    "CommitSettings",
    "GitAuth",
    "MessageTemplateError",
    "PublishResult",
    "PushSettings",
    "RepoSpec",
    "SigningKey",
    "Workspace",
    "absolute_local_url",
    "render_message",
]
