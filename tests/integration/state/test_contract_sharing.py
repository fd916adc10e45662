"""The StateStore contract, pull requests under stress, on every backend: several writers
and processes, hostile and huge values."""

from __future__ import annotations

import asyncio
import sys
from datetime import UTC, datetime, timedelta

import pytest

from image_automation.errors import StateError
from image_automation.state import PullRequestRecord, SetterChange, StateStore
from tests.integration.state.conftest import Backend

pytestmark = pytest.mark.integration

T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
REPO = "ghcr.io/org/web"
CHANGE = SetterChange(setter="apps:web", old="1.0.0", new="1.1.0")


def record(automation: str, head: str, **overrides: object) -> PullRequestRecord:
    fields: dict[str, object] = {
        "automation": automation,
        "head": head,
        "provider": "gitea",
        "number": 1,
        "url": "http://127.0.0.1:3000/org/repo/pulls/1",
        "state": "open",
        "base": "main",
        "pushed_sha": "a" * 40,
        "changes": (CHANGE,),
        "opened_at": T0,
        "updated_at": T0,
    }
    fields.update(overrides)
    return PullRequestRecord(**fields)  # type: ignore[arg-type]


async def test_two_connections_writing_pull_requests_interleave_whole(backend: Backend) -> None:
    async with await backend.open() as one, await backend.open() as two:

        async def work(s: StateStore, who: str) -> None:
            for i in range(40):
                await s.save_pull_request(record("A/ns/shared", "ia/shared", number=i))
                await s.save_pull_request(record(f"A/ns/{who}", f"ia/{i % 5}", number=i))
                await s.ignore_versions(
                    "A/ns/shared",
                    "ia/shared",
                    [SetterChange("apps:web", "1", f"{i % 10}")],
                    number=i,
                    reason=who,
                    now=T0 + timedelta(seconds=i),
                )
                await s.record_pull_request_opened(f"A/ns/{who}", i, now=T0 + timedelta(seconds=i))

        await asyncio.gather(work(one, "a"), work(two, "b"))
        shared = await one.pull_requests("A/ns/shared")
        assert len(shared) == 1
        assert sorted(r.head for r in await two.pull_requests("A/ns/a")) == [
            f"ia/{n}" for n in range(5)
        ]
        assert len(await one.ignored_versions("A/ns/shared")) == 10
        assert await two.pull_requests_opened_since("A/ns/a", T0) == 40
        assert await two.pull_requests_opened_since("A/ns/b", T0) == 40


_WRITER = """\
import asyncio, sys
from datetime import UTC, datetime, timedelta
from image_automation.state import PullRequestRecord, SetterChange
from image_automation.state import open_store
T0 = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
async def main(url, who):
    async with await open_store(url) as s:
        for i in range(30):
            now = T0 + timedelta(seconds=i)
            change = SetterChange("apps:" + who, "1", str(i))
            for automation in ("A/ns/shared", "A/ns/" + who):
                await s.save_pull_request(PullRequestRecord(
                    automation, "ia/head", "github", i, "u", "open", "main", None,
                    (change,), now, now))
            await s.ignore_versions("A/ns/shared", "ia/" + who, [change], number=i,
                                    reason=who, now=now)
            await s.record_pull_request_opened("A/ns/shared", i * 2 + (who == "b"), now=now)
            if i % 3 == 0:
                await s.unignore_pull_request("A/ns/shared", i)
asyncio.run(main(sys.argv[1], sys.argv[2]))
"""


async def test_two_processes_writing_pull_requests_keep_every_write(backend: Backend) -> None:
    async with await backend.open():
        pass  # migrate first so both children start from the same schema
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", _WRITER, backend.url, who)
        for who in ("a", "b")
    ]
    assert [await proc.wait() for proc in procs] == [0, 0]
    async with await backend.open() as s:
        own = await s.pull_requests("A/ns/a")
        shared = await s.pull_requests("A/ns/shared")
        ignored = await s.ignored_versions("A/ns/shared")
        opened = await s.pull_requests_opened_since("A/ns/shared", T0)
    assert [(r.number, r.changes) for r in own] == [(29, (SetterChange("apps:a", "1", "29"),))]
    assert len(shared) == 1
    assert shared[0].number == 29
    # Each writer unignores every number divisible by 3 right after ignoring it (taking the
    # other writer's entry with that number too if it is there): the rest is all kept.
    kept = [i for i in range(30) if i % 3]
    assert sorted((v.head, v.number) for v in ignored) == sorted(
        [("ia/a", i) for i in kept] + [("ia/b", i) for i in kept]
    )
    assert opened == 60
    assert backend.integrity_problems() == []


