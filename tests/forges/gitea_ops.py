"""The Gitea/Forgejo fake's handlers, one method per operation of ``gitea/ops.txt``."""

from __future__ import annotations

from typing import Any

from tests.forges.server import Call, Reply
from tests.forges.state import combined

_DO = {
    "merge": "merge",
    "squash": "squash",
    "rebase": "rebase",
    "rebase-merge": "merge",
    "fast-forward-only": "ff",
}
_SORTS = {
    "oldest": (lambda p: p.number, False),
    "recentupdate": (lambda p: (p.updated_at, p.number), True),
    "leastupdate": (lambda p: (p.updated_at, p.number), False),
}


class GiteaOps:
    # -- repository, branches, refs ---------------------------------------------------------

    def get_repo(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        return Reply(200, self.repo_json())

    def get_branch(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        name = call.params["branch"]
        sha = self.repo.sha(name)
        if sha is None:
            raise self.fail(404, "branch does not exist")
        commit = {
            "id": sha,
            "message": "",
            "url": self.web_url(f"/commit/{sha}"),
            "timestamp": "2026-01-01T00:00:00Z",
        }
        value = {
            "name": name,
            "commit": commit,
            "protected": False,
            "user_can_push": True,
            "user_can_merge": True,
        }
        return Reply(200, self._schema("Branch", value))

    def delete_branch(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        name = call.params["branch"]
        if name == "main":
            raise self.fail(403, "can not delete default branch")
        if not self.repo.delete_branch(name):
            raise self.fail(404, "branch does not exist")
        return Reply(204)

    def list_refs(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        prefix = "refs/" + call.params["ref"]
        refs = [
            {
                "ref": f"refs/heads/{b}",
                "url": f"{self.api_url}/repos/{self.repository}/git/refs/heads/{b}",
                "object": {"type": "commit", "sha": self.repo.sha(b), "url": ""},
            }
            for b in self.repo.branches()
            if f"refs/heads/{b}".startswith(prefix)
        ]
        if not refs:
            raise self.fail(404, "reference does not exist")
        return Reply(200, [self._schema("Reference", r) for r in refs])

    # -- pull requests ----------------------------------------------------------------------

    def list_pulls(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        state = call.arg("state", "open")
        base = call.arg("base_branch") or call.arg("base")  # Gitea: base_branch; Forgejo: base
        head = call.arg("head")  # Forgejo only (the description has it)
        found = [
            pr
            for pr in self.pulls.values()
            if (state == "all" or (pr.state == "open") == (state == "open"))
            and base in (None, pr.base)
            and head in (None, pr.head)
        ]
        key, reverse = _SORTS.get(call.arg("sort") or "", (lambda p: p.number, True))
        found.sort(key=key, reverse=reverse)
        return self._page(call, [self.pr_json(pr) for pr in found])

    def create_pull(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        body = call.json() or {}
        if body.get("head") == body.get("base"):
            raise self.fail(
                422, "Invalid PullRequest: There are no changes between the head and the base"
            )
        if not body.get("title"):
            raise self.fail(422, "[Title]: Required")
        for branch in (body.get("head"), body.get("base")):
            if not branch or self.repo.sha(branch) is None:
                raise self.fail(404, f"branch {branch!r} does not exist")
        pr = self.open_pull(
            head=body["head"],
            base=body["base"],
            title=body["title"],
            body=body.get("body") or "",
            author=call.user,
        )
        pr.labels = self._labels_from(body.get("labels") or [])
        pr.assignees = [a for a in body.get("assignees") or [] if a in self.users]
        pr.draft = pr.title.startswith(("WIP:", "[WIP]"))
        return Reply(201, self.pr_json(pr))

    def get_by_base_head(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        base, head = call.params["base"], call.params["head"].split(":")[-1]
        found = [p for p in self.pulls.values() if p.base == base and p.head == head]
        if not found:
            raise self.fail(404, "pull request does not exist")
        return Reply(200, self.pr_json(max(found, key=lambda p: p.number)))

    def get_pull(self: Any, call: Call) -> Reply:
        return Reply(200, self.pr_json(self._pr(call)))

    def edit_pull(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        if body.get("title"):
            pr.title = body["title"]
            pr.draft = pr.title.startswith(("WIP:", "[WIP]"))
        if "body" in body:
            pr.body = body["body"]
        if "assignees" in body:
            unknown = [a for a in body["assignees"] if a not in self.users]
            if unknown:
                raise self.fail(422, f"Assignee does not exist: [name: {unknown[0]}]")
            pr.assignees = list(body["assignees"])
        if body.get("labels") is not None:
            pr.labels = self._labels_from(body["labels"])
        if "state" in body:
            if pr.state == "merged":
                raise self.fail(
                    412, "cannot change state of this pull request, it was already merged"
                )
            if body["state"] == "closed" and pr.state == "open":
                self.close_pull(pr)
            elif body["state"] == "open" and pr.state == "closed":
                self.reopen_pull(pr)
        if body.get("base") and body["base"] != pr.base:
            if self.repo.sha(body["base"]) is None:
                raise self.fail(404, f"new base '{body['base']}' not exist")
            pr.base = body["base"]
        pr.touch()
        return Reply(201, self.pr_json(pr))  # sic: Gitea answers an edit with 201

    def merge_api(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        method = _DO.get(body.get(self.merge_do_field, ""), "merge")
        expected = body.get("head_commit_id") or None
        if expected and expected != self.head_sha(pr):
            raise self.fail(409, "head out of date")
        if (
            body.get("merge_when_checks_succeed")
            and self.checks_state(self.head_sha(pr)) != "success"
        ):
            if pr.state != "open":
                return Reply(405)
            pr.auto_merge, pr.auto_merge_by = method, call.user
            pr.extra["delete_head"] = bool(body.get("delete_branch_after_merge"))
            return Reply(200)
        title = body.get("MergeTitleField") or body.get("merge_title_field") or ""
        message = body.get("MergeMessageField") or body.get("merge_message_field") or ""
        self.merge_pull(
            pr,
            method=method,
            message=f"{title}\n\n{message}".strip(),
            expected_sha=expected,
            by=call.user,
        )
        if body.get("delete_branch_after_merge"):
            self.repo.delete_branch(pr.head)
        return Reply(200)

    def cancel_auto_merge(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        if pr.auto_merge is None:
            raise self.fail(404, "no scheduled auto merge")
        pr.auto_merge = None
        return Reply(204)

    def request_reviewers(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        reviews = []
        for login in (call.json() or {}).get("reviewers") or []:
            if login not in self.users:
                raise self.fail(422, f"user does not exist [name: {login}]")
            if login not in pr.reviewers:
                pr.reviewers.append(login)
            reviews.append(
                self._schema(
                    "PullReview",
                    {
                        "id": self.next_id(),
                        "reviewer": self.user(login),
                        "state": "REQUEST_REVIEW",
                        "body": "",
                        "pull_request_url": self.web_url(f"/pulls/{pr.number}"),
                        "html_url": self.web_url(f"/pulls/{pr.number}"),
                    },
                )
            )
        return Reply(201, reviews)

    # -- comments, labels, assignees --------------------------------------------------------

    def list_comments(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        return Reply(200, [self.comment_json(pr, c) for c in pr.comments])

    def create_comment(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        comment = self.add_comment(pr, call.json()["body"], author=call.user)
        return Reply(201, self.comment_json(pr, comment))

    def edit_comment(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        found = self.find_comment(int(call.params["id"]))
        if found is None:
            raise self.fail(404, "comment does not exist")
        pr, comment = found
        comment.body = call.json()["body"]
        return Reply(200, self.comment_json(pr, comment))

    def list_labels(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        return self._page(call, [self.label_json(n) for n in self.labels_catalog])

    def add_labels(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        for name in self._labels_from((call.json() or {}).get("labels") or []):
            if name not in pr.labels:
                pr.labels.append(name)
        return Reply(200, [self.label_json(n) for n in pr.labels])

    def replace_labels(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        pr.labels = list(dict.fromkeys(self._labels_from((call.json() or {}).get("labels") or [])))
        return Reply(200, [self.label_json(n) for n in pr.labels])

    def add_assignees(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        for login in (call.json() or {}).get("assignees") or []:
            if login not in self.users:
                raise self.fail(422, f"Assignee does not exist: [name: {login}]")
            if login not in pr.assignees:
                pr.assignees.append(login)
        issue = {
            "id": 500 + pr.number,
            "number": pr.number,
            "title": pr.title,
            "assignees": [self.user(a) for a in pr.assignees],
            "state": "open" if pr.state == "open" else "closed",
        }
        return Reply(201, self._schema("Issue", issue))

    # -- statuses ---------------------------------------------------------------------------

    def combined_status(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        sha = self.resolve_sha(call.params["ref"])
        statuses = self.latest_statuses(sha)
        verdict = combined([s.state for s in statuses])
        value = {
            "state": "pending" if verdict == "none" else verdict,
            "sha": sha,
            "total_count": len(statuses),
            "statuses": [self.status_json(s) for s in statuses],
            "repository": self.repo_json(),
            "commit_url": f"{self.api_url}/repos/{self.repository}/commits/{sha}",
            "url": f"{self.api_url}/repos/{self.repository}/commits/{sha}/status",
        }
        return Reply(200, self._schema("CombinedStatus", value))

    def list_statuses(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        sha = self.resolve_sha(call.params.get("ref") or call.params["sha"])
        wanted = call.arg("state")
        found = [s for s in reversed(self.statuses) if s.sha == sha and wanted in (None, s.state)]
        return self._page(call, [self.status_json(s) for s in found])
