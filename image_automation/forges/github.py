"""GitHub and GitHub Enterprise Server pull requests (REST, plus GraphQL for auto-merge).

GitHub answers conditional requests: a GET that repeats an ETag costs no rate limit when
the answer is 304, so the steady state (find the open pull request, read the default branch)
is nearly free. Labels, comments and assignees of a pull request live under the Issues
API; auto-merge exists only as the GraphQL mutation ``enablePullRequestAutoMerge``.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from image_automation.errors import (
    ForgeAuthError,
    ForgeConflict,
    ForgeError,
    ForgeNotFound,
)
from image_automation.forges._auth import Auth, StaticAuth
from image_automation.forges._github_app import InstallationAuth
from image_automation.forges._http import ForgeHttp, Page, Reply, link_next, seg, split_repository
from image_automation.forges._limits import Clock
from image_automation.forges.base import (
    Capabilities,
    CheckRun,
    Checks,
    CheckState,
    ForgeSettings,
    MergeMethod,
    NewPullRequest,
    PullRequest,
    combine,
)

API_VERSION = "2022-11-28"
_GOOD_CONCLUSIONS = frozenset({"success", "neutral", "skipped"})
_AUTO_MERGE = (
    "mutation($pullRequestId: ID!, $mergeMethod: PullRequestMergeMethod!) {"
    " enablePullRequestAutoMerge(input: {pullRequestId: $pullRequestId,"
    " mergeMethod: $mergeMethod}) { pullRequest { number } } }"
)


def graphql_url(api_url: str) -> str:
    """``https://api.github.com/graphql``; Enterprise Server ``https://HOST/api/graphql``."""
    base = api_url.rstrip("/")
    if base.endswith("/api/v3"):
        return base[: -len("/v3")] + "/graphql"
    return base + "/graphql"


def _pull(data: Any) -> PullRequest:
    merged = data.get("merged_at") is not None or data.get("merged") is True
    state: Literal["open", "closed", "merged"] = "merged" if merged else "closed"
    if not merged and data["state"] == "open":
        state = "open"
    return PullRequest(
        number=int(data["number"]),
        url=str(data["html_url"]),
        state=state,
        head_branch=str(data["head"]["ref"]),
        base_branch=str(data["base"]["ref"]),
        head_sha=str(data["head"]["sha"]),
        title=str(data["title"]),
        body=str(data.get("body") or ""),
        labels=tuple(str(label["name"]) for label in data.get("labels") or ()),
        draft=bool(data.get("draft")),
        node_id=str(data.get("node_id") or ""),
    )


def _check_runs(reply: Reply, data: Any, params: httpx.QueryParams) -> Page:
    page = link_next(reply, data, params)
    runs = data.get("check_runs") if isinstance(data, dict) else None
    return Page(list(runs or ()), page.next_url)


def _run_of_check(run: Any) -> CheckRun:
    if run["status"] != "completed":
        state: CheckState = "pending"
    else:
        state = "success" if run.get("conclusion") in _GOOD_CONCLUSIONS else "failure"
    return CheckRun(str(run["name"]), state, str(run.get("html_url") or ""))


def _run_of_status(status: Any) -> CheckRun:
    said = status["state"]
    state: CheckState = "success" if said == "success" else "failure"  # error, failure
    if said == "pending":
        state = "pending"
    return CheckRun(str(status["context"]), state, str(status.get("target_url") or ""))


