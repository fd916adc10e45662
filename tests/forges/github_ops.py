"""The GitHub fake's REST handlers, one method per operation of ``github/ops.txt``."""

from __future__ import annotations

from typing import Any

from tests.forges.server import Call, Reply, paginate
from tests.forges.state import combined


def page_reply(fake: Any, call: Call, items: list[Any]) -> Reply:
    """One page of ``items`` with GitHub's ``Link`` header (``per_page`` at most 100)."""
    size = min(int(call.arg("per_page") or fake.page_size_default), 100)
    page = int(call.arg("page") or 1)
    chunk, last = paginate(items, page=page, size=size)
    base = fake.api_url + call.op.template.format(**call.params)
    query = {k: v[-1] for k, v in call.query.items() if k != "page"}
    links = []
    for rel, number, show in (
        ("next", page + 1, page < last),
        ("last", last, page < last),
        ("first", 1, page > 1),
        ("prev", page - 1, page > 1),
    ):
        if show:
            qs = "&".join(f"{k}={v}" for k, v in {**query, "page": number}.items())
            links.append(f'<{base}?{qs}>; rel="{rel}"')
    return Reply(200, chunk, {"Link": ", ".join(links)} if links else {})


def _label_names(body: Any) -> list[str]:
    """Labels as GitHub takes them: ``{"labels": [...]}`` or a bare list; names or objects."""
    items = body.get("labels", []) if isinstance(body, dict) else body or []
    return [i["name"] if isinstance(i, dict) else str(i) for i in items]


