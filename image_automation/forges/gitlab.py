"""GitLab merge requests (gitlab.com or self-managed, ``/api/v4``).

GitLab says "merge request" and ``iid``; the project is addressed by its URL-encoded path
(``group%2Fsub%2Fproject``). Labels travel as one comma-separated string; reviewers and
assignees by numeric user id, looked up by username once per client. Drafts are titles
with a ``Draft:`` prefix. Auto-merge is the merge endpoint with ``auto_merge`` (GitLab
17.11+) and its older name ``merge_when_pipeline_succeeds``, pinned to the head we saw.
"""

from __future__ import annotations

from typing import Any, Literal

import httpx

from image_automation.errors import ForgeConflict, ForgeError, ForgeNotFound
from image_automation.forges._auth import StaticAuth
from image_automation.forges._http import ForgeHttp, Page, Reply, seg
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

DRAFT_PREFIX = "Draft: "
_DRAFT_PREFIXES = ("Draft:", "[Draft]", "(Draft)", "Draft -", "WIP:", "[WIP]")
_STATES: dict[str, Literal["open", "closed", "merged"]] = {
    "opened": "open",
    "locked": "open",  # transient, while GitLab merges it
    "closed": "closed",
    "merged": "merged",
}
_CHECKS: dict[str, CheckState] = {
    "success": "success",
    "skipped": "success",
    "failed": "failure",
    "canceled": "failure",
}  # created, waiting_for_resource, preparing, pending, running, manual, scheduled: pending
_PAGE = 100


def _pull(data: Any) -> PullRequest:
    draft = bool(data.get("draft") or data.get("work_in_progress"))
    title = str(data["title"])
    if draft:
        title, _ = strip_prefix(title, _DRAFT_PREFIXES)
    return PullRequest(
        number=int(data["iid"]),
        url=str(data["web_url"]),
        state=_STATES[str(data["state"])],
        head_branch=str(data["source_branch"]),
        base_branch=str(data["target_branch"]),
        head_sha=str(data.get("sha") or ""),
        title=title,
        body=str(data.get("description") or ""),
        labels=tuple(str(label) for label in data.get("labels") or ()),
        draft=draft,
    )


def _next_page(reply: Reply, data: Any, params: httpx.QueryParams) -> Page:
    items = data if isinstance(data, list) else []
    following = reply.headers.get("x-next-page", "").strip()
    if not following.isdigit():
        return Page(items)
    return Page(items, next_params=params.set("page", following))


def _run(status: Any) -> CheckRun:
    state = _CHECKS.get(str(status["status"]), "pending")
    return CheckRun(str(status["name"]), state, str(status.get("target_url") or ""))


def label_string(labels: tuple[str, ...]) -> str:
    """GitLab's one-string label list; a name with a comma cannot be said in it."""
    for name in labels:
        if "," in name or not name.strip():
            raise ForgeError(f"gitlab: label {name[:50]!r} is empty or holds a comma")
    return ",".join(labels)