class GitHubForge:
    """One repository on github.com or a GitHub Enterprise Server."""

    capabilities = Capabilities(
        labels=True, assignees=True, auto_merge=True, draft=True, conditional=True
    )

    def __init__(
        self,
        settings: ForgeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock,
    ) -> None:
        self._owner, self._name = split_repository(settings.repository, "github")
        auth: Auth
        if settings.app is not None:
            auth = InstallationAuth(settings.app)
        else:
            auth = StaticAuth("Authorization", f"Bearer {settings.token}" if settings.token else "")
        self.http = ForgeHttp(
            forge="github",
            settings=settings,
            auth=auth,
            transport=transport,
            clock=clock,
            conditional=True,
            headers={"Accept": "application/vnd.github+json", "X-GitHub-Api-Version": API_VERSION},
        )
        self._repo = f"/repos/{seg(self._owner)}/{seg(self._name)}"
        self._graphql = graphql_url(settings.api_url)

    async def default_branch(self) -> str:
        data = await self.http.json("GET", self._repo)
        return self.http.parse("GET repository", lambda: str(data["default_branch"]))

    async def find_pull_request(
        self, head: str, *, base: str | None = None, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        params = {
            "head": f"{self._owner}:{head}",
            "state": state,
            "sort": "created",
            "direction": "desc",
            "per_page": 30,
        }
        if base is not None:
            params["base"] = base
        data = await self.http.json("GET", f"{self._repo}/pulls", params=params)
        pulls = self.http.parse("GET pulls", lambda: [_pull(item) for item in data])
        # The API filters by head already; checking again guards against a forge that ignores
        # the filter (a wrong pull request would be edited otherwise).
        mine = [
            p for p in pulls if p.head_branch == head and (base is None or p.base_branch == base)
        ]
        return max(mine, key=lambda p: p.number) if mine else None

    async def get_pull_request(self, number: int) -> PullRequest:
        data = await self.http.json("GET", f"{self._repo}/pulls/{int(number)}")
        return self.http.parse("GET pull", lambda: _pull(data))

    async def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        body: dict[str, Any] = {
            "title": new.title,
            "head": new.head,
            "base": new.base,
            "body": new.body,
        }
        if new.draft:
            body["draft"] = True
        data = await self.http.json("POST", f"{self._repo}/pulls", json_body=body)
        pull = self.http.parse("POST pulls", lambda: _pull(data))
        if new.labels:
            return await self.update_pull_request(pull.number, labels=new.labels)
        return pull

    async def update_pull_request(
        self,
        number: int,
        *,
        title: str | None = None,
        body: str | None = None,
        labels: tuple[str, ...] | None = None,
        base: str | None = None,
        draft: bool | None = None,
    ) -> PullRequest:
        if labels:
            # The set-labels body needs at least one label (minItems 1): an empty set is left.
            path = f"{self._repo}/issues/{int(number)}/labels"
            await self.http.json("PUT", path, json_body={"labels": list(labels)})
        fields = {
            key: value
            for key, value in (("title", title), ("body", body), ("base", base))
            if value is not None
        }
        if not fields:
            return await self.get_pull_request(number)
        data = await self.http.json("PATCH", f"{self._repo}/pulls/{int(number)}", json_body=fields)
        return self.http.parse("PATCH pull", lambda: _pull(data))

    async def close_pull_request(self, number: int, *, comment: str | None = None) -> PullRequest:
        if comment:
            await self.comment(number, comment)
        path = f"{self._repo}/pulls/{int(number)}"
        data = await self.http.json("PATCH", path, json_body={"state": "closed"})
        return self.http.parse("PATCH pull", lambda: _pull(data))

    async def comment(self, number: int, body: str) -> None:
        path = f"{self._repo}/issues/{int(number)}/comments"
        await self.http.request("POST", path, json_body={"body": body}, ok=frozenset({201}))

    async def request_review(
        self, number: int, *, reviewers: tuple[str, ...] = (), assignees: tuple[str, ...] = ()
    ) -> None:
        users = [r for r in reviewers if "/" not in r]
        teams = [r.rsplit("/", 1)[1] for r in reviewers if "/" in r]  # org/team → team slug
        if users or teams:
            body: dict[str, list[str]] = {}
            if users:
                body["reviewers"] = users
            if teams:
                body["team_reviewers"] = teams
            path = f"{self._repo}/pulls/{int(number)}/requested_reviewers"
            await self.http.request("POST", path, json_body=body, idempotent=True)
        if assignees:
            path = f"{self._repo}/issues/{int(number)}/assignees"
            await self.http.request(
                "POST", path, json_body={"assignees": list(assignees)}, idempotent=True
            )

    async def enable_auto_merge(self, number: int, *, method: MergeMethod = "merge") -> bool:
        pull = await self.get_pull_request(number)
        variables = {"pullRequestId": pull.node_id, "mergeMethod": method.upper()}
        data = await self.http.json(
            "POST",
            self._graphql,
            json_body={"query": _AUTO_MERGE, "variables": variables},
            idempotent=True,  # enabling twice is enabling once
        )
        errors = data.get("errors") if isinstance(data, dict) else None
        if not errors:
            return True
        return self._auto_merge_refused(number, errors)

    def _auto_merge_refused(self, number: int, errors: Any) -> bool:
        said = "; ".join(str(e.get("message", e)) for e in errors if isinstance(e, dict))
        kinds = {e.get("type") for e in errors if isinstance(e, dict)}
        if "not allowed for this repository" in said or "auto-merge is not enabled" in said:
            return False  # the repository has auto-merge switched off: the forge has none
        cls: type[ForgeError] = ForgeError
        if "NOT_FOUND" in kinds:
            cls = ForgeNotFound
        elif "FORBIDDEN" in kinds:
            cls = ForgeAuthError
        elif "clean status" in said or "UNPROCESSABLE" in kinds:
            cls = ForgeConflict
        raise self.http.fail(f"auto-merge of #{number} refused: {said[:300]}", cls=cls)

    async def checks(self, sha: str) -> Checks:
        ref = f"{self._repo}/commits/{seg(sha)}"
        combined = await self.http.json("GET", f"{ref}/status", params={"per_page": 100})
        statuses = self.http.parse(
            "GET status", lambda: [_run_of_status(s) for s in combined["statuses"]]
        )
        items = await self.http.collect(
            f"{ref}/check-runs", params={"per_page": 100}, paging=_check_runs
        )
        runs = self.http.parse("GET check-runs", lambda: [_run_of_check(r) for r in items])
        return combine((*statuses, *runs))

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["GitHubForge", "graphql_url"]
