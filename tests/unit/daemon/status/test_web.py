"""The status routes: escaping, caching, credentials, errors, and the JSON the page uses."""

from __future__ import annotations

import base64
from collections.abc import AsyncIterator
from html.parser import HTMLParser

import pytest
from aiohttp import web
from aiohttp.test_utils import TestClient, TestServer

from image_automation.daemon.status.auth import StatusAuth
from image_automation.daemon.status.model import LiveFacts
from image_automation.daemon.status.web import TRACE_ROWS, StatusPages, policy_href
from image_automation.domain import TagInfo
from image_automation.engine.status_inputs import StatusInputs
from image_automation.policy import Trace, build_trace
from tests.unit.daemon.status.records import HOSTILE, at, decision, inputs, promotion_run

Client = TestClient[web.Request, web.Application]
PAGES = ["/status", "/status/events", "/status/policies/apps/web"]


class Source:
    def __init__(self, records: StatusInputs) -> None:
        self.records = records
        self.live = LiveFacts(policies={f"apps/{HOSTILE}": "r.test/app"}, automations=["fleet"],
                              runs={"Promotion/apps/promo": promotion_run()})  # fmt: skip

    async def read(self) -> tuple[StatusInputs, LiveFacts]:
        return self.records, self.live

    async def trace(self, records: StatusInputs, policy: str) -> Trace | None:
        stored = next((d for d in records.decisions if d.policy == policy), None)
        if stored is None:
            return None
        names = [*stored.decision.lost, *stored.decision.skipped, stored.decision.tag or ""]
        tags = [TagInfo(n) for n in names if n]
        return build_trace(policy=policy, image=stored.repository, source="state", now=at(5),
                           tags=tags, decision=stored.decision)  # fmt: skip


async def client_for(source: Source, auth: StatusAuth | None = None) -> Client:
    app = web.Application()
    StatusPages(read=source.read, trace=source.trace, auth=auth, clock=lambda: at(5)).add_routes(
        app
    )
    client: Client = TestClient(TestServer(app))
    await client.start_server()
    return client


@pytest.fixture
async def source() -> Source:
    return Source(inputs(decisions=[*inputs().decisions, decision(f"apps/{HOSTILE}", HOSTILE)]))


@pytest.fixture
async def client(source: Source) -> AsyncIterator[Client]:
    client = await client_for(source)
    yield client
    await client.close()


