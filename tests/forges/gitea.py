"""Fake Gitea and fake Forgejo (``/api/v1``): one module, two descriptions, two flavours.

What the two share and where they differ is what their own descriptions say: Gitea merges with
``{"do": ...}``, Forgejo with ``{"Do": ...}``; Forgejo has no ``issues/{index}/assignees``
(assignees go through ``PATCH pulls/{index}``) but filters the PR list by ``head``. Both answer
an edit with 201 (Gitea's code has "TODO this should be 200"), refuse a second unmerged PR for
the same head and base with 409, take labels by repository label id (``GET /labels`` maps names;
the catalog starts with a few names, ``add_label`` adds one), and treat a title starting
``WIP:`` or ``[WIP]`` as a draft. Auto-merge is ``merge_when_checks_succeed`` on the merge call,
cancelled with ``DELETE .../merge``.
"""

from __future__ import annotations

from typing import Any, ClassVar

from tests.forges.gitea_ops import GiteaOps
from tests.forges.server import Call, FakeForge, Reply, paginate
from tests.forges.state import Comment, PullRequest, Status

_R = "/repos/{owner}/{repo}"
_WIP = ("WIP:", "[WIP]")
DEFAULT_LABELS = ("automation", "dependencies", "image-update", "automerge")


def _drop_none(value: Any) -> Any:
    """Gitea's Swagger 2 description has no ``nullable``: where the server would send null
    (``closed_at``, ``merged_by``, ``milestone`` ...) the fake leaves the field out."""
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


