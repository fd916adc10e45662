"""Raw-httpx drivers for the self-tests: the same PR steps spelled in each forge's own API.

Deliberately naive (no pagination, no retries): they exist to drive the fakes through a
realistic flow and to show that requests written from the official descriptions pass.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from tests.forges.drivers_base import Driver
from tests.forges.drivers_base import ok as _ok
from tests.forges.drivers_cloud import AzureDriver, BitbucketDriver
from tests.forges.server import FakeForge


class GitHubDriver(Driver):
    @property
    def r(self) -> str:
        return f"/repos/{self.fake.repository}"

    async def default_branch(self) -> str:
        return _ok(await self.c.get(self.r))["default_branch"]

    async def open(self, head: str, base: str, title: str, body: str) -> int:
        created = await self.c.post(
            f"{self.r}/pulls", json={"title": title, "head": head, "base": base, "body": body}
        )
        return _ok(created)["number"]

    async def find(self, head: str) -> int | None:
        owner = self.fake.repository.split("/")[0]
        found = _ok(
            await self.c.get(f"{self.r}/pulls", params={"head": f"{owner}:{head}", "state": "open"})
        )
        return found[0]["number"] if found else None

    async def get(self, number: int) -> dict[str, Any]:
        pr = _ok(await self.c.get(f"{self.r}/pulls/{number}"))
        state = "merged" if pr["merged"] else pr["state"]
        labels = [x["name"] for x in pr["labels"]]
        return {
            "state": state,
            "title": pr["title"],
            "body": pr["body"] or "",
            "labels": labels,
            "head_sha": pr["head"]["sha"],
        }

    async def update(self, number: int, title: str, body: str) -> None:
        _ok(await self.c.patch(f"{self.r}/pulls/{number}", json={"title": title, "body": body}))

    async def set_labels(self, number: int, labels: list[str]) -> None:
        _ok(await self.c.put(f"{self.r}/issues/{number}/labels", json={"labels": labels}))

    async def comment(self, number: int, body: str) -> None:
        _ok(await self.c.post(f"{self.r}/issues/{number}/comments", json={"body": body}))

    async def checks(self, sha: str) -> str:
        return _ok(await self.c.get(f"{self.r}/commits/{sha}/status"))["state"]

    async def merge(self, number: int, sha: str) -> httpx.Response:
        return await self.c.put(
            f"{self.r}/pulls/{number}/merge", json={"merge_method": "merge", "sha": sha}
        )

    async def close(self, number: int) -> None:
        _ok(await self.c.patch(f"{self.r}/pulls/{number}", json={"state": "closed"}))

    async def reopen(self, number: int) -> None:
        _ok(await self.c.patch(f"{self.r}/pulls/{number}", json={"state": "open"}))

    async def delete_branch(self, branch: str) -> None:
        _ok(await self.c.delete(f"{self.r}/git/refs/{quote('heads/' + branch, safe='')}"))


class GitLabDriver(Driver):
    @staticmethod
    def headers(fake: FakeForge) -> dict[str, str]:
        return {"PRIVATE-TOKEN": fake.token}

    @property
    def p(self) -> str:
        return "/projects/" + quote(self.fake.repository, safe="")

    async def default_branch(self) -> str:
        return _ok(await self.c.get(self.p))["default_branch"]

    async def open(self, head: str, base: str, title: str, body: str) -> int:
        created = {
            "source_branch": head,
            "target_branch": base,
            "title": title,
            "description": body,
        }
        return _ok(await self.c.post(f"{self.p}/merge_requests", json=created))["iid"]

    async def find(self, head: str) -> int | None:
        found = _ok(
            await self.c.get(
                f"{self.p}/merge_requests", params={"source_branch": head, "state": "opened"}
            )
        )
        return found[0]["iid"] if found else None

    async def get(self, number: int) -> dict[str, Any]:
        mr = _ok(await self.c.get(f"{self.p}/merge_requests/{number}"))
        state = {"opened": "open"}.get(mr["state"], mr["state"])
        return {
            "state": state,
            "title": mr["title"],
            "body": mr["description"] or "",
            "labels": mr["labels"],
            "head_sha": mr["sha"],
        }

    async def update(self, number: int, title: str, body: str) -> None:
        _ok(
            await self.c.put(
                f"{self.p}/merge_requests/{number}", json={"title": title, "description": body}
            )
        )

    async def set_labels(self, number: int, labels: list[str]) -> None:
        _ok(
            await self.c.put(f"{self.p}/merge_requests/{number}", json={"labels": ",".join(labels)})
        )

    async def comment(self, number: int, body: str) -> None:
        _ok(await self.c.post(f"{self.p}/merge_requests/{number}/notes", json={"body": body}))

    async def checks(self, sha: str) -> str:
        states = {
            s["status"]
            for s in _ok(await self.c.get(f"{self.p}/repository/commits/{sha}/statuses"))
        }
        return "failure" if "failed" in states else "pending" if states - {"success"} else "success"

    async def merge(self, number: int, sha: str) -> httpx.Response:
        return await self.c.put(f"{self.p}/merge_requests/{number}/merge", json={"sha": sha})

    async def close(self, number: int) -> None:
        _ok(await self.c.put(f"{self.p}/merge_requests/{number}", json={"state_event": "close"}))

    async def reopen(self, number: int) -> None:
        _ok(await self.c.put(f"{self.p}/merge_requests/{number}", json={"state_event": "reopen"}))

    async def delete_branch(self, branch: str) -> None:
        response = await self.c.delete(f"{self.p}/repository/branches/{quote(branch, safe='')}")
        assert response.status_code == 204, response.text


class GiteaDriver(Driver):
    @staticmethod
    def headers(fake: FakeForge) -> dict[str, str]:
        return {"Authorization": f"token {fake.token}"}

    @property
    def r(self) -> str:
        return f"/repos/{self.fake.repository}"

    async def default_branch(self) -> str:
        return _ok(await self.c.get(self.r))["default_branch"]

    async def open(self, head: str, base: str, title: str, body: str) -> int:
        created = await self.c.post(
            f"{self.r}/pulls", json={"title": title, "head": head, "base": base, "body": body}
        )
        return _ok(created)["number"]

    async def find(self, head: str) -> int | None:
        response = await self.c.get(f"{self.r}/pulls/main/{quote(head, safe='')}")
        if response.status_code == 404:
            return None
        pr = _ok(response)
        return pr["number"] if pr["state"] == "open" else None

    async def get(self, number: int) -> dict[str, Any]:
        pr = _ok(await self.c.get(f"{self.r}/pulls/{number}"))
        state = "merged" if pr["merged"] else pr["state"]
        return {
            "state": state,
            "title": pr["title"],
            "body": pr.get("body", ""),
            "labels": [x["name"] for x in pr.get("labels", [])],
            "head_sha": pr["head"]["sha"],
        }

    async def update(self, number: int, title: str, body: str) -> None:
        _ok(await self.c.patch(f"{self.r}/pulls/{number}", json={"title": title, "body": body}))

    async def set_labels(self, number: int, labels: list[str]) -> None:
        catalog = {x["name"]: x["id"] for x in _ok(await self.c.get(f"{self.r}/labels"))}
        ids = [catalog[name] for name in labels]
        _ok(await self.c.put(f"{self.r}/issues/{number}/labels", json={"labels": ids}))

    async def comment(self, number: int, body: str) -> None:
        _ok(await self.c.post(f"{self.r}/issues/{number}/comments", json={"body": body}))

    async def checks(self, sha: str) -> str:
        return _ok(await self.c.get(f"{self.r}/commits/{sha}/status"))["state"]

    async def merge(self, number: int, sha: str) -> httpx.Response:
        field = "Do" if self.fake.provider == "forgejo" else "do"
        return await self.c.post(
            f"{self.r}/pulls/{number}/merge", json={field: "merge", "head_commit_id": sha}
        )

    async def close(self, number: int) -> None:
        _ok(await self.c.patch(f"{self.r}/pulls/{number}", json={"state": "closed"}))

    async def reopen(self, number: int) -> None:
        _ok(await self.c.patch(f"{self.r}/pulls/{number}", json={"state": "open"}))

    async def delete_branch(self, branch: str) -> None:
        response = await self.c.delete(f"{self.r}/branches/{quote(branch, safe='')}")
        assert response.status_code == 204, response.text


DRIVERS: dict[str, type[Driver]] = {
    "github": GitHubDriver,
    "gitlab": GitLabDriver,
    "gitea": GiteaDriver,
    "forgejo": GiteaDriver,
    "bitbucket": BitbucketDriver,
    "azuredevops": AzureDriver,
}


def client_for(fake: FakeForge) -> httpx.AsyncClient:
    return httpx.AsyncClient(
        base_url=fake.api_url, headers=DRIVERS[fake.provider].headers(fake), timeout=30
    )


def driver_for(fake: FakeForge, client: httpx.AsyncClient) -> Any:
    return DRIVERS[fake.provider](fake, client)