class GitHubOps:
    # -- repository and branches ------------------------------------------------------------

    def get_repo(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        return Reply(200, self.repo_json(full=True))

    def get_branch(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        name = call.params["branch"]
        sha = self.repo.sha(name)
        if sha is None:
            raise self.fail(404, "Branch not found")
        url = f"{self.api_url}/repos/{self.repository}/branches/{name}"
        commit = {"sha": sha, "url": url, "commit": {"message": "", "tree": {"sha": sha}}}
        value = {"name": name, "commit": commit, "protected": False, "_links": {"html": url}}
        return Reply(200, self._schema("branch-with-protection", value))

    def get_ref(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        ref = call.params["ref"]
        sha = self.repo.sha(ref.removeprefix("heads/")) if ref.startswith("heads/") else None
        if sha is None:
            raise self.fail(404, "Not Found")
        url = f"{self.api_url}/repos/{self.repository}/git/refs/{ref}"
        value = {
            "ref": f"refs/{ref}",
            "node_id": f"REF_{ref}",
            "url": url,
            "object": {"type": "commit", "sha": sha, "url": url},
        }
        return Reply(200, self._schema("git-ref", value))

    def delete_ref(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        ref = call.params["ref"]
        if not ref.startswith("heads/") or not self.repo.delete_branch(ref[len("heads/") :]):
            raise self.validation_failed("Reference does not exist")
        return Reply(204)

    # -- pull requests ----------------------------------------------------------------------

    def list_pulls(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        state = call.arg("state", "open")
        head, base = call.arg("head"), call.arg("base")
        owner = self.repository.split("/")[0]
        found = []
        for pr in self.pulls.values():
            if state != "all" and (pr.state == "open") != (state == "open"):
                continue
            if head and ":" in head and head != f"{owner}:{pr.head}":
                continue  # GitHub ignores a head filter without the "owner:" part
            if base and base != pr.base:
                continue
            found.append(pr)
        sort = call.arg("sort", "created")
        default_direction = "desc" if sort == "created" else "asc"
        reverse = call.arg("direction", default_direction) == "desc"
        key = (lambda p: (p.updated_at, p.number)) if sort == "updated" else (lambda p: p.number)
        found.sort(key=key, reverse=reverse)
        items = [self._pr_reply(pr, simple=True).body for pr in found]
        return page_reply(self, call, items)

    def create_pull(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        body = call.json()
        if "title" not in body:
            raise self.validation_failed("title is missing", "title")
        owner = self.repository.split("/")[0]
        head = body["head"].removeprefix(f"{owner}:")
        pr = self.open_pull(
            head=head,
            base=body["base"],
            title=body["title"],
            body=body.get("body") or "",
            draft=bool(body.get("draft")),
        )
        return self._pr_reply(pr, status=201)

    def get_pull(self: Any, call: Call) -> Reply:
        return self._pr_reply(self._pr(call))

    def update_pull(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        if "base" in body:
            if self.repo.sha(body["base"]) is None:
                raise self.validation_failed(f"Proposed base branch {body['base']!r} was not found")
            pr.base = body["base"]
        pr.title = body.get("title", pr.title)
        pr.body = body.get("body", pr.body)
        if body.get("state") == "closed" and pr.state == "open":
            self.close_pull(pr)
        elif body.get("state") == "open" and pr.state == "closed":
            self.reopen_pull(pr)
        elif body.get("state") == "open" and pr.state == "merged":
            raise self.validation_failed("Cannot reopen a merged pull request", "state")
        pr.touch()
        return self._pr_reply(pr)

    def merge_api(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        title = body.get("commit_title") or f"Merge pull request #{pr.number} from {pr.head}"
        message = f"{title}\n\n{body.get('commit_message', '')}".rstrip()
        sha = self.merge_pull(
            pr,
            method=body.get("merge_method", "merge"),
            message=message,
            expected_sha=body.get("sha"),
            by=call.user,
        )
        return Reply(
            200, {"sha": sha, "merged": True, "message": "Pull Request successfully merged"}
        )

    def request_reviewers(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        for login in body.get("reviewers", []):
            if login == pr.author:
                raise self.validation_failed("Review cannot be requested from pull request author.")
            if login not in self.users:
                raise self.validation_failed("Reviews may only be requested from collaborators.")
            if login not in pr.reviewers:
                pr.reviewers.append(login)
        return self._pr_reply(pr, status=201, simple=True)

    # -- issues: comments, labels, assignees ------------------------------------------------

    def list_comments(self: Any, call: Call) -> Reply:
        pr = self._pr(call, "issue_number")
        return page_reply(self, call, [self.comment_json(pr, c) for c in pr.comments])

    def create_comment(self: Any, call: Call) -> Reply:
        pr = self._pr(call, "issue_number")
        comment = self.add_comment(pr, call.json()["body"], author=call.user)
        return Reply(201, self.comment_json(pr, comment))

    def update_comment(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        found = self.find_comment(int(call.params["comment_id"]))
        if found is None:
            raise self.fail(404, "Not Found")
        pr, comment = found
        comment.body = call.json()["body"]
        comment.updated_at = pr.updated_at
        return Reply(200, self.comment_json(pr, comment))

    def add_labels(self: Any, call: Call) -> Reply:
        pr = self._pr(call, "issue_number")
        for name in _label_names(call.json()):
            if name not in pr.labels:
                pr.labels.append(name)
        return Reply(200, [self.label_json(n) for n in pr.labels])

    def set_labels(self: Any, call: Call) -> Reply:
        pr = self._pr(call, "issue_number")
        pr.labels = list(dict.fromkeys(_label_names(call.json())))
        return Reply(200, [self.label_json(n) for n in pr.labels])

    def add_assignees(self: Any, call: Call) -> Reply:
        pr = self._pr(call, "issue_number")
        for login in (call.json() or {}).get("assignees", []):
            if login in self.users and login not in pr.assignees:
                pr.assignees.append(login)  # GitHub drops logins that cannot be assigned
        issue = {
            "id": 900000 + pr.number,
            "node_id": pr.node_id,
            "number": pr.number,
            "title": pr.title,
            "state": "open" if pr.state == "open" else "closed",
            "user": self.user(pr.author),
            "assignee": self.user(pr.assignees[0]) if pr.assignees else None,
            "assignees": [self.user(a) for a in pr.assignees],
            "labels": [self.label_json(n) for n in pr.labels],
            "milestone": None,
            "comments": len(pr.comments),
            "closed_at": pr.closed_at,
            "created_at": pr.created_at,
            "updated_at": pr.updated_at,
        }
        return Reply(201, self._schema("issue", issue))

    # -- statuses and checks ----------------------------------------------------------------

    def combined_status(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        sha = self.resolve_sha(call.params["ref"])
        statuses = self.latest_statuses(sha)
        verdict = combined([s.state for s in statuses])
        value = {
            "state": "pending" if verdict == "none" else verdict,  # GitHub: none yet = pending
            "sha": sha,
            "total_count": len(statuses),
            "statuses": [self.status_json(s) for s in statuses],
            "repository": self.repo_json(),
            "commit_url": f"{self.api_url}/repos/{self.repository}/commits/{sha}",
            "url": f"{self.api_url}/repos/{self.repository}/commits/{sha}/status",
        }
        return Reply(200, self._schema("combined-commit-status", value))

    def list_statuses(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        sha = self.resolve_sha(call.params["ref"])
        found = [s for s in reversed(self.statuses) if s.sha == sha]
        return page_reply(self, call, [self.status_json(s) for s in found])

    def list_check_runs(self: Any, call: Call) -> Reply:
        self._repo_or_404(call)
        sha = self.resolve_sha(call.params["ref"])
        runs = self.latest_check_runs(sha)
        if call.arg("filter") == "all":
            runs = [r for r in self.check_runs if r.sha == sha]
        name = call.arg("check_name")
        runs = [r for r in runs if name in (None, r.name)]
        size = min(int(call.arg("per_page") or self.page_size_default), 100)
        chunk, _ = paginate(runs, page=int(call.arg("page") or 1), size=size)
        value = {"total_count": len(runs), "check_runs": [self.check_run_json(r) for r in chunk]}
        return Reply(200, value)
