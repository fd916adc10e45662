"""Webhook senders: each forge's event reaches a receiver with the proof of origin it documents."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
from collections.abc import AsyncIterator
from typing import Any

import pytest
from aiohttp import web
from aiohttp.test_utils import TestServer

from tests.forges.server import FakeForge
from tests.forges.webhooks import build_event, send_event

pytestmark = pytest.mark.integration
SECRET = "hook-secret-for-tests"


@pytest.fixture
async def receiver() -> AsyncIterator[tuple[str, list[tuple[dict[str, str], bytes]]]]:
    seen: list[tuple[dict[str, str], bytes]] = []

    async def hook(request: web.Request) -> web.Response:
        seen.append((dict(request.headers), await request.read()))
        return web.Response(status=202)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    yield str(server.make_url("/hook")), seen
    await server.close()


def verified(provider: str, headers: dict[str, str], body: bytes, secret: str) -> bool:
    """The receiver's side of each forge's documented check."""
    digest = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    expected = {
        "github": ("X-Hub-Signature-256", f"sha256={digest}"),
        "gitea": ("X-Gitea-Signature", digest),
        "forgejo": ("X-Forgejo-Signature", digest),
        "bitbucket": ("X-Hub-Signature", f"sha256={digest}"),
        "gitlab": ("X-Gitlab-Token", secret),
        "azuredevops": (
            "Authorization",
            "Basic " + base64.b64encode(f"azure-hooks:{secret}".encode()).decode(),
        ),
    }[provider]
    return hmac.compare_digest(headers.get(expected[0], ""), expected[1])


def _identifies(provider: str, payload: dict[str, Any], fake: FakeForge, number: int) -> bool:
    return {
        "github": lambda: (payload["repository"]["full_name"], payload["number"]),
        "gitea": lambda: (payload["repository"]["full_name"], payload["number"]),
        "forgejo": lambda: (payload["repository"]["full_name"], payload["number"]),
        "gitlab": lambda: (
            payload["project"]["path_with_namespace"],
            payload["object_attributes"]["iid"],
        ),
        "bitbucket": lambda: (payload["repository"]["full_name"], payload["pullrequest"]["id"]),
        "azuredevops": lambda: (
            payload["resource"]["repository"]["remoteUrl"],
            payload["resource"]["pullRequestId"],
        ),
    }[provider]() in ((fake.repository, number), (fake.git_url, number))


MERGED = {
    "github": lambda p, h: p["action"] == "closed" and p["pull_request"]["merged"] is True,
    "gitea": lambda p, h: p["action"] == "closed" and p["pull_request"]["merged"] is True,
    "forgejo": lambda p, h: p["action"] == "closed" and p["pull_request"]["merged"] is True,
    "gitlab": lambda p, h: p["object_attributes"]["action"] == "merge",
    "bitbucket": lambda p, h: h["X-Event-Key"] == "pullrequest:fulfilled",
    "azuredevops": lambda p, h: (
        p["eventType"] == "git.pullrequest.merged" and p["resource"]["status"] == "completed"
    ),
}


async def test_a_merged_event_is_signed_the_forges_way_and_names_the_pr(
    fake_forge: FakeForge, receiver: Any
) -> None:
    url, seen = receiver
    fake_forge.human_push("image-updates", {"deploy/app.yaml": "image: 2\n"}, "bump")
    pr = fake_forge.open_pull(head="image-updates", base="main", title="Update", body="")
    fake_forge.human_merge(pr.number)
    answer = await send_event(fake_forge, url, action="merged", number=pr.number, secret=SECRET)
    assert answer.status_code == 202
    ((headers, body),) = seen
    payload = json.loads(body)
    assert verified(fake_forge.provider, headers, body, SECRET)
    signs_body = fake_forge.provider not in ("gitlab", "azuredevops")  # those send a secret
    assert verified(fake_forge.provider, headers, body + b" ", SECRET) is not signs_body
    assert not verified(fake_forge.provider, headers, body, "another-secret")
    assert _identifies(fake_forge.provider, payload, fake_forge, pr.number)
    assert MERGED[fake_forge.provider](payload, headers)


@pytest.mark.parametrize("action", ["closed", "edited"])
async def test_closed_and_edited_events_are_not_merged_events(
    fake_forge: FakeForge, receiver: Any, action: str
) -> None:
    url, seen = receiver
    fake_forge.human_push("image-updates", {"deploy/app.yaml": "image: 2\n"}, "bump")
    pr = fake_forge.open_pull(
        head="image-updates", base="main", title="Update", body="- [x] rebase now"
    )
    if action == "closed":
        fake_forge.human_close(pr.number)
    await send_event(
        fake_forge,
        url,
        action=action,
        number=pr.number,
        secret=SECRET,
        previous={"body": "- [ ] rebase now"} if action == "edited" else None,
    )
    ((headers, body),) = seen
    payload = json.loads(body)
    assert verified(fake_forge.provider, headers, body, SECRET)
    assert not MERGED[fake_forge.provider](payload, headers)
    assert "- [x] rebase now" in body.decode()


async def test_an_edited_event_carries_the_previous_body(fake_forge_factory: Any) -> None:
    fake = fake_forge_factory("github")
    fake.human_push("image-updates", {"deploy/app.yaml": "image: 2\n"}, "bump")
    pr = fake.open_pull(head="image-updates", base="main", title="Update", body="new")
    previous = {"body": "old"}
    headers, body = build_event(
        fake, action="edited", number=pr.number, secret="s", previous=previous
    )
    assert json.loads(body)["changes"] == {"body": {"from": "old"}}
    assert headers["X-GitHub-Event"] == "pull_request"