class GitLabForge:
    """One project on gitlab.com or a self-managed GitLab."""

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
        path = settings.repository.strip("/")
        if len(path.split("/")) < 2 or not all(path.split("/")):
            raise ForgeError(
                f"gitlab: repository must be 'group/project', got {settings.repository[:200]!r}"
            )
        self.http = ForgeHttp(
            forge="gitlab",
            settings=settings,
            auth=StaticAuth("Authorization", f"Bearer {settings.token}" if settings.token else ""),
            transport=transport,
            clock=clock,
            conditional=False,
        )
        self._project = f"/projects/{seg(path)}"
        self._users: dict[str, int] = {}

    async def default_branch(self) -> str:
        data = await self.http.json("GET", self._project)
        branch = self.http.parse("GET project", lambda: data["default_branch"])
        if not branch:
            raise self.http.fail("the project has no default branch (empty repository)")
        return str(branch)

    async def find_pull_request(
        self, head: str, *, base: str | None = None, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        params: dict[str, Any] = {
            "source_branch": head,
            "state": "opened" if state == "open" else "all",
            "order_by": "created_at",
            "sort": "desc",
            "per_page": _PAGE,
        }
        if base is not None:
            params["target_branch"] = base
        items = await self.http.collect(
            f"{self._project}/merge_requests",
            params=params,
            paging=_next_page,
            # Newest first: the first page holding one of ours holds the newest.
            stop=lambda found: any(
                isinstance(i, dict) and i.get("source_branch") == head for i in found
            ),
        )
        pulls = self.http.parse("GET merge_requests", lambda: [_pull(item) for item in items])
        mine = [
            p for p in pulls if p.head_branch == head and (base is None or p.base_branch == base)
        ]
        return max(mine, key=lambda p: p.number) if mine else None

    async def _raw(self, number: int) -> Any:
        return await self.http.json("GET", f"{self._project}/merge_requests/{int(number)}")

    async def get_pull_request(self, number: int) -> PullRequest:
        data = await self._raw(number)
        return self.http.parse("GET merge_request", lambda: _pull(data))

    async def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        body: dict[str, Any] = {
            "source_branch": new.head,
            "target_branch": new.base,
            "title": DRAFT_PREFIX + new.title if new.draft else new.title,
            "description": new.body,
        }
        if new.labels:
            body["labels"] = label_string(new.labels)
        data = await self.http.json("POST", f"{self._project}/merge_requests", json_body=body)
        return self.http.parse("POST merge_requests", lambda: _pull(data))

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
        fields: dict[str, Any] = {}
        if title is not None:
            # A draft's title keeps its prefix, or the edit would mark it ready.
            if draft is None:
                draft = (await self.get_pull_request(number)).draft
            fields["title"] = DRAFT_PREFIX + title if draft else title
        if body is not None:
            fields["description"] = body
        if labels:
            fields["labels"] = label_string(labels)
        if base is not None:
            fields["target_branch"] = base
        if not fields:
            return await self.get_pull_request(number)
        return await self._put(number, fields)

    async def _put(self, number: int, fields: dict[str, Any]) -> PullRequest:
        path = f"{self._project}/merge_requests/{int(number)}"
        data = await self.http.json("PUT", path, json_body=fields)
        return self.http.parse("PUT merge_request", lambda: _pull(data))

    async def close_pull_request(self, number: int, *, comment: str | None = None) -> PullRequest:
        if comment:
            await self.comment(number, comment)
        return await self._put(number, {"state_event": "close"})

    async def comment(self, number: int, body: str) -> None:
        path = f"{self._project}/merge_requests/{int(number)}/notes"
        await self.http.request("POST", path, json_body={"body": body}, ok=frozenset({201}))

    async def request_review(
        self, number: int, *, reviewers: tuple[str, ...] = (), assignees: tuple[str, ...] = ()
    ) -> None:
        if not reviewers and not assignees:
            return
        wanted_reviewers = [await self._user_id(name) for name in reviewers]
        wanted_assignees = [await self._user_id(name) for name in assignees]
        data = await self._raw(number)
        present = self.http.parse(
            "GET merge_request",
            lambda: {
                key: [int(user["id"]) for user in data.get(f"{key}s") or ()]
                for key in ("reviewer", "assignee")
            },
        )
        fields: dict[str, list[int]] = {}
        for key, wanted in (("reviewer", wanted_reviewers), ("assignee", wanted_assignees)):
            merged = list(dict.fromkeys([*present[key], *wanted]))
            if merged != present[key]:  # the update replaces them: keep who is there
                fields[f"{key}_ids"] = merged
        if fields:
            await self._put(number, fields)

    async def _user_id(self, username: str) -> int:
        name = username.removeprefix("@")
        if name not in self._users:
            data = await self.http.json("GET", "/users", params={"username": name})
            ids = self.http.parse(
                "GET users",
                lambda: [int(u["id"]) for u in data if str(u["username"]).lower() == name.lower()],
            )
            if not ids:
                raise self.http.fail(f"no user {name[:80]!r}", cls=ForgeNotFound)
            self._users[name] = ids[0]
        return self._users[name]

    async def enable_auto_merge(self, number: int, *, method: MergeMethod = "merge") -> bool:
        # Pinned to the head we saw: a commit pushed since (by a human) is not merged blind.
        # The merge method (merge commit, rebase) is the project's setting; only squash is ours.
        data = await self._raw(number)
        sha = self.http.parse("GET merge_request", lambda: str(data["sha"]))
        body: dict[str, Any] = {
            "auto_merge": True,
            "merge_when_pipeline_succeeds": True,
            "sha": sha,
        }
        if method == "squash":
            body["squash"] = True
        path = f"{self._project}/merge_requests/{int(number)}/merge"
        try:
            await self.http.request("PUT", path, json_body=body)
        except ForgeError as exc:
            if exc.status != 405:
                raise
            raise self.http.fail(
                f"!{number} cannot be set to merge now (draft, conflicts, or no pipeline yet)",
                cls=ForgeConflict,
                status=405,
            ) from exc
        return True

    async def checks(self, sha: str) -> Checks:
        path = f"{self._project}/repository/commits/{seg(sha)}/statuses"
        items = await self.http.collect(path, params={"per_page": _PAGE}, paging=_next_page)
        return combine(self.http.parse("GET statuses", lambda: tuple(_run(s) for s in items)))

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["GitLabForge", "label_string"]
