"""Fake Bitbucket Cloud (``/2.0``), validated against the official (converted) description.

The description asks more of a client than the server is known to: every object, request
bodies included, is an ``object`` subtype with a required ``type`` (``"pullrequest"``,
``"pullrequest_comment"``, merge parameters ``"pullrequest_merge_parameters"`` ...), so the
fake requires it too. PR search is the ``q`` filter language (undeclared in the description,
documented in Bitbucket's "Filter and sort API objects"): ``field = "value"`` terms on
``source.branch.name``, ``destination.branch.name``, ``state``, ``title``, joined with ``AND``
or ``OR`` (``=``, ``!=``, ``~`` contains). No labels, assignees or auto-merge exist here, and
a declined PR cannot be reopened through the API (``human_reopen`` plays the web UI).
Fields the server would send as null are left out (the description has no ``nullable``).
"""

from __future__ import annotations

import re
import uuid
from typing import Any, ClassVar

from tests.forges.bitbucket_ops import BitbucketOps
from tests.forges.server import Call, FakeForge, Reply, paginate
from tests.forges.state import Comment, PullRequest, Status

_R = "/repositories/{workspace}/{repo_slug}"
_PR = _R + "/pullrequests/{pull_request_id}"
_STATE = {"open": "OPEN", "closed": "DECLINED", "merged": "MERGED"}
_BUILD = {"success": "SUCCESSFUL", "pending": "INPROGRESS", "failure": "FAILED"}
_TERM = re.compile(r'^\s*([\w.]+)\s*(=|!=|~|!~)\s*"((?:[^"\\]|\\.)*)"\s*$')


def _drop_none(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _drop_none(v) for k, v in value.items() if v is not None}
    if isinstance(value, list):
        return [_drop_none(v) for v in value]
    return value


