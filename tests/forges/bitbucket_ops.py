"""The Bitbucket Cloud fake's handlers, one method per operation of ``bitbucket-cloud/ops.txt``."""

from __future__ import annotations

from typing import Any

from tests.forges.server import Call, Reply

_STRATEGY = {
    "merge_commit": "merge",
    "squash": "squash",
    "fast_forward": "ff",
    "squash_fast_forward": "squash",
    "rebase_fast_forward": "rebase",
    "rebase_merge": "rebase",
}


class BitbucketOps:
    def get_repo(self: Any, call: Call) -> Reply:
        self._repo(call)
        value = self.repo_json() | {
            "is_private": True,
            "scm": "git",
            "mainbranch": {"type": "branch", "name": "main"},
        }
        return Reply(200, self._schema("repository", value))

    def list_prs(self: Any, call: Call) -> Reply:
        self._repo(call)
        states = call.query.get("state") or ["OPEN"]
        wanted = {"OPEN": "open", "DECLINED": "closed", "MERGED": "merged"}
        keep = self._filter(call.arg("q")) if call.arg("q") else (lambda pr: True)
        found = [
            p for p in self.pulls.values() if p.state in {wanted.get(s) for s in states} and keep(p)
        ]
        found.sort(key=lambda p: p.number, reverse=True)
        return self._page(call, [self.pr_json(pr) for pr in found])

    def create_pr(self: Any, call: Call) -> Reply:
        self._repo(call)
        body = call.json()
        head = ((body.get("source") or {}).get("branch") or {}).get("name")
        base = ((body.get("destination") or {}).get("branch") or {}).get("name") or "main"
        if not head or not body.get("title"):
            raise self.fail(400, "title and source.branch.name are required")
        pr = self.open_pull(
            head=head,
            base=base,
            title=body["title"],
            body=body.get("description") or "",
            draft=bool(body.get("draft")),
            author=call.user,
        )
        pr.reviewers = self._reviewers(body.get("reviewers") or [])
        pr.extra["close_source_branch"] = bool(body.get("close_source_branch"))
        return Reply(201, self.pr_json(pr))

    def _reviewers(self: Any, items: list[Any]) -> list[str]:
        by_uuid = {u: n for n, u in self.accounts.items()}
        names = []
        for item in items:
            name = by_uuid.get(item.get("uuid", "")) or item.get("account_id")
            if name not in self.accounts:
                raise self.fail(400, f"reviewers: {item.get('uuid')} is not a valid user")
            names.append(name)
        return names

    def get_pr(self: Any, call: Call) -> Reply:
        return Reply(200, self.pr_json(self._pr(call)))

    def update_pr(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        if pr.state != "open":
            raise self.fail(400, "You can't edit a pull request that is not open")
        body = call.json() or {}
        pr.title = body.get("title", pr.title)
        pr.body = body.get("description", pr.body)
        if "reviewers" in body:
            pr.reviewers = self._reviewers(body["reviewers"])
        base = ((body.get("destination") or {}).get("branch") or {}).get("name")
        if base:
            if self.repo.sha(base) is None:
                raise self.fail(400, f"destination branch {base!r} not found")
            pr.base = base
        if "draft" in body:
            pr.draft = bool(body["draft"])
        pr.touch()
        return Reply(200, self.pr_json(pr))

    def decline_pr(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        self.close_pull(pr)
        return Reply(200, self.pr_json(pr))

    def merge_api(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        method = _STRATEGY[body.get("merge_strategy", "merge_commit")]
        self.merge_pull(pr, method=method, message=body.get("message") or "", by=call.user)
        if body.get("close_source_branch", pr.extra.get("close_source_branch")):
            self.repo.delete_branch(pr.head)
        return Reply(200, self.pr_json(pr))

    def list_comments(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        return self._page(call, [self.comment_json(pr, c) for c in pr.comments])

    def create_comment(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        raw = ((call.json() or {}).get("content") or {}).get("raw")
        if not raw:
            raise self.fail(400, "content.raw is required")
        comment = self.add_comment(pr, raw, author=call.user)
        return Reply(201, self.comment_json(pr, comment))

    def update_comment(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        comment = next((c for c in pr.comments if c.id == int(call.params["comment_id"])), None)
        if comment is None:
            raise self.fail(404, "Comment not found")
        raw = ((call.json() or {}).get("content") or {}).get("raw")
        if raw:
            comment.body = raw
        return Reply(200, self.comment_json(pr, comment))

    def pr_statuses(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        found = self.latest_statuses(self.head_sha(pr))
        return self._page(call, [self.status_json(s) for s in found])

    def commit_statuses(self: Any, call: Call) -> Reply:
        self._repo(call)
        found = self.latest_statuses(self.resolve_sha(call.params["commit"]))
        return self._page(call, [self.status_json(s) for s in found])

    def get_branch(self: Any, call: Call) -> Reply:
        self._repo(call)
        name = call.params["name"]
        sha = self.repo.sha(name)
        if sha is None:
            raise self.fail(404, f"Branch not found: {name}")
        value = {
            "type": "branch",
            "name": name,
            "target": {"type": "commit", "hash": sha, "repository": self.repo_json()},
            "merge_strategies": list(_STRATEGY),
            "default_merge_strategy": "merge_commit",
            "links": {"html": self._link(f"/branch/{name}")},
        }
        return Reply(200, self._schema("branch", value))

    def delete_branch(self: Any, call: Call) -> Reply:
        self._repo(call)
        name = call.params["name"]
        if name == "main":
            raise self.fail(403, "You can't delete the main branch")
        if not self.repo.delete_branch(name):
            raise self.fail(404, f"Branch not found: {name}")
        return Reply(204)
