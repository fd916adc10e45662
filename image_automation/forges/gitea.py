"""Gitea and Forgejo pull requests (``/api/v1``): one class, two flavours.

Forgejo forked Gitea and the APIs still match for what we use, with three differences the
specs show: the merge body names its action ``Do`` (Gitea: ``do``), Forgejo has no
"add assignees" operation (assignees go through the pull request edit), and Forgejo's list
filters by head branch (Gitea's does not: we filter ourselves). Labels are sent by id, so
names are looked up once per client. Drafts are titles with a ``WIP:`` prefix.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from image_automation.errors import ForgeNotFound
from image_automation.forges._auth import StaticAuth
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
    strip_prefix,
)

DRAFT_PREFIX = "WIP: "
_DRAFT_PREFIXES = ("WIP:", "[WIP]")  # Gitea's default WORK_IN_PROGRESS_PREFIXES
_PAGE = 50  # Gitea's default MAX_RESPONSE_ITEMS
_STATES: dict[str, CheckState] = {
    "success": "success",
    "warning": "success",
    "skipped": "success",
    "pending": "pending",
}


def _pull(data: Any) -> PullRequest:
    draft = bool(data.get("draft"))
    title = str(data["title"])
    if draft:
        title, _ = strip_prefix(title, _DRAFT_PREFIXES)
    state: Literal["open", "closed", "merged"] = "open" if data["state"] == "open" else "closed"
    if data.get("merged"):
        state = "merged"
    return PullRequest(
        number=int(data["number"]),
        url=str(data["html_url"]),
        state=state,
        head_branch=str(data["head"]["ref"]),
        base_branch=str(data["base"]["ref"]),
        head_sha=str(data["head"]["sha"]),
        title=title,
        body=str(data.get("body") or ""),
        labels=tuple(str(label["name"]) for label in data.get("labels") or ()),
        draft=draft,
    )


def _statuses(reply: Reply, data: Any, params: httpx.QueryParams) -> Page:
    page = link_next(reply, data, params)
    return Page(list(data.get("statuses") or ()) if isinstance(data, dict) else [], page.next_url)


def _run(status: Any) -> CheckRun:
    state = _STATES.get(str(status["status"]), "failure")  # error, failure
    return CheckRun(str(status["context"]), state, str(status.get("target_url") or ""))


class GiteaForge:
    """One repository on a Gitea (``provider="gitea"``) or Forgejo (``"forgejo"``) server."""

    capabilities = Capabilities(
        labels=True, assignees=True, auto_merge=True, draft=True, conditional=False
    )

    def __init__(
        self,
        settings: ForgeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock,
    ) -> None:
        self.flavour: Literal["gitea", "forgejo"] = (
            "forgejo" if settings.provider == "forgejo" else "gitea"
        )
        owner, name = split_repository(settings.repository, self.flavour)
        auth = StaticAuth("Authorization", f"token {settings.token}" if settings.token else "")
        self.http = ForgeHttp(
            forge=self.flavour,
            settings=settings,
            auth=auth,
            transport=transport,
            clock=clock,
            conditional=False,
        )
        self._repo = f"/repos/{seg(owner)}/{seg(name)}"
        self._label_ids: dict[str, int] | None = None

    async def default_branch(self) -> str:
        data = await self.http.json("GET", self._repo)
        return self.http.parse("GET repository", lambda: str(data["default_branch"]))

    async def find_pull_request(
        self, head: str, *, base: str | None = None, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        params: dict[str, Any] = {"state": state, "limit": _PAGE}
        if self.flavour == "forgejo":
            params["head"] = head
            if base is not None:
                params["base"] = base
        elif base is not None:
            params["base_branch"] = base
        items = await self.http.collect(f"{self._repo}/pulls", params=params, paging=link_next)
        pulls = self.http.parse("GET pulls", lambda: [_pull(item) for item in items])
        mine = [
            p for p in pulls if p.head_branch == head and (base is None or p.base_branch == base)
        ]
        return max(mine, key=lambda p: p.number) if mine else None

    async def get_pull_request(self, number: int) -> PullRequest:
        data = await self.http.json("GET", f"{self._repo}/pulls/{int(number)}")
        return self.http.parse("GET pull", lambda: _pull(data))

    async def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        body: dict[str, Any] = {
            "head": new.head,
            "base": new.base,
            "title": DRAFT_PREFIX + new.title if new.draft else new.title,
            "body": new.body,
        }
        if new.labels:
            body["labels"] = await self._ids(new.labels)
        data = await self.http.json("POST", f"{self._repo}/pulls", json_body=body)
        return self.http.parse("POST pulls", lambda: _pull(data))

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
            path = f"{self._repo}/issues/{int(number)}/labels"
            await self.http.json("PUT", path, json_body={"labels": await self._ids(labels)})
        fields: dict[str, Any] = {}
        if title is not None:
            # A draft's title keeps its prefix, or the edit would mark it ready.
            if draft is None:
                draft = (await self.get_pull_request(number)).draft
            fields["title"] = DRAFT_PREFIX + title if draft else title
        if body is not None:
            fields["body"] = body
        if base is not None:
            fields["base"] = base
        if not fields:
            return await self.get_pull_request(number)
        return await self._edit(number, fields)

    async def _edit(self, number: int, fields: dict[str, Any]) -> PullRequest:
        data = await self.http.json("PATCH", f"{self._repo}/pulls/{int(number)}", json_body=fields)
        return self.http.parse("PATCH pull", lambda: _pull(data))

    async def close_pull_request(self, number: int, *, comment: str | None = None) -> PullRequest:
        if comment:
            await self.comment(number, comment)
        return await self._edit(number, {"state": "closed"})

    async def comment(self, number: int, body: str) -> None:
        path = f"{self._repo}/issues/{int(number)}/comments"
        await self.http.request("POST", path, json_body={"body": body}, ok=frozenset({201}))

    async def request_review(
        self, number: int, *, reviewers: tuple[str, ...] = (), assignees: tuple[str, ...] = ()
    ) -> None:
        users = [r for r in reviewers if "/" not in r]
        teams = [r.rsplit("/", 1)[1] for r in reviewers if "/" in r]
        if users or teams:
            body: dict[str, list[str]] = {}
            if users:
                body["reviewers"] = users
            if teams:
                body["team_reviewers"] = teams
            path = f"{self._repo}/pulls/{int(number)}/requested_reviewers"
            await self.http.request("POST", path, json_body=body, idempotent=True)
        if not assignees:
            return
        if self.flavour == "gitea":
            path = f"{self._repo}/issues/{int(number)}/assignees"
            await self.http.request(
                "POST", path, json_body={"assignees": list(assignees)}, idempotent=True
            )
            return
        # Forgejo: the edit replaces the assignees, so keep the ones already there.
        data = await self.http.json("GET", f"{self._repo}/pulls/{int(number)}")
        present = self.http.parse(
            "GET pull", lambda: [str(a["login"]) for a in data.get("assignees") or ()]
        )
        wanted = list(dict.fromkeys([*present, *assignees]))
        await self._edit(number, {"assignees": wanted})

    async def enable_auto_merge(self, number: int, *, method: MergeMethod = "merge") -> bool:
        # Gitea merges at once when the checks have already passed: that is the contract.
        action = "Do" if self.flavour == "forgejo" else "do"
        body = {action: method, "merge_when_checks_succeed": True}
        path = f"{self._repo}/pulls/{int(number)}/merge"
        await self.http.request("POST", path, json_body=body, idempotent=True)
        return True

    async def checks(self, sha: str) -> Checks:
        path = f"{self._repo}/commits/{seg(sha)}/status"
        items = await self.http.collect(path, params={"limit": _PAGE}, paging=_statuses)
        runs = self.http.parse("GET status", lambda: tuple(_run(s) for s in items))
        return combine(runs)

    async def _ids(self, names: tuple[str, ...]) -> list[int]:
        """Label ids for ``names``; the repository's labels are read once, again if one is
        missing (created since), and a label that does not exist is an error."""
        if self._label_ids is None or any(n not in self._label_ids for n in names):
            items = await self.http.collect(
                f"{self._repo}/labels", params={"limit": _PAGE}, paging=link_next
            )
            self._label_ids = self.http.parse(
                "GET labels", lambda: {str(i["name"]): int(i["id"]) for i in items}
            )
        missing = [n for n in names if n not in self._label_ids]
        if missing:
            raise self.http.fail(
                f"label(s) {', '.join(repr(m[:50]) for m in missing)} do not exist in the "
                "repository; create them first",
                cls=ForgeNotFound,
            )
        return [self._label_ids[n] for n in names]

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["GiteaForge"]
