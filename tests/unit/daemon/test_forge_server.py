"""``POST /hooks/forge/<provider>/<name>``: secret by name, verdicts as answers, counted."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from image_automation.daemon.forge_hooks import ForgeEvent, PullRequestAction
from image_automation.daemon.metrics import Metrics
from image_automation.daemon.server import DaemonServer
from tests.unit.daemon.forge_payloads import (
    SECRET,
    bitbucket,
    bitbucket_payload,
    github,
    github_payload,
    gitlab,
    gitlab_payload,
)

PATH = "/hooks/forge/github/forge-hook"


class Harness:
    def __init__(self) -> None:
        self.metrics = Metrics()
        self.secrets = {"forge-hook": SECRET}
        self.looked_up: list[str] = []
        self.events: list[ForgeEvent] = []
        self.woken = 1
        self.server = DaemonServer(
            metrics=self.metrics,
            hooks=dict,
            on_hook=lambda hook: None,
            ready=self.ready,
            max_body=4096,
            forge_secret=self.secret,
            on_forge_event=self.on_event,
        )

    async def ready(self) -> str | None:
        return None

    async def secret(self, name: str) -> str | None:
        self.looked_up.append(name)
        return self.secrets.get(name)

    async def on_event(self, event: ForgeEvent) -> int:
        self.events.append(event)
        return self.woken

    def count(self, provider: str, result: str) -> float | None:
        return self.metrics.registry.get_sample_value(
            "image_automation_forge_webhook_requests_total",
            {"provider": provider, "result": result},
        )


Client = tuple[Harness, "TestClient[web.Request, web.Application]"]


@pytest.fixture
async def harness() -> AsyncIterator[Client]:
    h = Harness()
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(h.server.app))
    await client.start_server()
    yield h, client
    await client.close()


async def test_a_signed_merge_event_reaches_the_callback_and_is_202(harness: Client) -> None:
    h, client = harness
    headers, body = github(github_payload("closed", merged=True))
    response = await client.post(PATH, data=body, headers=headers)
    assert (response.status, await response.text()) == (202, "queued 1\n")
    assert [(e.repository, e.head_branch, e.action) for e in h.events] == [
        ("org/fleet", "image-updates", PullRequestAction.MERGED)
    ]
    assert h.looked_up == ["forge-hook"]
    assert h.count("github", "accepted") == 1


async def test_an_event_no_automation_owns_is_200_and_counted_unmatched(harness: Client) -> None:
    h, client = harness
    h.woken = 0
    headers, body = gitlab(gitlab_payload("close"))
    response = await client.post("/hooks/forge/gitlab/forge-hook", data=body, headers=headers)
    assert response.status == 200
    assert len(h.events) == 1
    assert h.count("gitlab", "unmatched") == 1


async def test_unknown_provider_and_unknown_name_answer_the_same_404(harness: Client) -> None:
    h, client = harness
    headers, body = github(github_payload())
    by_provider = await client.post("/hooks/forge/gitbucket/forge-hook", data=body, headers=headers)
    by_name = await client.post("/hooks/forge/github/no-such-secret", data=body, headers=headers)
    assert by_provider.status == by_name.status == 404
    assert await by_provider.text() == await by_name.text() == "not found\n"
    assert h.looked_up == ["no-such-secret"]  # an unknown provider looks nothing up
    assert h.events == []
    assert h.count("unknown", "not_found") == 1
    assert h.count("github", "not_found") == 1
    rendered = h.metrics.render().decode()
    assert "gitbucket" not in rendered and "no-such-secret" not in rendered


@pytest.mark.parametrize(
    ("delivery", "status", "result"),
    [
        (github(github_payload(), secret="wrong"), 401, "unauthorized"),
        (github("not a pull request"), 400, "malformed"),
        (github({"zen": "hi"}, event="ping"), 200, "ignored"),
        (github(github_payload("labeled")), 200, "ignored"),
    ],
    ids=["bad signature", "malformed", "ping", "irrelevant action"],
)
async def test_what_wakes_nothing_is_answered_and_counted(
    harness: Client, delivery: tuple[dict[str, str], bytes], status: int, result: str
) -> None:
    h, client = harness
    headers, body = delivery
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == status
    assert h.events == []
    assert h.count("github", result) == 1


async def test_the_provider_in_the_path_picks_the_rule(harness: Client) -> None:
    h, client = harness
    headers, body = bitbucket(bitbucket_payload())  # a valid Bitbucket delivery sent as GitHub
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == 401
    response = await client.post("/hooks/forge/bitbucket/forge-hook", data=body, headers=headers)
    assert response.status == 202
    assert [e.provider for e in h.events] == ["bitbucket"]


async def test_an_oversized_body_is_413_before_any_verification(harness: Client) -> None:
    h, client = harness
    headers, body = github({"padding": "x" * 8192})
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == 413
    assert h.events == []
    assert h.count("github", "too_large") == 1


async def test_forge_hooks_are_refused_once_stopping(harness: Client) -> None:
    h, client = harness
    h.server.stop_accepting()
    headers, body = github(github_payload())
    response = await client.post(PATH, data=body, headers=headers)
    assert response.status == 503
    assert h.events == []
    assert h.count("github", "stopping") == 1


async def test_without_forge_callbacks_every_forge_path_is_404() -> None:
    server = DaemonServer(metrics=Metrics(), hooks=dict, on_hook=lambda hook: None,
                          ready=Harness().ready)  # fmt: skip
    client: TestClient[web.Request, web.Application] = TestClient(TestServer(server.app))
    await client.start_server()
    try:
        headers, body = github(github_payload())
        assert (await client.post(PATH, data=body, headers=headers)).status == 404
    finally:
        await client.close()