class BitbucketFake(BitbucketOps, FakeForge):
    provider = "bitbucket"
    spec_name = "bitbucket"
    api_prefix = "/2.0"
    page_size_default = 10
    routes: ClassVar[dict[str, str]] = {
        f"GET {_R}": "get_repo",
        f"GET {_R}/pullrequests": "list_prs",
        f"POST {_R}/pullrequests": "create_pr",
        f"GET {_PR}": "get_pr",
        f"PUT {_PR}": "update_pr",
        f"POST {_PR}/decline": "decline_pr",
        f"POST {_PR}/merge": "merge_api",
        f"GET {_PR}/comments": "list_comments",
        f"POST {_PR}/comments": "create_comment",
        f"PUT {_PR}/comments/{{comment_id}}": "update_comment",
        f"GET {_PR}/statuses": "pr_statuses",
        f"GET {_R}/commit/{{commit}}/statuses": "commit_statuses",
        f"GET {_R}/refs/branches/{{name}}": "get_branch",
        f"DELETE {_R}/refs/branches/{{name}}": "delete_branch",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        names = [self.bot_user, "a-human", "alice", "bob", "carol"]
        self.accounts = {n: "{" + str(uuid.uuid5(uuid.NAMESPACE_DNS, n)) + "}" for n in names}

    def error_body(self, status: int, message: str) -> Any:
        return {"type": "error", "error": {"message": message}}

    def refusal_reply(self, call: Call, refusal: Any) -> Reply:
        return Reply(400, self.error_body(400, refusal.message))

    # -- rendering --------------------------------------------------------------------------

    def _schema(self, name: str, value: Any) -> Any:
        return self.filler.fill({"$ref": f"#/components/schemas/{name}"}, _drop_none(value))

    def _link(self, suffix: str = "") -> dict[str, Any]:
        return {"href": self.web_url(suffix)}

    def account(self, name: str) -> dict[str, Any]:
        return {
            "type": "user",
            "uuid": self.accounts.setdefault(name, "{" + str(uuid.uuid4()) + "}"),
            "display_name": name,
            "nickname": name,
            "account_id": name,
        }

    def repo_json(self) -> dict[str, Any]:
        return {
            "type": "repository",
            "full_name": self.repository,
            "name": self.repository.split("/")[1],
            "slug": self.repository.split("/")[1],
            "uuid": "{" + str(uuid.uuid5(uuid.NAMESPACE_URL, self.repository)) + "}",
            "links": {"html": self._link(), "clone": [{"name": "https", "href": self.git_url}]},
        }

    def endpoint(self, branch: str, sha: str) -> dict[str, Any]:
        return {
            "branch": {"name": branch},
            "commit": {"hash": sha},
            "repository": self.repo_json(),
        }

    def pr_json(self, pr: PullRequest) -> Any:
        value = {
            "type": "pullrequest",
            "id": pr.number,
            "title": pr.title,
            "description": pr.body,
            "summary": {"raw": pr.body, "markup": "markdown", "html": pr.body},
            "state": _STATE[pr.state],
            "author": self.account(pr.author),
            "source": self.endpoint(pr.head, self.head_sha(pr)),
            "destination": self.endpoint(pr.base, self.repo.sha(pr.base) or ""),
            "merge_commit": {"hash": pr.merge_commit_sha} if pr.merge_commit_sha else None,
            "comment_count": len(pr.comments),
            "task_count": 0,
            "close_source_branch": bool(pr.extra.get("close_source_branch")),
            "closed_by": self.account(pr.merged_by or self.bot_user)
            if pr.state != "open"
            else None,
            "reason": "",
            "created_on": pr.created_at,
            "updated_on": pr.updated_at,
            "reviewers": [self.account(r) for r in pr.reviewers],
            "participants": [
                {
                    "type": "participant",
                    "user": self.account(r),
                    "role": "REVIEWER",
                    "approved": False,
                }
                for r in pr.reviewers
            ],
            "draft": pr.draft,
            "links": {
                "self": {"href": f"{self.api_url}{self._pr_path(pr)}"},
                "html": self._link(f"/pull-requests/{pr.number}"),
            },
        }
        return self._schema("pullrequest", value)

    def _pr_path(self, pr: PullRequest) -> str:
        return f"/repositories/{self.repository}/pullrequests/{pr.number}"

    def comment_json(self, pr: PullRequest, comment: Comment) -> Any:
        return self._schema(
            "pullrequest_comment",
            {
                "type": "pullrequest_comment",
                "id": comment.id,
                "created_on": comment.created_at,
                "updated_on": comment.updated_at,
                "user": self.account(comment.author),
                "content": {"raw": comment.body, "markup": "markdown", "html": comment.body},
                "deleted": False,
                "pullrequest": {"type": "pullrequest", "id": pr.number, "title": pr.title},
                "links": {"html": self._link(f"/pull-requests/{pr.number}#comment-{comment.id}")},
            },
        )

    def status_json(self, status: Status) -> Any:
        return self._schema(
            "commitstatus",
            {
                "type": "build",
                "key": status.context,
                "name": status.context,
                "state": _BUILD[status.state],
                "url": status.target_url or self.web_url("/builds"),
                "description": status.description,
                "created_on": status.created_at,
                "updated_on": status.created_at,
                "uuid": "{" + str(uuid.uuid5(uuid.NAMESPACE_OID, str(status.id))) + "}",
            },
        )

    # -- helpers ----------------------------------------------------------------------------

    def _repo(self, call: Call) -> None:
        if f"{call.params['workspace']}/{call.params['repo_slug']}" != self.repository:
            raise self.fail(404, "Repository not found")

    def _pr(self, call: Call) -> PullRequest:
        self._repo(call)
        pr = self.pulls.get(int(call.params["pull_request_id"]))
        if pr is None:
            raise self.fail(404, "Pull request not found")
        return pr

    def _page(self, call: Call, items: list[Any]) -> Reply:
        size = min(int(call.arg("pagelen") or self.page_size_default), 50)
        page = int(call.arg("page") or 1)
        chunk, last = paginate(items, page=page, size=size)
        value: dict[str, Any] = {"size": len(items), "page": page, "pagelen": size, "values": chunk}
        if page < last:
            base = self.api_url + call.op.template.format(**call.params)
            others = "".join(f"&{k}={v}" for k, vs in call.query.items() if k != "page" for v in vs)
            value["next"] = f"{base}?page={page + 1}{others}"
        return Reply(200, value)

    def _filter(self, query: str) -> Any:
        """``q`` as a predicate over PRs (AND/OR of simple terms, no parentheses)."""
        fields = {
            "source.branch.name": lambda p: p.head,
            "destination.branch.name": lambda p: p.base,
            "state": lambda p: _STATE[p.state],
            "title": lambda p: p.title,
        }
        alternatives = []
        for alternative in re.split(r"\s+OR\s+", query.strip()):
            terms = []
            for term in re.split(r"\s+AND\s+", alternative):
                match = _TERM.match(term)
                if match is None or match.group(1) not in fields:
                    raise self.fail(400, f"Invalid query: {term!r}")
                name, operator, value = match.groups()
                terms.append((fields[name], operator, value.replace('\\"', '"')))
            alternatives.append(terms)

        def test(pr: PullRequest) -> bool:
            checks = {
                "=": lambda a, b: a == b,
                "!=": lambda a, b: a != b,
                "~": lambda a, b: b in a,
                "!~": lambda a, b: b not in a,
            }
            return any(
                all(checks[op](get(pr), v) for get, op, v in terms) for terms in alternatives
            )

        return test
