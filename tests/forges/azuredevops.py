"""Fake Azure DevOps Git (``/{organization}/{project}/_apis/git/...``), validated against
MicrosoftDocs' ``git.json`` 7.2 (converted) with one documented, explicit deviation.

The deviation: Azure DevOps answers lists as ``{"count": n, "value": [...]}`` while the
description declares bare arrays (README pitfalls; 13 of the 18 invalid shipped examples are
that). The fake answers the wire format, and :func:`list_envelope` unwraps it for validation
only where the operation's 200 reply is declared as an array, and only when the envelope is
exactly ``count`` + ``value`` with ``count == len(value)``. Nothing else is relaxed.

Also checked: ``api-version`` must be the one the operation's parameter description names
(``7.2-preview.1`` or ``.2``), else a violation and a 400. The description declares 200 for
creating a PR (the shipped example shows 201): the fake answers 200. Auth is HTTP Basic with
the PAT as password (the description's only scheme). Auto-complete is a PATCH with
``autoCompleteSetBy`` (the empty GUID cancels it) and ``completionOptions.mergeStrategy``;
completing is ``status: completed`` with ``lastMergeSourceCommit.commitId`` = the head.
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from tests.forges.azuredevops_ops import AzureOps
from tests.forges.server import Call, FakeForge, Reply
from tests.forges.specs import Operation
from tests.forges.state import Comment, PullRequest, Status

_R = "/{organization}/{project}/_apis/git/repositories/{repositoryId}"
_PR = _R + "/pullRequests/{pullRequestId}"
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
_STATUS = {"open": "active", "closed": "abandoned", "merged": "completed"}
_CHECK = {"success": "succeeded", "pending": "pending", "failure": "failed"}
_VERSION = re.compile(r"set to '([0-9.]+-preview(?:\.[0-9]+)?)'")


def list_envelope(op: Operation, status: int, body: Any) -> Any:
    """The one deviation: ``{"count", "value"}`` on the wire where the description says array."""
    declared = op.spec.get("responses", {}).get(str(status), {})
    schema = declared.get("content", {}).get("application/json", {}).get("schema", {})
    if schema.get("type") != "array":
        return body
    if not isinstance(body, dict) or set(body) != {"count", "value"}:
        raise ValueError(f"a list reply must be {{count, value}}, got {type(body).__name__}")
    if not isinstance(body["value"], list) or body["count"] != len(body["value"]):
        raise ValueError("count must be len(value)")
    return body["value"]


def _guid(name: str) -> str:
    return str(uuid.uuid5(uuid.NAMESPACE_URL, name))


class AzureDevOpsFake(AzureOps, FakeForge):
    provider = "azuredevops"
    spec_name = "azuredevops"
    api_prefix = ""
    page_size_default = 100
    routes: ClassVar[dict[str, str]] = {
        f"GET {_R}": "get_repo",
        f"GET {_R}/pullrequests": "list_prs",
        f"POST {_R}/pullrequests": "create_pr",
        f"GET {_R}/pullrequests/{{pullRequestId}}": "get_pr",
        f"PATCH {_R}/pullrequests/{{pullRequestId}}": "update_pr",
        f"GET {_PR}/threads": "list_threads",
        f"POST {_PR}/threads": "create_thread",
        f"POST {_PR}/threads/{{threadId}}/comments": "create_comment",
        f"PATCH {_PR}/threads/{{threadId}}/comments/{{commentId}}": "update_comment",
        f"GET {_PR}/labels": "list_labels",
        f"POST {_PR}/labels": "create_label",
        f"GET {_PR}/reviewers": "list_reviewers",
        f"POST {_PR}/reviewers": "add_reviewers",
        f"PUT {_PR}/reviewers/{{reviewerId}}": "put_reviewer",
        f"GET {_PR}/statuses": "pr_statuses",
        f"GET {_R}/commits/{{commitId}}/statuses": "commit_statuses",
        f"GET {_R}/refs": "list_refs",
        f"POST {_R}/refs": "update_refs",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [self.bot_user, "a-human", "alice", "bob", "carol"]
        self.identities = {_guid(f"identity:{n}"): n for n in names}

    @property
    def org(self) -> str:
        return self.repository.split("/")[0]

    @property
    def project(self) -> str:
        return self.repository.split("/")[1]

    @property
    def repo_name(self) -> str:
        return self.repository.split("/")[-1]

    @property
    def git_path(self) -> str:
        return self.repository  # org/project/_git/repo, as Azure's clone URLs

    @property
    def api_url(self) -> str:
        return f"{self.base_url}/{self.org}"

    def deviation(self) -> Any:
        return list_envelope

    def error_body(self, status: int, message: str) -> Any:
        return {
            "$id": "1",
            "innerException": None,
            "message": message,
            "typeName": "Microsoft.TeamFoundation.Git.Server.GitException",
            "typeKey": "GitException",
            "errorCode": 0,
            "eventId": 3000,
        }

    def refusal_reply(self, call: Call, refusal: Any) -> Reply:
        status = {"exists": 409, "sha": 409, "conflict": 409}.get(refusal.kind, 400)
        return Reply(status, self.error_body(status, refusal.message))

    def dispatch(self, call: Call) -> Reply:
        expected = self._expected_version(call.op)
        sent = call.arg("api-version")
        if expected and sent != expected:
            detail = f"api-version {sent!r}, the description says {expected!r}"
            self.violation("api-version", call.op.key, detail)
            return Reply(400, self.error_body(400, detail), checked=False)
        return super().dispatch(call)

    def _expected_version(self, op: Operation) -> str | None:
        for param in op.spec.get("parameters", []):
            if "$ref" in param:
                param = self.spec.doc["components"]["parameters"][param["$ref"].split("/")[-1]]
            if param.get("name") == "api-version":
                found = _VERSION.search(param.get("description", ""))
                return found.group(1) if found else None
        return None

    # -- rendering --------------------------------------------------------------------------

    def _schema(self, name: str, value: Any) -> Any:
        return self.filler.fill({"$ref": f"#/components/schemas/{name}"}, value)

    def wire_list(self, items: list[Any]) -> Reply:
        return Reply(200, {"count": len(items), "value": items})

    def identity(self, name: str) -> dict[str, Any]:
        guid = next((g for g, n in self.identities.items() if n == name), None) or _guid(name)
        self.identities.setdefault(guid, name)
        return {
            "id": guid,
            "displayName": name,
            "uniqueName": f"{name}@forge.invalid",
            "url": f"{self.api_url}/_apis/Identities/{guid}",
            "imageUrl": f"{self.api_url}/_api/_common/identityImage?id={guid}",
        }

    def repo_json(self) -> dict[str, Any]:
        return {
            "id": _guid(self.repository),
            "name": self.repo_name,
            "url": f"{self.api_url}/{self.project}/_apis/git/repositories/{_guid(self.repository)}",
            "project": {
                "id": _guid(f"project:{self.project}"),
                "name": self.project,
                "state": "wellFormed",
                "visibility": "private",
            },
            "defaultBranch": "refs/heads/main",
            "remoteUrl": self.git_url,
            "webUrl": f"{self.base_url}/{self.repository}",
            "isDisabled": False,
        }

    def commit_ref(self, sha: str) -> dict[str, Any]:
        return {"commitId": sha, "url": f"{self.repo_json()['url']}/commits/{sha}"}

    def label_json(self, name: str) -> dict[str, Any]:
        return {
            "id": _guid(f"label:{name}"),
            "name": name,
            "active": True,
            "url": f"{self.api_url}/_apis/tags/{_guid(f'label:{name}')}",
        }

    def reviewer_json(self, name: str) -> dict[str, Any]:
        return self.identity(name) | {
            "vote": 0,
            "isRequired": False,
            "hasDeclined": False,
            "isFlagged": False,
        }

    def pr_json(self, pr: PullRequest) -> Any:
        sha = self.head_sha(pr)
        merge = "succeeded" if pr.state != "open" or self.mergeable(pr) else "conflicts"
        value: dict[str, Any] = {
            "pullRequestId": pr.number,
            "codeReviewId": pr.number,
            "status": _STATUS[pr.state],
            "createdBy": self.identity(pr.author),
            "creationDate": pr.created_at,
            "title": pr.title,
            "description": pr.body,
            "sourceRefName": f"refs/heads/{pr.head}",
            "targetRefName": f"refs/heads/{pr.base}",
            "mergeStatus": merge,
            "isDraft": pr.draft,
            "mergeId": _guid(f"merge:{pr.number}"),
            "lastMergeSourceCommit": self.commit_ref(sha),
            "lastMergeTargetCommit": self.commit_ref(self.repo.sha(pr.base) or ""),
            "reviewers": [self.reviewer_json(r) for r in pr.reviewers],
            "labels": [self.label_json(n) for n in pr.labels],
            "url": f"{self.repo_json()['url']}/pullRequests/{pr.number}",
            "repository": self.repo_json(),
            "supportsIterations": True,
        }
        if pr.merge_commit_sha:
            value["lastMergeCommit"] = self.commit_ref(pr.merge_commit_sha)
        if pr.state != "open":
            value["closedDate"] = pr.closed_at
            value["closedBy"] = self.identity(pr.merged_by or self.bot_user)
        if pr.auto_merge is not None:
            value["autoCompleteSetBy"] = self.identity(pr.auto_merge_by or self.bot_user)
        if pr.extra.get("completion"):
            value["completionOptions"] = pr.extra["completion"]
        return self._schema("GitPullRequest", value)

    def comment_json(self, comment: Comment) -> Any:
        return self._schema(
            "Comment",
            {
                "id": comment.id,
                "parentCommentId": 0,
                "content": comment.body,
                "author": self.identity(comment.author),
                "publishedDate": comment.created_at,
                "lastUpdatedDate": comment.updated_at,
                "lastContentUpdatedDate": comment.updated_at,
                "commentType": "text",
                "isDeleted": False,
            },
        )

    def thread_json(self, pr: PullRequest, thread_id: int) -> Any:
        comments = [c for c in pr.comments if c.thread_id == thread_id]
        return self._schema(
            "GitPullRequestCommentThread",
            {
                "id": thread_id,
                "comments": [self.comment_json(c) for c in comments],
                "publishedDate": comments[0].created_at,
                "lastUpdatedDate": comments[-1].updated_at,
                "status": pr.extra.get("thread_status", {}).get(thread_id, "active"),
                "isDeleted": False,
                "properties": {},
            },
        )

    def status_json(self, status: Status, *, name: str = "GitStatus") -> Any:
        return self._schema(
            name,
            {
                "id": status.id,
                "state": _CHECK[status.state],
                "description": status.description,
                "context": {"name": status.context, "genre": "fake-ci"},
                "targetUrl": status.target_url,
                "creationDate": status.created_at,
                "updatedDate": status.created_at,
                "createdBy": self.identity(self.bot_user),
            },
        )

    # -- helpers ----------------------------------------------------------------------------

    def _repo(self, call: Call) -> None:
        ok_repo = call.params["repositoryId"] in (self.repo_name, _guid(self.repository))
        if (call.params["organization"], call.params["project"]) != (
            self.org,
            self.project,
        ) or not ok_repo:
            raise self.fail(404, "TF401019: The Git repository does not exist")

    def _pr(self, call: Call) -> PullRequest:
        self._repo(call)
        pr = self.pulls.get(int(call.params["pullRequestId"]))
        if pr is None:
            raise self.fail(404, "TF401180: The requested pull request was not found.")
        return pr
