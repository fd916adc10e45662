"""Fake GitLab (``/api/v4``), checked against our contract ``gitlab/contract.openapi3.json``.

GitLab ships no description we could copy, so the contract is ours, written from GitLab's REST
docs (see the fixtures README). The fake follows the same docs: ``{id}`` is the numeric project
id or the URL-encoded path (``group%2Fsub%2Fproject``); states are ``opened``/``closed``/
``merged``; a draft is a title starting ``Draft:``, ``[Draft]`` or ``(Draft)``; labels are a
comma-separated string; reviewers and assignees are user ids (``GET /users?username=``);
one open MR per source/target pair (409); merge answers 405 (not open, draft), 406 (conflict),
409 (``sha`` is not the head); ``auto_merge`` (or the deprecated
``merge_when_pipeline_succeeds``) waits while the head's pipeline is pending or failed and
merges at once otherwise. Lists carry GitLab's ``X-Page``/``X-Next-Page``/``X-Total`` headers.
"""

from __future__ import annotations

import re
from typing import Any, ClassVar

from tests.forges.server import Call, FakeForge, Reply, paginate
from tests.forges.state import Comment, PullRequest, Status

_P = "/projects/{id}"
_MR = _P + "/merge_requests/{merge_request_iid}"
_DRAFT = re.compile(r"^\s*(draft:|\[draft\]|\(draft\))", re.IGNORECASE)
_STATE = {"open": "opened", "closed": "closed", "merged": "merged"}
_STATUS = {"success": "success", "pending": "pending", "failure": "failed"}
PROJECT_ID = 4242


