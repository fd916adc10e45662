"""Azure DevOps Services / Server pull requests (Git REST API 7.2).

The API is addressed as ``{api_url}/{project}/_apis/git/repositories/{repo}`` with
``api_url`` = ``https://dev.azure.com/ORG`` (or ``https://ORG.visualstudio.com``, or a
Server collection URL). Every operation names its own ``api-version`` (``7.2-preview.1`` or
``.2``, as the spec says per operation). Lists come as ``{"count", "value"}``. There are no
assignees (reviewers only, by identity id), labels can be added but the operations we use
cannot remove one, and auto-complete is a PATCH naming who set it (the pull request's
creator: our own identity, read from the pull request).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Literal

import httpx

from image_automation.errors import ForgeError, ForgeUnsupported
from image_automation.forges._auth import StaticAuth, basic
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
)

V1 = "7.2-preview.1"  # threads, comments, labels, reviewers
V2 = "7.2-preview.2"  # repositories, pull requests, statuses, refs
MAX_DESCRIPTION = 4000  # Azure refuses longer pull request descriptions
_HEADS = "refs/heads/"
_STATES: dict[str, Literal["open", "closed", "merged"]] = {
    "completed": "merged",
    "abandoned": "closed",
}
_CHECKS: dict[str, CheckState] = {
    "succeeded": "success",
    "partiallySucceeded": "success",
    "notApplicable": "success",
    "pending": "pending",
    "notSet": "pending",
}
_STRATEGIES = {"merge": "noFastForward", "squash": "squash", "rebase": "rebase"}
_PAGE = 100


def branch(ref: str) -> str:
    return ref.removeprefix(_HEADS)


def fit(text: str, limit: int = MAX_DESCRIPTION) -> str:
    """``text`` cut to ``limit`` characters with a visible mark, rather than refused."""
    mark = "\n\n… (truncated)"
    return text if len(text) <= limit else text[: limit - len(mark)] + mark


def _skipping(top: str, skip: str) -> Callable[[Reply, Any, httpx.QueryParams], Page]:
    """Azure pages by offset: a full page means there may be another."""

    def paging(reply: Reply, data: Any, params: httpx.QueryParams) -> Page:
        items = list(data.get("value") or ()) if isinstance(data, dict) else []
        size = int(params.get(top, _PAGE))
        if len(items) < size:
            return Page(items)
        return Page(items, next_params=params.set(skip, int(params.get(skip, 0)) + size))

    return paging


def _run(status: Any) -> CheckRun:
    context = status.get("context") or {}
    name = "/".join(p for p in (context.get("genre"), context.get("name")) if p) or "status"
    state = _CHECKS.get(str(status.get("state")), "failure")  # failed, error
    return CheckRun(name, state, str(status.get("targetUrl") or ""))


class AzureDevOpsForge:
    """One repository (``org/project/_git/repo``) on Azure DevOps."""

    capabilities = Capabilities(
        labels=True, assignees=False, auto_merge=True, draft=True, conditional=False
    )

    def __init__(
        self,
        settings: ForgeSettings,
        *,
        transport: httpx.AsyncBaseTransport | None,
        clock: Clock,
    ) -> None:
        parts = settings.repository.strip("/").split("/")
        if len(parts) < 4 or parts[-2] != "_git" or not all(parts):
            raise ForgeError(
                "azuredevops: repository must be 'org/project/_git/repo', got "
                f"{settings.repository[:200]!r}"
            )
        project, repo = parts[-3], parts[-1]
        # A PAT is the password of Basic auth, with any user name (the spec's accessToken).
        value = basic(settings.username, settings.token) if settings.token else ""
        auth = StaticAuth("Authorization", value, secret=settings.token)
        self.http = ForgeHttp(
            forge="azuredevops",
            settings=settings,
            auth=auth,
            transport=transport,
            clock=clock,
            conditional=False,
        )
        self._repo = f"/{seg(project)}/_apis/git/repositories/{seg(repo)}"
        self._web = f"{self.http.base}/{seg(project)}/_git/{seg(repo)}"

    def _pull(self, data: Any) -> PullRequest:
        number = int(data["pullRequestId"])
        web = (data.get("repository") or {}).get("webUrl") or self._web
        return PullRequest(
            number=number,
            url=f"{web}/pullrequest/{number}",
            state=_STATES.get(str(data.get("status")), "open"),
            head_branch=branch(str(data["sourceRefName"])),
            base_branch=branch(str(data["targetRefName"])),
            head_sha=str((data.get("lastMergeSourceCommit") or {}).get("commitId") or ""),
            title=str(data["title"]),
            body=str(data.get("description") or ""),
            labels=tuple(
                str(label["name"])
                for label in data.get("labels") or ()
                if label.get("active", True)
            ),
            draft=bool(data.get("isDraft")),
        )

    async def default_branch(self) -> str:
        data = await self.http.json("GET", self._repo, params={"api-version": V2})
        return self.http.parse("GET repository", lambda: branch(str(data["defaultBranch"])))

    async def find_pull_request(
        self, head: str, *, base: str | None = None, state: Literal["open", "all"] = "open"
    ) -> PullRequest | None:
        params: dict[str, Any] = {
            "searchCriteria.sourceRefName": _HEADS + head,
            "searchCriteria.status": "active" if state == "open" else "all",
            "$top": _PAGE,
            "api-version": V2,
        }
        if base is not None:
            params["searchCriteria.targetRefName"] = _HEADS + base
        items = await self.http.collect(
            f"{self._repo}/pullrequests", params=params, paging=_skipping("$top", "$skip")
        )
        pulls = self.http.parse("GET pullrequests", lambda: [self._pull(i) for i in items])
        mine = [
            p for p in pulls if p.head_branch == head and (base is None or p.base_branch == base)
        ]
        return max(mine, key=lambda p: p.number) if mine else None

    async def _raw(self, number: int) -> Any:
        path = f"{self._repo}/pullrequests/{int(number)}"
        return await self.http.json("GET", path, params={"api-version": V2})

    async def get_pull_request(self, number: int) -> PullRequest:
        data = await self._raw(number)
        return self.http.parse("GET pullrequest", lambda: self._pull(data))

    async def open_pull_request(self, new: NewPullRequest) -> PullRequest:
        body: dict[str, Any] = {
            "sourceRefName": _HEADS + new.head,
            "targetRefName": _HEADS + new.base,
            "title": new.title,
            "description": fit(new.body),
            "isDraft": new.draft,
        }
        if new.labels:
            body["labels"] = [{"name": name} for name in new.labels]
        data = await self.http.json(
            "POST", f"{self._repo}/pullrequests", params={"api-version": V2}, json_body=body
        )
        return self.http.parse("POST pullrequests", lambda: self._pull(data))

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
            await self._add_labels(number, labels)
        fields: dict[str, Any] = {}
        if title is not None:
            fields["title"] = title
        if body is not None:
            fields["description"] = fit(body)
        if base is not None:
            fields["targetRefName"] = _HEADS + base
        if not fields:
            return await self.get_pull_request(number)
        return await self._patch(number, fields)

    async def _add_labels(self, number: int, labels: tuple[str, ...]) -> None:
        """Add the labels the pull request lacks (removing one has no operation here)."""
        present = set((await self.get_pull_request(number)).labels)
        path = f"{self._repo}/pullRequests/{int(number)}/labels"
        for name in labels:
            if name not in present:
                await self.http.request(
                    "POST",
                    path,
                    params={"api-version": V1},
                    json_body={"name": name},
                    idempotent=True,  # adding a label twice leaves one
                )

    async def _patch(self, number: int, fields: dict[str, Any]) -> PullRequest:
        path = f"{self._repo}/pullrequests/{int(number)}"
        data = await self.http.json("PATCH", path, params={"api-version": V2}, json_body=fields)
        return self.http.parse("PATCH pullrequest", lambda: self._pull(data))

    async def close_pull_request(self, number: int, *, comment: str | None = None) -> PullRequest:
        if comment:
            await self.comment(number, comment)
        return await self._patch(number, {"status": "abandoned"})

    async def comment(self, number: int, body: str) -> None:
        # A thread of its own, closed: a note from us must not hold up a policy that
        # requires every comment thread to be resolved.
        thread = {
            "comments": [{"parentCommentId": 0, "content": body, "commentType": "text"}],
            "status": "closed",
        }
        path = f"{self._repo}/pullRequests/{int(number)}/threads"
        await self.http.request("POST", path, params={"api-version": V1}, json_body=thread)

    async def request_review(
        self, number: int, *, reviewers: tuple[str, ...] = (), assignees: tuple[str, ...] = ()
    ) -> None:
        if assignees:
            raise self.http.fail(
                "pull requests have reviewers, not assignees", cls=ForgeUnsupported
            )
        if not reviewers:
            return
        path = f"{self._repo}/pullRequests/{int(number)}/reviewers"
        await self.http.request(
            "POST",
            path,
            params={"api-version": V1},
            json_body=[{"id": reviewer} for reviewer in reviewers],
            idempotent=True,  # adding a reviewer twice leaves one
        )

    async def enable_auto_merge(self, number: int, *, method: MergeMethod = "merge") -> bool:
        data = await self._raw(number)
        creator = self.http.parse("GET pullrequest", lambda: str(data["createdBy"]["id"]))
        fields = {
            "autoCompleteSetBy": {"id": creator},
            "completionOptions": {
                "mergeStrategy": _STRATEGIES[method],
                "deleteSourceBranch": False,
            },
        }
        await self._patch(number, fields)
        return True

    async def checks(self, sha: str) -> Checks:
        path = f"{self._repo}/commits/{seg(sha)}/statuses"
        params = {"latestOnly": "true", "top": _PAGE, "api-version": V2}
        items = await self.http.collect(path, params=params, paging=_skipping("top", "skip"))
        return combine(self.http.parse("GET statuses", lambda: tuple(_run(s) for s in items)))

    async def aclose(self) -> None:
        await self.http.aclose()


__all__ = ["V1", "V2", "AzureDevOpsForge", "fit"]
