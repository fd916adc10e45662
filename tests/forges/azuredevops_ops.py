"""The Azure DevOps fake's handlers, one method per operation of ``azure-devops/ops.txt``."""

from __future__ import annotations

from typing import Any

from tests.forges.server import Call, Reply

ZERO = "0" * 40
EMPTY_GUID = "00000000-0000-0000-0000-000000000000"
_STRATEGY = {
    "noFastForward": "merge",
    "squash": "squash",
    "rebase": "rebase",
    "rebaseMerge": "merge",
}
_WANTED = {
    "active": {"open"},
    "abandoned": {"closed"},
    "completed": {"merged"},
    "all": {"open", "closed", "merged"},
    "notSet": {"open"},
}


def _branch(ref: str | None) -> str | None:
    return ref.removeprefix("refs/heads/") if ref else None


class AzureOps:
    def get_repo(self: Any, call: Call) -> Reply:
        self._repo(call)
        return Reply(200, self._schema("GitRepository", self.repo_json()))

    # -- pull requests ----------------------------------------------------------------------

    def list_prs(self: Any, call: Call) -> Reply:
        self._repo(call)
        states = _WANTED.get(call.arg("searchCriteria.status") or "active", set())
        head = _branch(call.arg("searchCriteria.sourceRefName"))
        base = _branch(call.arg("searchCriteria.targetRefName"))
        found = [
            p
            for p in self.pulls.values()
            if p.state in states and head in (None, p.head) and base in (None, p.base)
        ]
        found.sort(key=lambda p: p.number, reverse=True)
        skip, top = int(call.arg("$skip") or 0), int(call.arg("$top") or self.page_size_default)
        return self.wire_list([self.pr_json(p) for p in found[skip : skip + top]])

    def create_pr(self: Any, call: Call) -> Reply:
        self._repo(call)
        body = call.json() or {}
        head, base = _branch(body.get("sourceRefName")), _branch(body.get("targetRefName"))
        if not head or not base or not body.get("title"):
            raise self.fail(400, "sourceRefName, targetRefName and title are required")
        pr = self.open_pull(
            head=head,
            base=base,
            title=body["title"],
            body=body.get("description") or "",
            draft=bool(body.get("isDraft")),
            author=call.user,
        )
        pr.reviewers = [
            self.identities[r["id"]]
            for r in body.get("reviewers") or []
            if r.get("id") in self.identities
        ]
        pr.labels = [label["name"] for label in body.get("labels") or [] if label.get("name")]
        return Reply(200, self.pr_json(pr))  # the description declares 200 (the wire says 201)

    def get_pr(self: Any, call: Call) -> Reply:
        return Reply(200, self.pr_json(self._pr(call)))

    def update_pr(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        pr.title = body.get("title", pr.title)
        pr.body = body.get("description", pr.body)
        if "isDraft" in body:
            pr.draft = bool(body["isDraft"])
        if body.get("targetRefName"):
            pr.base = _branch(body["targetRefName"])
        if "completionOptions" in body:
            pr.extra["completion"] = body["completionOptions"]
            pr.extra["delete_head"] = bool(body["completionOptions"].get("deleteSourceBranch"))
        strategy = (pr.extra.get("completion") or {}).get("mergeStrategy", "noFastForward")
        if "autoCompleteSetBy" in body:
            by = (body["autoCompleteSetBy"] or {}).get("id", EMPTY_GUID)
            pr.auto_merge = None if by == EMPTY_GUID else _STRATEGY[strategy]
            pr.auto_merge_by = self.identities.get(by, call.user)
        status = body.get("status")
        if status == "abandoned":
            self.close_pull(pr)
        elif status == "active" and pr.state == "closed":
            self.reopen_pull(pr)
        elif status == "completed":
            commit = (body.get("lastMergeSourceCommit") or {}).get("commitId")
            if not commit:
                raise self.fail(400, "lastMergeSourceCommit is required to complete")
            message = (pr.extra.get("completion") or {}).get("mergeCommitMessage", "")
            self.merge_pull(
                pr, method=_STRATEGY[strategy], message=message, expected_sha=commit, by=call.user
            )
        if pr.state == "merged" and (pr.extra.get("completion") or {}).get("deleteSourceBranch"):
            self.repo.delete_branch(pr.head)
        pr.touch()
        return Reply(200, self.pr_json(pr))

    # -- threads and comments ---------------------------------------------------------------

    def list_threads(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        ids = list(dict.fromkeys(c.thread_id for c in pr.comments))
        return self.wire_list([self.thread_json(pr, t) for t in ids])

    def create_thread(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        body = call.json() or {}
        contents = [c.get("content") for c in body.get("comments") or [] if c.get("content")]
        if not contents:
            raise self.fail(400, "a thread needs a comment with content")
        thread_id = self.next_id()
        for content in contents:
            self.add_comment(pr, content, author=call.user).thread_id = thread_id
        if body.get("status"):
            pr.extra.setdefault("thread_status", {})[thread_id] = body["status"]
        return Reply(200, self.thread_json(pr, thread_id))

    def create_comment(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        thread_id = int(call.params["threadId"])
        if not any(c.thread_id == thread_id for c in pr.comments):
            raise self.fail(404, "thread not found")
        comment = self.add_comment(pr, (call.json() or {}).get("content") or "", author=call.user)
        comment.thread_id = thread_id
        return Reply(200, self.comment_json(comment))

    def update_comment(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        comment = next(
            (
                c
                for c in pr.comments
                if c.id == int(call.params["commentId"])
                and c.thread_id == int(call.params["threadId"])
            ),
            None,
        )
        if comment is None:
            raise self.fail(404, "comment not found")
        comment.body = (call.json() or {}).get("content", comment.body)
        return Reply(200, self.comment_json(comment))

    # -- labels and reviewers ---------------------------------------------------------------

    def list_labels(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        return self.wire_list([self.label_json(n) for n in pr.labels])

    def create_label(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        name = (call.json() or {}).get("name")
        if not name:
            raise self.fail(400, "name is required")
        if name not in pr.labels:
            pr.labels.append(name)
        return Reply(200, self.label_json(name))

    def list_reviewers(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        return self.wire_list([self.reviewer_json(r) for r in pr.reviewers])

    def add_reviewers(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        added = []
        for item in call.json() or []:
            name = self.identities.get(item.get("id", ""))
            if name is None:
                raise self.fail(400, f"identity {item.get('id')} not found")
            if name not in pr.reviewers:
                pr.reviewers.append(name)
            added.append(self.reviewer_json(name))
        return self.wire_list(added)

    def put_reviewer(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        name = self.identities.get(call.params["reviewerId"])
        if name is None:
            raise self.fail(400, "identity not found")
        if name not in pr.reviewers:
            pr.reviewers.append(name)
        vote = int((call.json() or {}).get("vote", 0))
        return Reply(
            200, self._schema("IdentityRefWithVote", self.reviewer_json(name) | {"vote": vote})
        )

    # -- statuses and refs ------------------------------------------------------------------

    def pr_statuses(self: Any, call: Call) -> Reply:
        pr = self._pr(call)
        found = self.latest_statuses(self.head_sha(pr))
        return self.wire_list([self.status_json(s, name="GitPullRequestStatus") for s in found])

    def commit_statuses(self: Any, call: Call) -> Reply:
        self._repo(call)
        sha = self.resolve_sha(call.params["commitId"])
        latest = call.arg("latestOnly") == "true"
        found = self.latest_statuses(sha) if latest else [s for s in self.statuses if s.sha == sha]
        return self.wire_list([self.status_json(s) for s in reversed(found)])

    def list_refs(self: Any, call: Call) -> Reply:
        self._repo(call)
        prefix = "refs/" + (call.arg("filter") or "")
        refs = [
            self._schema(
                "GitRef",
                {
                    "name": f"refs/heads/{b}",
                    "objectId": self.repo.sha(b),
                    "creator": self.identity(self.bot_user),
                    "url": f"{self.repo_json()['url']}/refs?filter=heads%2F{b}",
                },
            )
            for b in self.repo.branches()
            if f"refs/heads/{b}".startswith(prefix)
        ]
        return self.wire_list(refs)

    def update_refs(self: Any, call: Call) -> Reply:
        self._repo(call)
        results = []
        for update in call.json() or []:
            name, old, new = (
                update.get("name", ""),
                update.get("oldObjectId"),
                update.get("newObjectId"),
            )
            branch = name.removeprefix("refs/heads/")
            current = self.repo.sha(branch) or ZERO
            ok = name.startswith("refs/heads/") and old == current
            if ok and new == ZERO:
                ok = self.repo.delete_branch(branch)
            elif ok:
                self.repo.git("update-ref", name, new, old)
            results.append(
                self._schema(
                    "GitRefUpdateResult",
                    {
                        "name": name,
                        "oldObjectId": old,
                        "newObjectId": new,
                        "success": ok,
                        "updateStatus": "succeeded" if ok else "staleOldObjectId",
                        "repositoryId": self.repo_json()["id"],
                        "isLocked": False,
                    },
                )
            )
        return self.wire_list(results)