class GitLabFake(FakeForge):
    provider = "gitlab"
    spec_name = "gitlab"
    api_prefix = "/api/v4"
    page_size_default = 20
    routes: ClassVar[dict[str, str]] = {
        f"GET {_P}": "get_project",
        f"GET {_P}/merge_requests": "list_mrs",
        f"POST {_P}/merge_requests": "create_mr",
        f"GET {_MR}": "get_mr",
        f"PUT {_MR}": "update_mr",
        f"PUT {_MR}/merge": "accept_mr",
        f"POST {_MR}/cancel_merge_when_pipeline_succeeds": "cancel_auto_merge",
        f"GET {_MR}/notes": "list_notes",
        f"POST {_MR}/notes": "create_note",
        f"PUT {_MR}/notes/{{note_id}}": "update_note",
        f"GET {_P}/repository/commits/{{sha}}/statuses": "list_statuses",
        f"GET {_P}/repository/branches/{{branch}}": "get_branch",
        f"DELETE {_P}/repository/branches/{{branch}}": "delete_branch",
        "GET /users": "list_users",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [self.bot_user, "a-human", "alice", "bob", "carol"]
        self.user_ids = {name: i + 1 for i, name in enumerate(names)}

    def authenticate(self, headers: Any) -> str | None:
        if headers.get("PRIVATE-TOKEN") == self.token:
            return self.bot_user
        return super().authenticate(headers)

    def error_body(self, status: int, message: str) -> Any:
        return {"message": message}

    def refusal_reply(self, call: Call, refusal: Any) -> Reply:
        status = {"exists": 409, "sha": 409, "conflict": 406, "not-open": 405}.get(
            refusal.kind, 422
        )
        message = {409: [refusal.message]}.get(status, refusal.message)
        return Reply(status, {"message": message})

    # -- rendering --------------------------------------------------------------------------

    def _schema(self, name: str, value: Any) -> Any:
        return self.filler.fill({"$ref": f"#/components/schemas/{name}"}, value)

    def user(self, name: str) -> dict[str, Any]:
        uid = self.user_ids.setdefault(name, len(self.user_ids) + 1)
        return {
            "id": uid,
            "username": name,
            "name": name,
            "state": "active",
            "avatar_url": None,
            "web_url": f"{self.base_url}/{name}",
        }

    def detailed_status(self, pr: PullRequest) -> str:
        if pr.state != "open":
            return "not_open"
        if _DRAFT.match(pr.title):
            return "draft_status"
        if not self.mergeable(pr):
            return "conflict"
        return {"pending": "ci_still_running", "failure": "ci_must_pass"}.get(
            self.checks_state(self.head_sha(pr)), "mergeable"
        )

    def mr_json(self, pr: PullRequest) -> Any:
        detailed = self.detailed_status(pr)
        conflict = detailed == "conflict"
        sha = self.head_sha(pr)
        value = {
            "id": 70000 + pr.number,
            "iid": pr.number,
            "project_id": PROJECT_ID,
            "title": pr.title,
            "description": pr.body,
            "state": _STATE[pr.state],
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
            "merged_at": pr.merged_at,
            "closed_at": pr.closed_at if pr.state == "closed" else None,
            "merged_by": self.user(pr.merged_by) if pr.merged_by else None,
            "merge_user": self.user(pr.merged_by) if pr.merged_by else None,
            "closed_by": self.user(self.bot_user) if pr.state == "closed" else None,
            "target_branch": pr.base,
            "source_branch": pr.head,
            "source_project_id": PROJECT_ID,
            "target_project_id": PROJECT_ID,
            "author": self.user(pr.author),
            "assignee": self.user(pr.assignees[0]) if pr.assignees else None,
            "assignees": [self.user(a) for a in pr.assignees],
            "reviewers": [self.user(r) for r in pr.reviewers],
            "labels": list(pr.labels),
            "draft": bool(_DRAFT.match(pr.title)),
            "work_in_progress": bool(_DRAFT.match(pr.title)),
            "merge_when_pipeline_succeeds": pr.auto_merge is not None,
            "merge_status": "cannot_be_merged" if conflict else "can_be_merged",
            "detailed_merge_status": detailed,
            "has_conflicts": conflict,
            "sha": sha,
            "merge_commit_sha": pr.merge_commit_sha if pr.extra.get("method") != "squash" else None,
            "squash_commit_sha": pr.merge_commit_sha
            if pr.extra.get("method") == "squash"
            else None,
            "squash": pr.extra.get("method") == "squash",
            "user_notes_count": len(pr.comments),
            "web_url": self.web_url(f"/-/merge_requests/{pr.number}"),
            "references": {
                "short": f"!{pr.number}",
                "relative": f"!{pr.number}",
                "full": f"{self.repository}!{pr.number}",
            },
            "diff_refs": {
                "base_sha": self.repo.sha(pr.base) or "",
                "head_sha": sha,
                "start_sha": self.repo.sha(pr.base) or "",
            },
            "merge_error": None,
            "user": {"can_merge": True},
        }
        return self._schema("MergeRequestDetail", value)

    def note_json(self, pr: PullRequest, note: Comment) -> Any:
        return self._schema(
            "Note",
            {
                "id": note.id,
                "type": None,
                "body": note.body,
                "author": self.user(note.author),
                "created_at": note.created_at,
                "updated_at": note.updated_at,
                "system": False,
                "noteable_id": 70000 + pr.number,
                "noteable_type": "MergeRequest",
                "noteable_iid": pr.number,
                "resolvable": False,
            },
        )

    def status_json(self, status: Status) -> Any:
        return self._schema(
            "CommitStatus",
            {
                "id": status.id,
                "sha": status.sha,
                "ref": None,
                "status": _STATUS[status.state],
                "name": status.context,
                "target_url": status.target_url or None,
                "description": status.description or None,
                "created_at": status.created_at,
                "started_at": status.created_at,
                "finished_at": None,
                "allow_failure": False,
                "coverage": None,
                "author": self.user(self.bot_user),
            },
        )

    # -- helpers ----------------------------------------------------------------------------

    def _project(self, call: Call) -> None:
        if call.params["id"] not in (self.repository, str(PROJECT_ID)):
            raise self.fail(404, "404 Project Not Found")

    def _mr(self, call: Call) -> PullRequest:
        self._project(call)
        pr = self.pulls.get(int(call.params["merge_request_iid"]))
        if pr is None:
            raise self.fail(404, "404 Not found")
        return pr

    def _page(self, call: Call, items: list[Any]) -> Reply:
        size = min(int(call.arg("per_page") or self.page_size_default), 100)
        page = int(call.arg("page") or 1)
        chunk, last = paginate(items, page=page, size=size)
        headers = {
            "X-Page": str(page),
            "X-Per-Page": str(size),
            "X-Total": str(len(items)),
            "X-Total-Pages": str(last),
            "X-Next-Page": str(page + 1) if page < last else "",
            "X-Prev-Page": str(page - 1) if page > 1 else "",
        }
        return Reply(200, chunk, headers)

    def _names(self, ids: list[int]) -> list[str]:
        by_id = {i: n for n, i in self.user_ids.items()}
        return [by_id[i] for i in ids if i in by_id]  # GitLab drops ids it cannot use

    # -- handlers ---------------------------------------------------------------------------

    def get_project(self, call: Call) -> Reply:
        self._project(call)
        name = self.repository.rsplit("/", 1)[-1]
        return Reply(
            200,
            self._schema(
                "Project",
                {
                    "id": PROJECT_ID,
                    "name": name,
                    "name_with_namespace": self.repository.replace("/", " / "),
                    "path": name,
                    "path_with_namespace": self.repository,
                    "default_branch": "main",
                    "web_url": self.web_url(),
                    "http_url_to_repo": self.git_url,
                    "ssh_url_to_repo": f"git@127.0.0.1:{self.repository}.git",
                    "visibility": "private",
                },
            ),
        )

    def list_mrs(self, call: Call) -> Reply:
        self._project(call)
        state = call.arg("state", "all")
        wanted = {"opened": "open", "closed": "closed", "merged": "merged", "locked": "locked"}
        found = [
            pr
            for pr in self.pulls.values()
            if (state == "all" or wanted.get(state or "") == pr.state)
            and call.arg("source_branch") in (None, pr.head)
            and call.arg("target_branch") in (None, pr.base)
        ]
        ascending = call.arg("sort") == "asc"
        key = "updated_at" if call.arg("order_by") == "updated_at" else "created_at"
        found.sort(key=lambda p: (getattr(p, key), p.number), reverse=not ascending)
        return self._page(call, [self.mr_json(pr) for pr in found])

    def create_mr(self, call: Call) -> Reply:
        self._project(call)
        body = call.json()
        pr = self.open_pull(
            head=body["source_branch"],
            base=body["target_branch"],
            title=body["title"],
            body=body.get("description", ""),
            author=call.user,
        )
        pr.labels = [x.strip() for x in body.get("labels", "").split(",") if x.strip()]
        pr.assignees = self._names(body.get("assignee_ids") or [])
        pr.reviewers = self._names(body.get("reviewer_ids") or [])
        pr.extra["method"] = "squash" if body.get("squash") else "merge"
        return Reply(201, self.mr_json(pr))

    def get_mr(self, call: Call) -> Reply:
        return Reply(200, self.mr_json(self._mr(call)))

    def update_mr(self, call: Call) -> Reply:
        pr = self._mr(call)
        body = call.json()
        split = lambda text: [x.strip() for x in text.split(",") if x.strip()]  # noqa: E731
        pr.title = body.get("title", pr.title)
        pr.body = body.get("description", pr.body)
        if "labels" in body:
            pr.labels = split(body["labels"])
        pr.labels += [x for x in split(body.get("add_labels", "")) if x not in pr.labels]
        pr.labels = [x for x in pr.labels if x not in split(body.get("remove_labels", ""))]
        if "assignee_ids" in body:
            pr.assignees = self._names(body["assignee_ids"])
        if "reviewer_ids" in body:
            pr.reviewers = self._names(body["reviewer_ids"])
        if body.get("target_branch"):
            pr.base = body["target_branch"]
        if body.get("state_event") == "close":
            self.close_pull(pr)
        elif body.get("state_event") == "reopen":
            self.reopen_pull(pr)
        pr.touch()
        return Reply(200, self.mr_json(pr))

    def accept_mr(self, call: Call) -> Reply:
        pr = self._mr(call)
        body = call.json() or {}
        if pr.state == "open" and _DRAFT.match(pr.title):
            raise self.fail(405, "405 Method Not Allowed")
        expected = body.get("sha")
        if expected and pr.state == "open" and expected != self.head_sha(pr):
            raise self.fail(409, "SHA does not match HEAD of source branch")
        squash = body.get("squash", pr.extra.get("method") == "squash")
        method = "squash" if squash else "merge"
        auto = body.get("auto_merge") or body.get("merge_when_pipeline_succeeds")
        if (
            auto
            and pr.state == "open"
            and self.checks_state(self.head_sha(pr)) in ("pending", "failure")
        ):
            pr.auto_merge, pr.auto_merge_by = method, call.user
            pr.extra["delete_head"] = bool(body.get("should_remove_source_branch"))
            return Reply(200, self.mr_json(pr))
        message = body.get("squash_commit_message" if squash else "merge_commit_message") or ""
        self.merge_pull(pr, method=method, message=message, by=call.user)
        pr.extra["method"] = method
        if body.get("should_remove_source_branch"):
            self.repo.delete_branch(pr.head)
        return Reply(200, self.mr_json(pr))

    def cancel_auto_merge(self, call: Call) -> Reply:
        pr = self._mr(call)
        if pr.state != "open":
            raise self.fail(406, "406 Not Acceptable")
        if pr.auto_merge is None:
            return Reply(304)
        pr.auto_merge = None
        return Reply(201, self.mr_json(pr))

    def list_notes(self, call: Call) -> Reply:
        pr = self._mr(call)
        notes = sorted(pr.comments, key=lambda c: c.id, reverse=call.arg("sort") != "asc")
        return self._page(call, [self.note_json(pr, n) for n in notes])

    def create_note(self, call: Call) -> Reply:
        pr = self._mr(call)
        note = self.add_comment(pr, call.json()["body"], author=call.user)
        return Reply(201, self.note_json(pr, note))

    def update_note(self, call: Call) -> Reply:
        pr = self._mr(call)
        note = next((c for c in pr.comments if c.id == int(call.params["note_id"])), None)
        if note is None:
            raise self.fail(404, "404 Note Not Found")
        note.body = call.json()["body"]
        return Reply(200, self.note_json(pr, note))

    def list_statuses(self, call: Call) -> Reply:
        self._project(call)
        sha = self.resolve_sha(call.params["sha"])
        every = call.arg("all") == "true"
        found = [s for s in self.statuses if s.sha == sha] if every else self.latest_statuses(sha)
        found = [s for s in found if call.arg("name") in (None, s.context)]
        return self._page(call, [self.status_json(s) for s in reversed(found)])

    def get_branch(self, call: Call) -> Reply:
        self._project(call)
        name = call.params["branch"]
        sha = self.repo.sha(name)
        if sha is None:
            raise self.fail(404, "404 Branch Not Found")
        commit = {
            "id": sha,
            "short_id": sha[:8],
            "title": "",
            "message": "",
            "parent_ids": self.repo.parents(sha),
            "web_url": self.web_url(f"/-/commit/{sha}"),
        }
        return Reply(
            200,
            self._schema(
                "Branch",
                {
                    "name": name,
                    "merged": self.repo.is_ancestor(sha, self.repo.sha("main") or sha),
                    "protected": name == "main",
                    "default": name == "main",
                    "developers_can_push": False,
                    "developers_can_merge": False,
                    "can_push": True,
                    "web_url": self.web_url(f"/-/tree/{name}"),
                    "commit": commit,
                },
            ),
        )

    def delete_branch(self, call: Call) -> Reply:
        self._project(call)
        name = call.params["branch"]
        if name == "main":
            raise self.fail(400, "Cannot remove HEAD branch")
        if not self.repo.delete_branch(name):
            raise self.fail(404, "404 Branch Not Found")
        return Reply(204)

    def list_users(self, call: Call) -> Reply:
        wanted = call.arg("username")
        names = [n for n in self.user_ids if wanted in (None, n)]
        return self._page(call, [self.user(n) for n in names])
