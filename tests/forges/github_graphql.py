"""The fake GitHub's GraphQL endpoint (``POST /api/graphql``, as on Enterprise Server).

GitHub enables auto-merge only through GraphQL and no official machine-readable description of
that API is among our fixtures, so the fake checks queries against our own contract,
``github/graphql-automerge.schema.json`` (see :mod:`tests.forges.graphql_contract`): a query
that does not parse or does not validate against it is a violation (and is answered with
GraphQL ``errors``, as GitHub does); a valid one is executed against the fake's state.
Refusals GitHub documents are GraphQL errors with a ``type``, not violations: an unknown node
id (``NOT_FOUND``), a PR that is not open, or one already in "clean status" (mergeable with
nothing left to wait for: GitHub then wants a plain merge instead of auto-merge).
"""

from __future__ import annotations

import json
from typing import Any

from aiohttp import web
from graphql import GraphQLError, execute, parse, validate

from tests.forges.graphql_contract import load_schema
from tests.forges.state import PullRequest, Seen, now

_MERGE_METHODS = {"MERGE": "merge", "SQUASH": "squash", "REBASE": "rebase"}


class _Refused(GraphQLError):
    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message, extensions={"type": kind})


class GraphQLEndpoint:
    """Mixed into the GitHub fake (needs its lock, state, ``authenticate`` and hooks)."""

    def add_routes(self: Any, app: web.Application) -> None:
        app.router.add_post("/api/graphql", self._graphql)

    async def _graphql(self: Any, request: web.Request) -> web.Response:
        raw = await request.read()
        status, reply = self._graphql_reply(request, raw)
        self.record(
            Seen("POST", "/graphql", "POST /graphql", "graphql", status, dict(request.headers), raw)
        )
        return web.json_response(reply, status=status)

    def _graphql_reply(self: Any, request: web.Request, raw: bytes) -> tuple[int, Any]:
        if self.authenticate(request.headers) in (None, f"app:{self.app.app_id}"):
            return 401, {
                "message": "Bad credentials",
                "documentation_url": "https://docs.github.com/graphql",
            }
        try:
            payload = json.loads(raw)
            query, variables = payload["query"], payload.get("variables") or {}
            document = parse(query)
        except (ValueError, KeyError, TypeError, GraphQLError) as exc:
            self.violation("graphql", "POST /graphql", f"not a GraphQL request: {exc}")
            return 200, {"errors": [{"message": f"Problems parsing JSON or query: {exc}"}]}
        problems = validate(load_schema(), document)
        if problems:
            for problem in problems:
                self.violation("graphql", "POST /graphql", problem.message)
            return 200, {"errors": [p.formatted for p in problems]}
        with self.lock:
            result = execute(
                load_schema(),
                document,
                root_value=self._graphql_root(),
                variable_values=variables,
                operation_name=payload.get("operationName"),
            )
            self.after_change()
        body: dict[str, Any] = {"data": result.data}
        if result.errors:
            body["errors"] = [self._graphql_error(e) for e in result.errors]
        return 200, body

    def _graphql_error(self: Any, error: GraphQLError) -> dict[str, Any]:
        formatted = dict(error.formatted)
        kind = (error.extensions or {}).get("type")
        if kind is None:  # not a deliberate refusal: the fake or the variables are wrong
            self.violation("graphql", "POST /graphql", error.message)
        formatted.pop("extensions", None)
        formatted["type"] = kind or "INTERNAL"
        return formatted

    def _graphql_root(self: Any) -> dict[str, Any]:
        return {
            "node": lambda info, id: self._node(id),
            "enablePullRequestAutoMerge": lambda info, input: self._enable_auto_merge(input),
            "disablePullRequestAutoMerge": lambda info, input: self._disable_auto_merge(input),
        }

    def _by_node_id(self: Any, node_id: str) -> PullRequest:
        for pr in self.pulls.values():
            if pr.node_id == node_id:
                return pr
        raise _Refused(
            "NOT_FOUND", f"Could not resolve to a node with the global id of '{node_id}'"
        )

    def _node(self: Any, node_id: str) -> dict[str, Any]:
        return self._pr_node(self._by_node_id(node_id))

    def _enable_auto_merge(self: Any, args: dict[str, Any]) -> dict[str, Any]:
        pr = self._by_node_id(args["pullRequestId"])
        if pr.state != "open":
            raise _Refused("UNPROCESSABLE", "Pull request is not open")
        expected = args.get("expectedHeadOid")
        if expected and expected != self.head_sha(pr):
            raise _Refused("UNPROCESSABLE", "Head branch was modified")
        mergeable = self.repo.mergeable(pr.base, pr.head)
        if self.mergeable_state(pr, mergeable) == "clean":
            raise _Refused("UNPROCESSABLE", "Pull request is in clean status")
        pr.auto_merge = _MERGE_METHODS[args.get("mergeMethod") or "MERGE"]
        pr.auto_merge_by = self.bot_user
        pr.extra["auto_merge_at"] = now()
        pr.touch()
        return {
            "clientMutationId": args.get("clientMutationId"),
            "pullRequest": self._pr_node(pr),
            "actor": self._actor(self.bot_user),
        }

    def _disable_auto_merge(self: Any, args: dict[str, Any]) -> dict[str, Any]:
        pr = self._by_node_id(args["pullRequestId"])
        pr.auto_merge = None
        pr.touch()
        return {
            "clientMutationId": args.get("clientMutationId"),
            "pullRequest": self._pr_node(pr),
            "actor": self._actor(self.bot_user),
        }

    def _actor(self: Any, login: str) -> dict[str, Any]:
        return {
            "__typename": "Bot" if login.endswith("bot") else "User",
            "id": f"U_{login}",
            "login": login,
        }

    def _pr_node(self: Any, pr: PullRequest) -> dict[str, Any]:
        mergeable = self.repo.mergeable(pr.base, pr.head) if pr.state == "open" else None
        auto = None
        if pr.auto_merge is not None:
            auto = {
                "mergeMethod": pr.auto_merge.upper(),
                "enabledAt": pr.extra.get("auto_merge_at"),
                "enabledBy": self._actor(pr.auto_merge_by or self.bot_user),
                "commitHeadline": None,
                "commitBody": None,
                "authorEmail": None,
            }
        node = {
            "__typename": "PullRequest",
            "id": pr.node_id,
            "number": pr.number,
            "title": pr.title,
            "state": pr.state.upper(),
            "url": f"{self.base_url}/{self.repository}/pull/{pr.number}",
            "headRefName": pr.head,
            "headRefOid": self.head_sha(pr),
            "baseRefName": pr.base,
            "isDraft": pr.draft,
            "mergeable": {True: "MERGEABLE", False: "CONFLICTING"}.get(mergeable, "UNKNOWN"),
            "autoMergeRequest": auto,
        }
        if auto is not None:
            auto["pullRequest"] = node
        return node
