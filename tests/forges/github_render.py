"""GitHub's reply shapes for the fake (``pull-request``, ``issue-comment``, ``status`` ...).

Only the fields that carry the fake's state are written here; :class:`~tests.forges.skeleton.
Filler` completes each object from the official schema, and the reply is validated after.
"""

from __future__ import annotations

from typing import Any

from tests.forges.state import CheckRun, Comment, PullRequest, Status

_STATUS_STATE = {"success": "success", "pending": "pending", "failure": "failure"}
_CHECK_CONCLUSION = {"success": "success", "failure": "failure", "pending": None}


class GitHubRender:
    """Mixed into the GitHub fake: needs ``filler``, ``api_url``, ``repository`` and state."""

    filler: Any
    api_url: str
    repository: str
    labels_catalog: dict[str, int]

    def _schema(self, name: str, value: dict[str, Any]) -> Any:
        return self.filler.fill({"$ref": f"#/components/schemas/{name}"}, value)

    def user(self, login: str) -> dict[str, Any]:
        uid = sum(ord(c) for c in login) + 1000
        return {
            "login": login,
            "id": uid,
            "node_id": f"U_{login}",
            "type": "Bot" if login.endswith("bot") else "User",
            "url": f"{self.api_url}/users/{login}",
            "html_url": f"{self.api_url.rsplit('/api/', 1)[0]}/{login}",
            "site_admin": False,
        }

    def repo_json(self, *, full: bool = False) -> Any:
        owner, name = self.repository.split("/")
        value = {
            "id": 4242,
            "node_id": "R_fake4242",
            "name": name,
            "full_name": self.repository,
            "owner": self.user(owner),
            "private": True,
            "url": f"{self.api_url}/repos/{self.repository}",
            "default_branch": "main",
            "allow_auto_merge": True,
            "allow_merge_commit": True,
            "allow_squash_merge": True,
            "allow_rebase_merge": True,
            "license": None,
        }
        return self._schema("full-repository" if full else "repository", value)

    def label_json(self, name: str) -> dict[str, Any]:
        label_id = self.labels_catalog.setdefault(name, len(self.labels_catalog) + 1)
        return {
            "id": label_id,
            "node_id": f"LA_{label_id}",
            "url": f"{self.api_url}/repos/{self.repository}/labels/{name}",
            "name": name,
            # pull-request-simple (the requested_reviewers reply) declares a plain string here
            # where pull-request allows null: "" is valid in both.
            "description": "",
            "color": "ededed",
            "default": False,
        }

    def pr_json(self, pr: PullRequest, *, sha: str, mergeable: bool | None, simple: bool) -> Any:
        repo = self.repo_json()
        base_url = f"{self.api_url}/repos/{self.repository}"
        owner = self.repository.split("/")[0]
        value: dict[str, Any] = {
            "url": f"{base_url}/pulls/{pr.number}",
            "id": 900000 + pr.number,
            "node_id": pr.node_id,
            "html_url": f"{self.api_url.rsplit('/api/', 1)[0]}/{self.repository}/pull/{pr.number}",
            "number": pr.number,
            "state": "open" if pr.state == "open" else "closed",
            "locked": False,
            "title": pr.title,
            "body": pr.body or None,
            "user": self.user(pr.author),
            "labels": [self.label_json(n) for n in pr.labels],
            "milestone": None,
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "closed_at": pr.closed_at,
            "merged_at": pr.merged_at,
            "merge_commit_sha": pr.merge_commit_sha,
            "assignee": self.user(pr.assignees[0]) if pr.assignees else None,
            "assignees": [self.user(a) for a in pr.assignees],
            "requested_reviewers": [self.user(r) for r in pr.reviewers],
            "requested_teams": [],
            "head": {
                "label": f"{owner}:{pr.head}",
                "ref": pr.head,
                "sha": sha,
                "user": self.user(owner),
                "repo": repo,
            },
            "base": {
                "label": f"{owner}:{pr.base}",
                "ref": pr.base,
                "sha": self.base_sha(pr),
                "user": self.user(owner),
                "repo": repo,
            },
            "author_association": "NONE",
            "auto_merge": self.auto_merge_json(pr),
            "draft": pr.draft,
        }
        if not simple:
            value |= {
                "merged": pr.state == "merged",
                "mergeable": mergeable,
                "rebaseable": mergeable,
                "mergeable_state": self.mergeable_state(pr, mergeable),
                "merged_by": self.user(pr.merged_by) if pr.merged_by else None,
                "comments": len(pr.comments),
                "review_comments": 0,
                "maintainer_can_modify": False,
                "commits": 1,
                "additions": 0,
                "deletions": 0,
                "changed_files": 0,
            }
        return self._schema("pull-request-simple" if simple else "pull-request", value)

    def base_sha(self, pr: PullRequest) -> str:
        raise NotImplementedError

    def mergeable_state(self, pr: PullRequest, mergeable: bool | None) -> str:
        raise NotImplementedError

    def auto_merge_json(self, pr: PullRequest) -> Any:
        if pr.auto_merge is None:
            return None
        return {
            "enabled_by": self.user(pr.auto_merge_by or "automation-bot"),
            "merge_method": pr.auto_merge,
            "commit_title": pr.title,
            "commit_message": "",
        }

    def comment_json(self, pr: PullRequest, comment: Comment) -> Any:
        base = f"{self.api_url}/repos/{self.repository}"
        return self._schema(
            "issue-comment",
            {
                "id": comment.id,
                "node_id": f"IC_{comment.id}",
                "url": f"{base}/issues/comments/{comment.id}",
                "html_url": f"{base}/pull/{pr.number}#issuecomment-{comment.id}",
                "issue_url": f"{base}/issues/{pr.number}",
                "body": comment.body,
                "user": self.user(comment.author),
                "created_at": comment.created_at,
                "updated_at": comment.updated_at,
                "author_association": "NONE",
            },
        )

    def status_json(self, status: Status) -> Any:
        return self._schema(
            "status",
            {
                "url": f"{self.api_url}/repos/{self.repository}/statuses/{status.sha}",
                "avatar_url": None,
                "id": status.id,
                "node_id": f"SC_{status.id}",
                "state": _STATUS_STATE[status.state],
                "description": status.description or None,
                "target_url": status.target_url or None,
                "context": status.context,
                "created_at": status.created_at,
                "updated_at": status.created_at,
                "creator": None,
            },
        )

    def check_run_json(self, run: CheckRun) -> Any:
        done = run.state != "pending"
        return self._schema(
            "check-run",
            {
                "id": run.id,
                "node_id": f"CR_{run.id}",
                "head_sha": run.sha,
                "name": run.name,
                "url": f"{self.api_url}/repos/{self.repository}/check-runs/{run.id}",
                "html_url": None,
                "details_url": run.details_url or None,
                "status": "completed" if done else "in_progress",
                "conclusion": _CHECK_CONCLUSION[run.state],
                "started_at": run.started_at,
                "completed_at": run.started_at if done else None,
                "external_id": None,
                "check_suite": None,
                "app": None,
                "pull_requests": [],
                "output": {
                    "title": None,
                    "summary": None,
                    "text": None,
                    "annotations_count": 0,
                    "annotations_url": "",
                },
            },
        )
