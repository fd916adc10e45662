"""A stage's gates: named checks of the forge for a commit, and HTTP URLs that must answer 2xx
(through httpx's mock transport: no sockets), with no secret in any answer."""

from __future__ import annotations

from pathlib import Path

import httpx
import pytest

from image_automation.engine._promo_gates import GateCache, commit_checks, http_checks
from image_automation.engine._promo_plan import HttpCheck
from image_automation.errors import ForgeUnavailable
from image_automation.forges import CheckRun, Checks

SHA = "3f1c2e9" + "0" * 33
TOKEN = "gate-Secr3t-token"


class Forge:
    """What the gate asks of a forge: ``checks(sha)``, counted."""

    def __init__(self, answer: Checks | Exception) -> None:
        self.answer, self.asked = answer, 0

    async def checks(self, sha: str) -> Checks:
        self.asked += 1
        if isinstance(self.answer, Exception):
            raise self.answer
        return self.answer


RUNS = Checks("failure", (
    CheckRun("e2e", "success", "https://ci.example.test/1"),
    CheckRun("lint", "failure"),
    CheckRun("e2e", "failure"),  # an older run of a name: the first listed decides
    CheckRun("deploy", "pending"),
))  # fmt: skip


async def test_each_named_check_is_answered_from_one_read_per_commit() -> None:
    forge, cache = Forge(RUNS), GateCache()
    names = ["e2e", "lint", "deploy", "smoke"]
    found = await commit_checks(forge, SHA, names, cache=cache, where="staging")  # type: ignore[arg-type]
    assert [(r.name, r.state) for r in found] == [
        ("check e2e", "success"), ("check lint", "failure"), ("check deploy", "pending"),
        ("check smoke", "pending"),
    ]  # fmt: skip
    assert found[0].url == "https://ci.example.test/1"
    assert found[3].detail == "has not reported on staging's commit 3f1c2e900000"
    await commit_checks(forge, SHA, ["e2e"], cache=cache, where="staging")  # type: ignore[arg-type]
    assert forge.asked == 1


async def test_a_forge_that_cannot_answer_leaves_the_check_pending() -> None:
    forge = Forge(ForgeUnavailable("502 from the forge", delay=5))
    (found,) = await commit_checks(forge, SHA, ["e2e"], cache=GateCache(), where="dev")  # type: ignore[arg-type]
    assert found.state == "pending" and "cannot read the checks of 3f1c2e900000" in found.detail


def _transport(status: int, seen: list[httpx.Request]) -> httpx.MockTransport:
    def handle(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        if status == 0:
            raise httpx.ConnectError(f"refused {request.url}")
        if status == -1:
            raise httpx.ReadTimeout(f"slow {request.url}")
        headers = {"Location": "https://elsewhere.example.test/"} if status == 302 else {}
        return httpx.Response(status, headers=headers, text="body never read")

    return httpx.MockTransport(handle)


URL = f"https://health.example.test/dev?token={TOKEN}"
CASES = [
    pytest.param(204, "success", "answered 204", id="2xx"),
    pytest.param(503, "failure", "answered 503, not 2xx", id="5xx"),
    pytest.param(302, "failure", "answered 302, not 2xx", id="redirect-not-followed"),
    pytest.param(0, "pending", "unreachable (ConnectError)", id="refused"),
    pytest.param(-1, "pending", "no answer within 2s", id="timeout"),
]


@pytest.mark.parametrize(("status", "state", "detail"), CASES)
async def test_an_http_gate_wants_2xx_and_never_shows_a_secret(
    tmp_path: Path, status: int, state: str, detail: str
) -> None:
    (tmp_path / "health").mkdir()
    (tmp_path / "health" / "bearerToken").write_text(TOKEN + "\n")
    seen: list[httpx.Request] = []
    check = HttpCheck(URL, 2.0, "health")
    (found,) = await http_checks([check], secrets_dir=tmp_path, cache=GateCache(),
                                 transport=_transport(status, seen))  # fmt: skip
    assert (found.state, found.detail) == (state, detail)
    assert found.name == "HTTP https://health.example.test/dev"
    assert TOKEN not in f"{found.name} {found.detail} {found.url}"
    assert [r.headers["Authorization"] for r in seen] == [f"Bearer {TOKEN}"]
    assert len(seen) == 1  # one request, no redirect followed


@pytest.mark.parametrize(
    ("secret", "files", "why"),
    [
        ("missing", {}, "cannot read its bearerToken"),
        ("../etc", {}, "is not a directory name"),
        ("multi", {"bearerToken": "a\nb"}, "bearerToken is empty or not one line"),
    ],
)
async def test_an_unreadable_gate_secret_fails_the_gate_without_a_request(
    tmp_path: Path, secret: str, files: dict[str, str], why: str
) -> None:
    folder = tmp_path / secret
    if files:
        folder.mkdir()
        for name, text in files.items():
            (folder / name).write_text(text)
    seen: list[httpx.Request] = []
    (found,) = await http_checks([HttpCheck(URL, 2.0, secret)], secrets_dir=tmp_path,
                                 cache=GateCache(), transport=_transport(200, seen))  # fmt: skip
    assert found.state == "failure" and why in found.detail and seen == []
