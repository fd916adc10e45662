"""Bitbucket Cloud pull requests (``https://api.bitbucket.org/2.0``).

Bitbucket's API has no pull-request labels, no assignees and no auto-merge (only a branch
restriction a human sets up): :data:`capabilities` says so, asking anyway raises
``ForgeUnsupported`` before any request, and :meth:`enable_auto_merge` answers False.
Reviewers are account UUIDs (``{…}``). Lists page through a ``next`` link in the body.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from image_automation.errors import ForgeUnsupported
from image_automation.forges._auth import StaticAuth, basic
from image_automation.forges._http import ForgeHttp, Page, Reply, seg, split_repository
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

_ALL_STATES = ("OPEN", "MERGED", "DECLINED", "SUPERSEDED")
_PULL_STATES: dict[str, Literal["open", "closed", "merged"]] = {
    "OPEN": "open",
    "MERGED": "merged",
    "DECLINED": "closed",
    "SUPERSEDED": "closed",
}
_CHECK_STATES: dict[str, CheckState] = {"SUCCESSFUL": "success", "INPROGRESS": "pending"}
_PAGE = 50


def _pull(data: Any) -> PullRequest:
    summary = data.get("summary") or {}
    return PullRequest(
        number=int(data["id"]),
        url=str(data["links"]["html"]["href"]),
        state=_PULL_STATES[str(data["state"])],
        head_branch=str(data["source"]["branch"]["name"]),
        base_branch=str(data["destination"]["branch"]["name"]),
        head_sha=str((data["source"].get("commit") or {}).get("hash") or ""),
        title=str(data["title"]),
        body=str(summary.get("raw") or data.get("description") or ""),
        labels=(),
        draft=bool(data.get("draft")),
    )


def _source(item: Any) -> str | None:
    try:
        return str(item["source"]["branch"]["name"])
    except (KeyError, TypeError):
        return None


def _values(reply: Reply, data: Any, params: httpx.QueryParams) -> Page:
    if not isinstance(data, dict):
        return Page([])
    next_url = data.get("next")
    return Page(list(data.get("values") or ()), str(next_url) if next_url else None)


def _run(status: Any) -> CheckRun:
    state = _CHECK_STATES.get(str(status["state"]), "failure")  # FAILED, STOPPED
    name = str(status.get("name") or status.get("key") or "status")
    return CheckRun(name, state, str(status.get("url") or ""))


def bbql_string(value: str) -> str:
    """``value`` as a BBQL string literal (``q=`` filters), quotes and backslashes escaped."""
    return '"' + value.replace("\\", "\\\\").replace('"', '\\"') + '"'


class BitbucketForge:
    """One repository (``workspace/slug``) on Bitbucket Cloud."""

    capabilities = Capabilities(
        labels=False, assignees=False, auto_merge=False, draft=True, conditional=False
    )

    def __init__(
        self,
        settings: ForgeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock,
    ) -> None:
        workspace, slug = split_repository(settings.repository, "bitbucket")
        if settings.username:  # an app password goes with its user name
            auth = StaticAuth(
                "Authorization", basic(settings.username, settings.token), secret=settings.token
            )
        else:  # an access token (repository, project or workspace)
            auth = StaticAuth("Authorization", f"Bearer {settings.token}" if settings.token else "")
        self.http = ForgeHttp(
            forge="bitbucket",
            settings=settings,
            auth=auth,
            transport=transport,
            clock=clock,
            conditional=False,
        )
        self._repo = f"/repositories/{seg(workspace)}/{seg(slug)}"

    async def default_branch(self) -> str:
        data = await self.http.json("GET", self._repo)
        return self.http.parse("GET repository", lambda: str(data["mainbranch"]["name"]))

    async def find_pull_request(
        self, head: str, *, base: str | None = None, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        query = f"source.branch.name = {bbql_string(head)}"
        if base is not None:
            query += f" AND destination.branch.name = {bbql_string(base)}"
        states = _ALL_STATES if state == "all" else ("OPEN",)
        params: list[tuple[str, str | int]] = [("state", s) for s in states]
        params += [("q", query), ("sort", "-created_on"), ("pagelen", _PAGE)]
        items = await self.http.collect(
            f"{self._repo}/pullrequests",
            params=params,
            paging=_values,
            # Newest first: the first page holding one of ours holds the newest.
            stop=lambda found: any(_source(i) == head for i in found),
        )
        pulls = self.http.parse("GET pullrequests", lambda: [_pull(item) for item in items])
        mine = [
            p for p in pulls if p.head_branch == head and (base is None or p.base_branch == base)
        ]
        return max(mine, key=lambda p: p.number) if mine else None

    async def get_pull_request(self, number: int) -> PullRequest:
        data = await self.http.json("GET", f"{self._repo}/pullrequests/{int(number)}")
        return self.http.parse("GET pullrequest", lambda: _pull(data))

    async def _raw(self, number: int) -> Any:
        return await self.http.json("GET", f"{self._repo}/pullrequests/{int(number)}")

    async def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        self._no_labels(new.labels)
        body: dict[str, Any] = {
            "type": "pullrequest",
            "title": new.title,
            "source": {"branch": {"name": new.head}},
            "destination": {"branch": {"name": new.base}},
            # The spec reads the body as summary.raw; the API has always taken description.
            "summary": {"raw": new.body},
            "description": new.body,
            "draft": new.draft,
        }
        data = await self.http.json("POST", f"{self._repo}/pullrequests", json_body=body)
        return self.http.parse("POST pullrequests", lambda: _pull(data))

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
        self._no_labels(labels or ())
        if title is None and body is None and base is None:
            return await self.get_pull_request(number)
        if title is None:  # the update carries the title, or Bitbucket may refuse it
            title = (await self.get_pull_request(number)).title
        fields: dict[str, Any] = {"type": "pullrequest", "title": title}
        if body is not None:
            fields["summary"] = {"raw": body}
            fields["description"] = body
        if base is not None:
            fields["destination"] = {"branch": {"name": base}}
        return await self._put(number, fields)

    async def _put(self, number: int, fields: dict[str, Any]) -> PullRequest:
        path = f"{self._repo}/pullrequests/{int(number)}"
        data = await self.http.json("PUT", path, json_body=fields)
        return self.http.parse("PUT pullrequest", lambda: _pull(data))

    async def close_pull_request(self, number: int, *, comment: str | None = None) -> PullRequest:
        if comment:
            await self.comment(number, comment)
        path = f"{self._repo}/pullrequests/{int(number)}/decline"
        data = await self.http.json("POST", path, idempotent=True)  # declining twice is once
        return self.http.parse("POST decline", lambda: _pull(data))

    async def comment(self, number: int, body: str) -> None:
        path = f"{self._repo}/pullrequests/{int(number)}/comments"
        payload = {"type": "pullrequest_comment", "content": {"raw": body}}
        await self.http.request("POST", path, json_body=payload, ok=frozenset({201}))

    async def request_review(
        self, number: int, *, reviewers: tuple[str, ...] = (), assignees: tuple[str, ...] = ()
    ) -> None:
        if assignees:
            raise self.http.fail("pull requests have no assignees here", cls=ForgeUnsupported)
        if not reviewers:
            return
        data = await self._raw(number)
        present, title = self.http.parse(
            "GET pullrequest",
            lambda: ([str(r["uuid"]) for r in data.get("reviewers") or ()], str(data["title"])),
        )
        wanted = list(dict.fromkeys([*present, *reviewers]))
        if wanted == present:
            return
        users = [{"type": "user", "uuid": uuid} for uuid in wanted]
        await self._put(number, {"type": "pullrequest", "title": title, "reviewers": users})

    async def enable_auto_merge(self, number: int, *, method: MergeMethod = "merge") -> bool:
        return False  # no such operation; a branch restriction can merge on green builds

    async def checks(self, sha: str) -> Checks:
        path = f"{self._repo}/commit/{seg(sha)}/statuses"
        items = await self.http.collect(path, params={"pagelen": 100}, paging=_values)
        return combine(self.http.parse("GET statuses", lambda: tuple(_run(s) for s in items)))

    def _no_labels(self, labels: tuple[str, ...]) -> None:
        if labels:
            raise self.http.fail("pull requests have no labels here", cls=ForgeUnsupported)

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["BitbucketForge", "bbql_string"]
