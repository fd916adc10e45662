"""Raw-httpx drivers for Bitbucket Cloud and Azure DevOps (see :mod:`tests.forges.drivers`)."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import quote

import httpx

from tests.forges.drivers_base import Driver
from tests.forges.drivers_base import ok as _ok
from tests.forges.server import FakeForge


class BitbucketDriver(Driver):
    @property
    def r(self) -> str:
        return f"/repositories/{self.fake.repository}"

    async def default_branch(self) -> str:
        return _ok(await self.c.get(self.r))["mainbranch"]["name"]

    async def open(self, head: str, base: str, title: str, body: str) -> int:
        created = {
            "type": "pullrequest",
            "title": title,
            "description": body,
            "source": {"branch": {"name": head}},
            "destination": {"branch": {"name": base}},
        }
        return _ok(await self.c.post(f"{self.r}/pullrequests", json=created))["id"]

    async def find(self, head: str) -> int | None:
        found = _ok(
            await self.c.get(f"{self.r}/pullrequests", params={"q": f'source.branch.name="{head}"'})
        )
        return found["values"][0]["id"] if found["values"] else None

    async def get(self, number: int) -> dict[str, Any]:
        pr = _ok(await self.c.get(f"{self.r}/pullrequests/{number}"))
        state = {"OPEN": "open", "DECLINED": "closed", "MERGED": "merged"}[pr["state"]]
        return {
            "state": state,
            "title": pr["title"],
            "body": pr.get("description", ""),
            "labels": [],
            "head_sha": pr["source"]["commit"]["hash"],
        }

    async def update(self, number: int, title: str, body: str) -> None:
        changed = {"type": "pullrequest", "title": title, "description": body}
        _ok(await self.c.put(f"{self.r}/pullrequests/{number}", json=changed))

    async def set_labels(self, number: int, labels: list[str]) -> None:
        """Bitbucket Cloud has no PR labels."""

    async def comment(self, number: int, body: str) -> None:
        comment = {"type": "pullrequest_comment", "content": {"raw": body}}
        _ok(await self.c.post(f"{self.r}/pullrequests/{number}/comments", json=comment))

    async def checks(self, sha: str) -> str:
        states = {
            s["state"] for s in _ok(await self.c.get(f"{self.r}/commit/{sha}/statuses"))["values"]
        }
        return (
            "failure" if "FAILED" in states else "pending" if states - {"SUCCESSFUL"} else "success"
        )

    async def merge(self, number: int, sha: str) -> httpx.Response:
        params = {"type": "pullrequest_merge_parameters", "merge_strategy": "merge_commit"}
        return await self.c.post(f"{self.r}/pullrequests/{number}/merge", json=params)

    async def close(self, number: int) -> None:
        _ok(await self.c.post(f"{self.r}/pullrequests/{number}/decline"))

    async def reopen(self, number: int) -> None:
        self.fake.human_reopen(number)  # the API has no reopen; the web UI does it

    async def delete_branch(self, branch: str) -> None:
        response = await self.c.delete(f"{self.r}/refs/branches/{quote(branch, safe='')}")
        assert response.status_code == 204, response.text


class AzureDriver(Driver):
    V1, V2 = {"api-version": "7.2-preview.1"}, {"api-version": "7.2-preview.2"}

    @staticmethod
    def headers(fake: FakeForge) -> dict[str, str]:
        return {"Authorization": "Basic " + base64.b64encode(f":{fake.token}".encode()).decode()}

    @property
    def r(self) -> str:
        _, project, _, repo = self.fake.repository.split("/")
        return f"/{project}/_apis/git/repositories/{repo}"

    async def default_branch(self) -> str:
        return _ok(await self.c.get(self.r, params=self.V2))["defaultBranch"].removeprefix(
            "refs/heads/"
        )

    async def open(self, head: str, base: str, title: str, body: str) -> int:
        created = {
            "sourceRefName": f"refs/heads/{head}",
            "targetRefName": f"refs/heads/{base}",
            "title": title,
            "description": body,
        }
        return _ok(await self.c.post(f"{self.r}/pullrequests", params=self.V2, json=created))[
            "pullRequestId"
        ]

    async def find(self, head: str) -> int | None:
        query = {**self.V2, "searchCriteria.sourceRefName": f"refs/heads/{head}"}
        found = _ok(await self.c.get(f"{self.r}/pullrequests", params=query))["value"]
        return found[0]["pullRequestId"] if found else None

    async def get(self, number: int) -> dict[str, Any]:
        pr = _ok(await self.c.get(f"{self.r}/pullrequests/{number}", params=self.V2))
        state = {"active": "open", "abandoned": "closed", "completed": "merged"}[pr["status"]]
        return {
            "state": state,
            "title": pr["title"],
            "body": pr.get("description", ""),
            "labels": [x["name"] for x in pr.get("labels", [])],
            "head_sha": pr["lastMergeSourceCommit"]["commitId"],
        }

    async def update(self, number: int, title: str, body: str) -> None:
        changed = {"title": title, "description": body}
        _ok(await self.c.patch(f"{self.r}/pullrequests/{number}", params=self.V2, json=changed))

    async def set_labels(self, number: int, labels: list[str]) -> None:
        for name in labels:
            _ok(
                await self.c.post(
                    f"{self.r}/pullRequests/{number}/labels", params=self.V1, json={"name": name}
                )
            )

    async def comment(self, number: int, body: str) -> None:
        thread = {"comments": [{"content": body, "commentType": "text"}], "status": "active"}
        _ok(
            await self.c.post(
                f"{self.r}/pullRequests/{number}/threads", params=self.V1, json=thread
            )
        )

    async def checks(self, sha: str) -> str:
        query = {**self.V2, "latestOnly": "true"}
        found = _ok(await self.c.get(f"{self.r}/commits/{sha}/statuses", params=query))["value"]
        states = {s["state"] for s in found}
        return (
            "failure" if "failed" in states else "pending" if states - {"succeeded"} else "success"
        )

    async def merge(self, number: int, sha: str) -> httpx.Response:
        changed = {"status": "completed", "lastMergeSourceCommit": {"commitId": sha}}
        return await self.c.patch(f"{self.r}/pullrequests/{number}", params=self.V2, json=changed)

    async def close(self, number: int) -> None:
        _ok(
            await self.c.patch(
                f"{self.r}/pullrequests/{number}", params=self.V2, json={"status": "abandoned"}
            )
        )

    async def reopen(self, number: int) -> None:
        _ok(
            await self.c.patch(
                f"{self.r}/pullrequests/{number}", params=self.V2, json={"status": "active"}
            )
        )

    async def delete_branch(self, branch: str) -> None:
        old = self.fake.repo.sha(branch)
        update = [{"name": f"refs/heads/{branch}", "oldObjectId": old, "newObjectId": "0" * 40}]
        result = _ok(await self.c.post(f"{self.r}/refs", params=self.V2, json=update))
        assert result["value"][0]["success"], result