class Links(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.hrefs: list[str] = []
        self.scripts: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        found = dict(attrs)
        if tag == "a" and found.get("href") is not None:
            self.hrefs.append(found["href"] or "")
        if tag == "script":
            self.scripts.append(found.get("src") or "INLINE")


@pytest.mark.parametrize("path", [*PAGES, f"/status/policies/apps/{HOSTILE}"])
async def test_hostile_names_are_escaped_on_every_page(client: Client, path: str) -> None:
    response = await client.get(path)
    body = await response.text()
    assert response.status == 200
    assert "<script>alert" not in body
    links = Links()
    links.feed(body)
    assert links.scripts and all(s.startswith("/status/static/status.js?v=") for s in links.scripts)
    assert not [h for h in links.hrefs if h.lower().startswith(("javascript:", "data:"))]


async def test_every_link_on_the_pages_resolves(client: Client) -> None:
    seen: set[str] = set()
    for path in PAGES:
        links = Links()
        links.feed(await (await client.get(path)).text())
        seen.update(h for h in links.hrefs if h.startswith("/"))
    assert policy_href(f"apps/{HOSTILE}") in seen
    for href in sorted(seen):
        assert (await client.get(href)).status == 200, href


async def test_a_revalidation_is_a_304_until_the_data_changes(
    client: Client, source: Source
) -> None:
    for path in [*PAGES, "/api/v1/status", "/api/v1/events", "/api/v1/policies/apps/web"]:
        first = await client.get(path)
        tag = first.headers["ETag"]
        assert first.headers["Cache-Control"] == "public, no-cache"
        again = await client.get(path, headers={"If-None-Match": tag})
        assert again.status == 304, path
    source.records = inputs(scans=[])
    changed = await client.get("/api/v1/status", headers={"If-None-Match": tag})
    assert changed.status == 200


async def test_the_page_and_its_api_share_a_tag_the_script_compares(client: Client) -> None:
    class Body(HTMLParser):
        etag: str | None = None

        def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
            if tag == "body":
                self.etag = dict(attrs).get("data-etag")

    body = Body()
    body.feed(await (await client.get("/status")).text())
    api = await client.get("/api/v1/status")
    assert body.etag == api.headers["ETag"]


async def test_static_files_are_immutable_and_the_pages_allow_nothing_foreign(
    client: Client,
) -> None:
    page = await client.get("/status")
    assert "default-src 'none'" in page.headers["Content-Security-Policy"]
    assert page.headers["X-Content-Type-Options"] == "nosniff"
    links = Links()
    links.feed(await page.text())
    script = await client.get(links.scripts[0])
    assert script.status == 200
    assert "immutable" in script.headers["Cache-Control"]
    assert len(await script.read()) < 4096  # "a few kilobytes of JS at most"
    assert (await client.get("/status/static/../web.py")).status == 404
    assert (await client.get("/status/static/other.js")).status == 404


async def test_unknown_policy_is_404_and_bad_filters_are_400(client: Client) -> None:
    assert (await client.get("/status/policies/apps/none")).status == 404
    missing = await client.get("/api/v1/policies/apps/none")
    assert (missing.status, await missing.json()) == (404, {"error": "no such policy"})
    for query in ["kind=nope", "severity=x", "limit=0", "limit=-1", "limit=99999", "limit=x",
                  "subject=" + "x" * 201]:  # fmt: skip
        assert (await client.get(f"/api/v1/events?{query}")).status == 400, query
        assert (await client.get(f"/status/events?{query}")).status == 400, query


async def test_the_api_shapes(client: Client) -> None:
    overview = await (await client.get("/api/v1/status")).json()
    assert set(overview) == {"generated_at", "repositories", "policies", "automations",
                             "promotions", "problems"}  # fmt: skip
    assert overview["generated_at"] == "2026-03-01T17:00:00Z"
    assert "s3cr3t" not in str(overview)
    assert [(p["stage"], p["state"], p["pull_request"], p["pull_request_action"])
            for p in overview["promotions"]] == [(HOSTILE, "waits", 9, "opened")]  # fmt: skip
    policies = await (await client.get("/api/v1/policies")).json()
    assert [p["key"] for p in policies["policies"]] == [f"apps/{HOSTILE}", "apps/web"]
    detail = await (await client.get("/api/v1/policies/apps/web")).json()
    assert [v["value"] for v in detail["versions"]] == ["r.test/app:1.0.0", "r.test/app:1.1.0"]
    assert [t["fate"] for t in detail["explain"]["tags"]] == ["selected", "outranked"]
    found = await (await client.get("/api/v1/events?kind=commit_pushed")).json()
    assert [e["kind"] for e in found["events"]] == ["commit_pushed"]


async def test_root_redirects_to_the_status_page(client: Client) -> None:
    response = await client.get("/", allow_redirects=False)
    assert (response.status, response.headers["Location"]) == (302, "/status")


@pytest.mark.parametrize(
    ("header", "status"),
    [
        (None, 401),
        ("Bearer wrong", 401),
        ("Bearer t0ken", 200),
        ("Basic " + base64.b64encode(b"ops:pw").decode(), 200),
        ("Basic " + base64.b64encode(b"ops:nope").decode(), 401),
    ],
)
async def test_credentials_guard_the_pages_and_the_api_not_the_static_files(
    source: Source, header: str | None, status: int
) -> None:
    client = await client_for(source, StatusAuth(token="t0ken", username="ops", password="pw"))
    try:
        headers = {"Authorization": header} if header else {}
        for path in [*PAGES, "/api/v1/status", "/api/v1/events", "/api/v1/policies"]:
            response = await client.get(path, headers=headers)
            assert response.status == status, path
            text = await response.text()
            assert "t0ken" not in text and "pw" not in text.split()
            if status == 401:
                assert response.headers["WWW-Authenticate"].startswith("Basic realm=")
            else:
                assert response.headers["Cache-Control"].startswith("private")
        assert (await client.get("/status/static/status.css")).status == 200
    finally:
        await client.close()


async def test_a_huge_trace_is_cut_on_the_page_but_whole_in_the_api(source: Source) -> None:
    skipped = {f"0.{i}": "outside range >=1.0.0" for i in range(3000)}
    source.records = inputs(decisions=[decision("apps/web", "1.1.0", skipped=skipped)])
    client = await client_for(source)
    try:
        page = await (await client.get("/status/policies/apps/web")).text()
        assert page.count("<tr><td>0.") == TRACE_ROWS - 1
        assert f"({TRACE_ROWS} of 3001 shown)" in page
        detail = await (await client.get("/api/v1/policies/apps/web")).json()
        assert len(detail["explain"]["tags"]) == 3001
        assert detail["explain"]["counts"] == {"selected": 1, "out_of_range": 3000}
    finally:
        await client.close()


async def test_the_overview_lists_promotion_stages_escaped_with_their_pull_request(
    client: Client,
) -> None:
    body = await (await client.get("/status")).text()
    section = body.split('id="promotions"', 1)[1]
    assert "No promotion recorded" not in section
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in section and "<script>alert" not in section
    links = Links()
    links.feed(section)
    assert "https://forge.test/o/r/pull/9" in links.hrefs