HOSTILE = [
    "'; DROP TABLE pull_requests; --",
    'a" OR 1=1 --',
    "Robert'); DELETE FROM ignored_versions WHERE ('1' = '1",
    "ünïcödé/名前/🚀/\u202eevil\u202c/e\u0301",
    "%_*?[]\\",
    "",
]


@pytest.mark.parametrize("value", HOSTILE)
async def test_hostile_strings_are_stored_and_read_back_exactly(
    store: StateStore, value: str
) -> None:
    change = SetterChange(setter=value, old=value, new=value)
    saved = record(
        value,
        value,
        provider=value,
        url=value,
        base=value,
        pushed_sha=value,
        human_sha=value,
        changes=(change, change),
    )
    await store.save_pull_request(saved)
    await store.save_pull_request(record("A/ns/bystander", "ia/x"))
    await store.ignore_versions(value, value, [change], number=None, reason=value, now=T0)
    await store.record_pull_request_opened(value, 5, now=T0)
    assert await store.pull_request(value, value) == saved
    assert await store.pull_requests(value) == [saved]
    [ignored] = await store.ignored_versions(value)
    assert (ignored.automation, ignored.head, ignored.setter, ignored.value, ignored.reason) == (
        (value,) * 5
    )
    assert await store.pull_requests_opened_since(value, T0) == 1
    # The injected SQL ran nowhere: the other rows and tables are all there.
    assert [r.automation for r in await store.pull_requests("A/ns/bystander")] == ["A/ns/bystander"]
    await store.forget_pull_request(value, value)
    assert await store.pull_request(value, value) is None
    assert await store.pull_request("A/ns/bystander", "ia/x") is not None


async def test_huge_change_sets_round_trip(store: StateStore) -> None:
    many = tuple(
        SetterChange(setter=f"ns:policy-{i}", old=f"{i}.0.0", new=f"{i}.0.1") for i in range(20_000)
    )
    giant = (SetterChange(setter="ns:big", old="x" * 4_000_000, new="y" * 4_000_000),)
    for head, changes in (("ia/many", many), ("ia/giant", giant)):
        saved = record("A/ns/big", head, changes=changes)
        await store.save_pull_request(saved)
        assert await store.pull_request("A/ns/big", head) == saved
    await store.ignore_versions("A/ns/big", "ia/many", many, number=3, reason="closed", now=T0)
    assert len(await store.ignored_versions("A/ns/big")) == 20_000
    await store.unignore_pull_request("A/ns/big", 3)
    assert await store.ignored_versions("A/ns/big") == []


@pytest.mark.parametrize(
    "saved",
    [
        pytest.param(record("A/ns/a", "ia/\ud800"), id="lone-surrogate-in-head"),
        pytest.param(record("A/ns/a", "ia/nul\x00inside"), id="nul-in-head"),
        pytest.param(record("A/ns/a", "ia/a", url="http://x/\x00"), id="nul-in-url"),
        pytest.param(record("A/ns/a", "ia/a", number=2**64), id="number-beyond-64-bits"),
        pytest.param(
            record("A/ns/a", "ia/a", changes=(SetterChange("s", "o", "\udfff"),)),
            id="lone-surrogate-in-a-change",
        ),
    ],
)
async def test_unstorable_values_raise_state_error_and_store_nothing(
    store: StateStore, saved: PullRequestRecord
) -> None:
    with pytest.raises(StateError, match="cannot be stored"):
        await store.save_pull_request(saved)
    assert await store.pull_requests() == []


async def test_nul_inside_changes_round_trips_because_json_escapes_it(store: StateStore) -> None:
    saved = record("A/ns/a", "ia/a", changes=(SetterChange("s\x00", "o\x00", "n\x00"),))
    await store.save_pull_request(saved)
    assert await store.pull_request("A/ns/a", "ia/a") == saved


@pytest.mark.parametrize(
    "call",
    [
        pytest.param(lambda s: s.pull_request("A/ns/\x00", "h"), id="read-record"),
        pytest.param(lambda s: s.ignored_versions("A/ns/\x00"), id="read-ignored"),
        pytest.param(
            lambda s: s.ignore_versions(
                "A/ns/a", "h", [SetterChange("s", "o", "n\x00")], number=1, reason="r", now=T0
            ),
            id="ignore",
        ),
        pytest.param(lambda s: s.record_pull_request_opened("\x00", 1, now=T0), id="opened"),
    ],
)
async def test_text_with_nul_is_refused_alike_for_reads_and_writes(
    store: StateStore, call: object
) -> None:
    with pytest.raises(StateError, match="cannot be stored"):
        await call(store)  # type: ignore[operator]
    assert await store.ignored_versions("A/ns/a") == []
    assert await store.pull_requests_opened_since("\x01", T0) == 0