class GiteaFake(GiteaOps, FakeForge):
    provider = "gitea"
    spec_name = "gitea"
    api_prefix = "/api/v1"
    merge_do_field = "do"
    routes: ClassVar[dict[str, str]] = {
        f"GET {_R}": "get_repo",
        f"GET {_R}/pulls": "list_pulls",
        f"POST {_R}/pulls": "create_pull",
        f"GET {_R}/pulls/{{base}}/{{head}}": "get_by_base_head",
        f"GET {_R}/pulls/{{index}}": "get_pull",
        f"PATCH {_R}/pulls/{{index}}": "edit_pull",
        f"POST {_R}/pulls/{{index}}/merge": "merge_api",
        f"DELETE {_R}/pulls/{{index}}/merge": "cancel_auto_merge",
        f"POST {_R}/pulls/{{index}}/requested_reviewers": "request_reviewers",
        f"GET {_R}/issues/{{index}}/comments": "list_comments",
        f"POST {_R}/issues/{{index}}/comments": "create_comment",
        f"PATCH {_R}/issues/comments/{{id}}": "edit_comment",
        f"GET {_R}/labels": "list_labels",
        f"POST {_R}/issues/{{index}}/labels": "add_labels",
        f"PUT {_R}/issues/{{index}}/labels": "replace_labels",
        f"POST {_R}/issues/{{index}}/assignees": "add_assignees",
        f"GET {_R}/commits/{{ref}}/status": "combined_status",
        f"GET {_R}/commits/{{ref}}/statuses": "list_statuses",
        f"GET {_R}/statuses/{{sha}}": "list_statuses",
        f"GET {_R}/branches/{{branch}}": "get_branch",
        f"DELETE {_R}/branches/{{branch}}": "delete_branch",
        f"GET {_R}/git/refs/{{ref}}": "list_refs",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.labels_catalog = {name: i + 1 for i, name in enumerate(DEFAULT_LABELS)}
        self.users = {self.bot_user, "a-human", "alice", "bob", "carol"}

    def add_label(self, name: str) -> int:
        with self.lock:
            return self.labels_catalog.setdefault(name, len(self.labels_catalog) + 1)

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message, "url": f"{self.base_url}/api/swagger"}

    def refusal_reply(self, call: Call, refusal: Any) -> Reply:
        status = {"exists": 409, "sha": 409, "conflict": 405, "not-open": 405}.get(refusal.kind)
        if status == 405:
            return Reply(405)  # the description's 405 is "empty"
        return Reply(status or 422, self.error_body(status or 422, refusal.message))

    # -- rendering --------------------------------------------------------------------------

    def _schema(self, name: str, value: Any) -> Any:
        return self.filler.fill({"$ref": f"#/components/schemas/{name}"}, _drop_none(value))

    def user(self, login: str) -> dict[str, Any]:
        return {
            "id": sum(map(ord, login)),
            "login": login,
            "login_name": login,
            "full_name": login,
            "email": f"{login}@forge.invalid",
            "avatar_url": f"{self.base_url}/avatars/{login}",
            "html_url": f"{self.base_url}/{login}",
            "created": "2026-01-01T00:00:00Z",
        }

    def repo_json(self) -> Any:
        owner, name = self.repository.split("/")
        return self._schema(
            "Repository",
            {
                "id": 4242,
                "name": name,
                "full_name": self.repository,
                "owner": self.user(owner),
                "default_branch": "main",
                "html_url": self.web_url(),
                "clone_url": self.git_url,
                "private": True,
                "has_pull_requests": True,
                "allow_merge_commits": True,
                "allow_squash_merge": True,
                "allow_rebase": True,
                "empty": False,
            },
        )

    def label_json(self, name: str) -> Any:
        label_id = self.labels_catalog[name]
        return self._schema(
            "Label",
            {
                "id": label_id,
                "name": name,
                "color": "ededed",
                "description": "",
                "exclusive": False,
                "is_archived": False,
                "url": f"{self.api_url}/repos/{self.repository}/labels/{label_id}",
            },
        )

    def pr_json(self, pr: PullRequest) -> Any:
        sha = self.head_sha(pr)
        repo = self.repo_json()
        value = {
            "id": 500 + pr.number,
            "number": pr.number,
            "title": pr.title,
            "body": pr.body,
            "state": "open" if pr.state == "open" else "closed",
            "user": self.user(pr.author),
            "labels": [self.label_json(n) for n in pr.labels],
            "assignee": self.user(pr.assignees[0]) if pr.assignees else None,
            "assignees": [self.user(a) for a in pr.assignees],
            "requested_reviewers": [self.user(r) for r in pr.reviewers],
            "head": {"label": pr.head, "ref": pr.head, "sha": sha, "repo_id": 4242, "repo": repo},
            "base": {
                "label": pr.base,
                "ref": pr.base,
                "sha": self.repo.sha(pr.base) or "",
                "repo_id": 4242,
                "repo": repo,
            },
            "merged": pr.state == "merged",
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "merged_by": self.user(pr.merged_by) if pr.merged_by else None,
            "mergeable": self.mergeable(pr),
            "draft": pr.title.startswith(_WIP),
            "html_url": self.web_url(f"/pulls/{pr.number}"),
            "url": self.web_url(f"/pulls/{pr.number}"),
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "closed_at": pr.closed_at,
            "comments": len(pr.comments),
            "is_locked": False,
            "milestone": None,
        }
        return self._schema("PullRequest", value)

    def comment_json(self, pr: PullRequest, comment: Comment) -> Any:
        return self._schema(
            "Comment",
            {
                "id": comment.id,
                "body": comment.body,
                "user": self.user(comment.author),
                "created_at": comment.created_at,
                "updated_at": comment.updated_at,
                "html_url": self.web_url(f"/pulls/{pr.number}#issuecomment-{comment.id}"),
                "issue_url": self.web_url(f"/issues/{pr.number}"),
                "pull_request_url": self.web_url(f"/pulls/{pr.number}"),
            },
        )

    def status_json(self, status: Status) -> Any:
        return self._schema(
            "CommitStatus",
            {
                "id": status.id,
                "context": status.context,
                "status": status.state,
                "description": status.description,
                "target_url": status.target_url,
                "created_at": status.created_at,
                "updated_at": status.created_at,
                "url": f"{self.api_url}/repos/{self.repository}/statuses/{status.sha}",
                "creator": self.user(self.bot_user),
            },
        )

    # -- helpers ----------------------------------------------------------------------------

    def _repo_or_404(self, call: Call) -> None:
        if f"{call.params.get('owner')}/{call.params.get('repo')}" != self.repository:
            raise self.fail(404, "repository does not exist")

    def _pr(self, call: Call) -> PullRequest:
        self._repo_or_404(call)
        pr = self.pulls.get(int(call.params["index"]))
        if pr is None:
            raise self.fail(404, "pull request does not exist")
        return pr

    def _page(self, call: Call, items: list[Any]) -> Reply:
        size = min(int(call.arg("limit") or self.page_size_default), 50)
        page = int(call.arg("page") or 1)
        chunk, last = paginate(items, page=page, size=size)
        headers = {"X-Total-Count": str(len(items))}
        if page < last:
            base = self.api_url + call.op.template.format(**call.params)
            headers["Link"] = f'<{base}?page={page + 1}&limit={size}>; rel="next", ' + (
                f'<{base}?page={last}&limit={size}>; rel="last"'
            )
        return Reply(200, chunk, headers)

    def _labels_from(self, items: list[Any]) -> list[str]:
        by_id = {i: n for n, i in self.labels_catalog.items()}
        names = [by_id.get(i) if isinstance(i, int) else str(i) for i in items]
        return [n for n in names if n in self.labels_catalog]  # unknown ones are ignored


class ForgejoFake(GiteaFake):
    provider = "forgejo"
    spec_name = "forgejo"
    merge_do_field = "Do"
    routes: ClassVar[dict[str, str]] = {
        k: v for k, v in GiteaFake.routes.items() if not k.endswith("/assignees")
    }
