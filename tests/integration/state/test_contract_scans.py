"""The StateStore contract, scans side, on every backend: first-seen, failures, decisions,
pushes, concurrent openers and writers."""

from __future__ import annotations

import asyncio
import dataclasses
import sys
from datetime import UTC, datetime, timedelta, timezone

import pytest

from image_automation.domain import Decision, TagInfo
from image_automation.errors import StateError
from image_automation.state import PullRequestRecord, PushRecord, SetterChange, StateStore
from tests.integration.state.conftest import Backend

pytestmark = pytest.mark.integration

REPO = "docker.io/library/nginx"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def names(tags: list[TagInfo]) -> list[str]:
    return [tag.name for tag in tags]


async def test_store_satisfies_the_protocol(store: StateStore) -> None:
    assert isinstance(store, StateStore)


async def test_concurrent_openers_of_a_fresh_store_migrate_it_once(backend: Backend) -> None:
    stores = await asyncio.gather(*(backend.open() for _ in range(4)))
    try:
        await asyncio.gather(
            *(s.replace_tags(f"r/{i}", [TagInfo("1")], now=T0) for i, s in enumerate(stores))
        )
        assert len(await stores[0].scan_statuses()) == 4
    finally:
        for store in stores:
            await store.close()
    assert backend.schema_version() == backend.latest
    assert backend.integrity_problems() == []


async def test_first_seen_is_kept_across_scans_and_new_tags_get_now(store: StateStore) -> None:
    diff = await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("1.1")], now=at(0))
    assert diff.added == ("1.0", "1.1")
    diff = await store.replace_tags(
        REPO, [TagInfo("1.0"), TagInfo("1.1"), TagInfo("2.0")], now=at(5)
    )
    assert (diff.added, diff.removed, diff.count) == (("2.0",), (), 3)
    seen = {t.name: t.first_seen for t in await store.tags(REPO)}
    assert seen == {"1.0": at(0), "1.1": at(0), "2.0": at(5)}


async def test_first_seen_given_by_the_caller_is_ignored(store: StateStore) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0", first_seen=at(-999))], now=at(0))
    assert (await store.tags(REPO))[0].first_seen == at(0)


async def test_disappearing_tag_is_removed_and_reappears_as_new(store: StateStore) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("rc")], now=at(0))
    diff = await store.replace_tags(REPO, [TagInfo("1.0")], now=at(1))
    assert diff.removed == ("rc",)
    assert names(await store.tags(REPO)) == ["1.0"]
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("rc")], now=at(2))
    seen = {t.name: t.first_seen for t in await store.tags(REPO)}
    assert seen == {"1.0": at(0), "rc": at(2)}


async def test_metadata_is_stored_and_replaced_by_the_latest_scan(store: StateStore) -> None:
    first = TagInfo("1.0", digest="sha256:aa", created=at(-60), pushed=at(-30))
    await store.replace_tags(REPO, [first], now=at(0))
    assert await store.tags(REPO) == [
        TagInfo("1.0", digest="sha256:aa", created=at(-60), pushed=at(-30), first_seen=at(0))
    ]
    # The tag moved to another image: the new digest and times win, first_seen stays.
    await store.replace_tags(REPO, [TagInfo("1.0", digest="sha256:bb", created=at(3))], now=at(5))
    assert await store.tags(REPO) == [
        TagInfo("1.0", digest="sha256:bb", created=at(3), first_seen=at(0))
    ]


async def test_times_in_other_zones_come_back_as_utc(store: StateStore) -> None:
    plus_two = timezone(timedelta(hours=2))
    await store.replace_tags(
        REPO, [TagInfo("1.0", created=datetime(2026, 1, 1, 14, 0, tzinfo=plus_two))], now=T0
    )
    created = (await store.tags(REPO))[0].created
    assert created == T0
    assert created is not None
    assert created.utcoffset() == timedelta(0)


async def test_naive_time_is_refused(store: StateStore) -> None:
    with pytest.raises(ValueError, match="naive"):
        await store.replace_tags(REPO, [TagInfo("1.0")], now=datetime(2026, 1, 1))


async def test_failure_keeps_last_good_tags_and_records_the_error(store: StateStore) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("1.1")], now=at(0), requests=1)
    await store.record_failure(REPO, "503 Service Unavailable", now=at(10), requests=4)
    assert names(await store.tags(REPO)) == ["1.0", "1.1"]
    status = await store.scan_status(REPO)
    assert status is not None
    assert status.last_attempt == at(10)
    assert status.last_success == at(0)
    assert status.last_error == "503 Service Unavailable"
    assert (status.tag_count, status.requests, status.ok) == (2, 4, False)


async def test_success_after_failure_clears_the_error(store: StateStore) -> None:
    await store.record_failure(REPO, "unauthorized", now=at(0))
    failed = await store.scan_status(REPO)
    assert failed is not None
    assert (failed.last_success, failed.tag_count, failed.ok) == (None, 0, False)
    await store.replace_tags(REPO, [TagInfo("1.0")], now=at(1), requests=2)
    status = await store.scan_status(REPO)
    assert status is not None
    assert (status.last_error, status.last_success, status.requests, status.ok) == (
        None,
        at(1),
        2,
        True,
    )


async def test_unknown_repository_has_no_status_and_no_tags(store: StateStore) -> None:
    assert await store.scan_status("ghcr.io/nobody/none") is None
    assert await store.tags("ghcr.io/nobody/none") == []


async def test_statuses_list_every_repository_sorted(store: StateStore) -> None:
    await store.replace_tags("ghcr.io/b/b", [TagInfo("1")], now=at(0))
    await store.record_failure("ghcr.io/a/a", "boom", now=at(0))
    statuses = await store.scan_statuses()
    assert [(s.repository, s.ok) for s in statuses] == [
        ("ghcr.io/a/a", False),
        ("ghcr.io/b/b", True),
    ]


async def test_decision_round_trips_as_json_and_is_replaced(store: StateStore) -> None:
    decision = Decision(
        policy="apps/web",
        tag="1.4.0",
        digest="sha256:cc",
        considered=("1.3.0", "1.4.0", "1.5.0"),
        skipped={"latest": "not a semver version"},
        lost={"1.3.0": "older than 1.4.0", "1.5.0": "younger than minAge 24h ünïcode"},
        reasons=("pin in force",),
    )
    await store.save_decision("apps/web", decision, repository=REPO, now=at(0))
    stored = await store.decision("apps/web")
    assert stored is not None
    assert (stored.decision, stored.repository, stored.decided_at) == (decision, REPO, at(0))
    newer = Decision(policy="apps/web", tag=None, reasons=("nothing qualifies",))
    await store.save_decision("apps/web", newer, repository=REPO, now=at(1))
    assert [d.decision for d in await store.decisions()] == [newer]
    assert await store.decision("other") is None


async def test_last_push_is_the_latest_of_that_automation(store: StateStore) -> None:
    change = SetterChange(setter="apps:web", old="1.0", new="1.1")
    await store.record_push(PushRecord("auto", "a" * 40, at(0), (change,)))
    await store.record_push(PushRecord("auto", "b" * 40, at(5), ()))
    await store.record_push(PushRecord("other", "c" * 40, at(9), (change,)))
    assert await store.last_push("auto") == PushRecord("auto", "b" * 40, at(5), ())
    assert await store.last_push("other") == PushRecord("other", "c" * 40, at(9), (change,))
    assert await store.last_push("none") is None


async def test_closed_store_raises_state_error(backend: Backend) -> None:
    store = await backend.open()
    await store.close()
    await store.close()  # idempotent
    with pytest.raises(StateError, match="closed"):
        await store.tags(REPO)


async def test_concurrent_writers_on_one_store_replace_sets_whole(backend: Backend) -> None:
    sets = {
        "even": [TagInfo(f"e{i}") for i in range(0, 200, 2)],
        "odd": [TagInfo(f"o{i}") for i in range(1, 200, 2)],
    }
    expected = {key: sorted(t.name for t in tags) for key, tags in sets.items()}
    seen: list[list[str]] = []
    async with (
        await backend.open() as one,
        await backend.open() as two,
        await backend.open() as reader,
    ):

        async def write(store: StateStore, key: str) -> None:
            for i in range(30):
                await store.replace_tags(REPO, sets[key], now=at(i))
                await store.replace_tags(f"ghcr.io/x/{key}", sets[key], now=at(i))

        async def read() -> None:
            for _ in range(60):
                seen.append(names(await reader.tags(REPO)))

        await asyncio.gather(write(one, "even"), write(two, "odd"), read())
        final = names(await reader.tags(REPO))
        status = await reader.scan_status(REPO)

    assert final in expected.values()
    assert status is not None
    assert status.tag_count == len(final)
    # Every read saw nothing yet, or one whole set: never a mix of the two writers.
    assert all(s == [] or s in expected.values() for s in seen)
    assert backend.integrity_problems() == []
    async with await backend.open() as store:
        counts = {s.repository: s.tag_count for s in await store.scan_statuses()}
        stored = {repo: len(await store.tags(repo)) for repo in counts}
    assert counts == stored == {REPO: 100, "ghcr.io/x/even": 100, "ghcr.io/x/odd": 100}


async def test_two_processes_writing_one_store_keep_it_whole(backend: Backend) -> None:
    async with await backend.open():
        pass  # create and migrate first so both children start from the same schema
    script = (
        "import asyncio, sys\n"
        "from datetime import UTC, datetime\n"
        "from image_automation.domain import TagInfo\n"
        "from image_automation.state import open_store\n"
        "async def main(url, who):\n"
        "    async with await open_store(url) as s:\n"
        "        for i in range(40):\n"
        "            tags = [TagInfo(f'{who}{j}') for j in range(i % 7 + 1)]\n"
        "            await s.replace_tags('shared/repo', tags, now=datetime.now(UTC))\n"
        "            await s.replace_tags(f'own/{who}', tags, now=datetime.now(UTC))\n"
        "asyncio.run(main(sys.argv[1], sys.argv[2]))\n"
    )
    procs = [
        await asyncio.create_subprocess_exec(sys.executable, "-c", script, backend.url, who)
        for who in ("a", "b")
    ]
    codes = [await proc.wait() for proc in procs]
    assert codes == [0, 0]
    async with await backend.open() as store:
        shared = names(await store.tags("shared/repo"))
        own_a = names(await store.tags("own/a"))
        status = await store.scan_status("shared/repo")
    # The last iteration (i = 39) writes 39 % 7 + 1 = 5 tags.
    assert own_a == [f"a{j}" for j in range(5)]
    assert shared in ([f"a{j}" for j in range(5)], [f"b{j}" for j in range(5)])
    assert status is not None
    assert status.tag_count == 5
    assert backend.integrity_problems() == []


# Mixed case, accents, punctuation: a linguistic collation orders these differently.
UNSORTED = ["b", "B", "a", "A", "ä", "_x", "Z", "z/1", "é", "10", "9", "ghcr.io/Ü"]


async def test_lists_sort_by_code_point_like_python(store: StateStore) -> None:
    for name in UNSORTED:
        await store.replace_tags(name, [TagInfo(n) for n in ("b", "B", "a", "_1")], now=T0)
        await store.save_decision(name, Decision(name, "a"), repository=name, now=T0)
        record = PullRequestRecord(name, name, "github", 1, "u", "open", "main", None, (), T0, T0)
        await store.save_pull_request(record)
        await store.save_pull_request(dataclasses.replace(record, automation="x", head=name))
        await store.ignore_versions("x", name, [SetterChange(name, "0", name)], number=1,
                                    reason="r", now=T0)  # fmt: skip
    assert [s.repository for s in await store.scan_statuses()] == sorted(UNSORTED)
    assert [d.policy for d in await store.decisions()] == sorted(UNSORTED)
    assert names(await store.tags("a")) == ["B", "_1", "a", "b"]
    everyone = [(r.automation, r.head) for r in await store.pull_requests()]
    assert everyone == sorted([(n, n) for n in UNSORTED] + [("x", n) for n in UNSORTED])
    assert [r.head for r in await store.pull_requests("x")] == sorted(UNSORTED)
    assert [i.head for i in await store.ignored_versions("x")] == sorted(UNSORTED)


@pytest.mark.parametrize(
    ("error", "stored"),
    [
        ("plain 503", "plain 503"),
        ("body: nul\x00inside", "body: nul\ufffdinside"),
        ("lone \ud800 surrogate", "lone \ufffd surrogate"),
        ("ünïcode 名前 🚀", "ünïcode 名前 🚀"),
    ],
)
async def test_failure_text_no_backend_can_hold_is_stored_with_replacement_characters(
    store: StateStore, error: str, stored: str
) -> None:
    # A registry's error body may hold anything; recording the failure must not fail on it.
    await store.record_failure(REPO, error, now=T0)
    status = await store.scan_status(REPO)
    assert status is not None
    assert status.last_error == stored


HOSTILE_NAMES = [
    "'; DROP TABLE tags; --",
    'a" OR 1=1 --',
    "ünïcödé/名前/🚀/\u202eevil\u202c/e\u0301",
    "%_*?[]\\",
    "x" * 2000,
]


@pytest.mark.parametrize("name", HOSTILE_NAMES, ids=range(len(HOSTILE_NAMES)))
async def test_hostile_names_round_trip_through_scans_decisions_and_pushes(
    store: StateStore, name: str
) -> None:
    await store.replace_tags("bystander", [TagInfo("1")], now=T0)
    await store.replace_tags(name, [TagInfo("1.0", digest=name)], now=T0)
    await store.record_failure(name, name, now=at(1))
    decision = Decision(name, "1.0", reasons=(name,), lost={name: name})
    await store.save_decision(name, decision, repository=name, now=T0)
    change = SetterChange(name, name, name)
    await store.record_push(PushRecord(name, name, T0, (change,)))
    assert await store.tags(name) == [TagInfo("1.0", digest=name, first_seen=T0)]
    status = await store.scan_status(name)
    assert status is not None
    assert (status.last_error, status.tag_count) == (name, 1)
    stored = await store.decision(name)
    assert stored is not None
    assert stored.decision == decision
    assert await store.last_push(name) == PushRecord(name, name, T0, (change,))
    # The injected SQL ran nowhere: the bystander is still there.
    assert names(await store.tags("bystander")) == ["1"]


@pytest.mark.parametrize(
    "bad",
    [
        pytest.param(TagInfo("2.0", digest="sha256:\x00"), id="nul-in-digest"),
        pytest.param(TagInfo("2.0\ud800"), id="lone-surrogate-in-name"),
    ],
)
async def test_a_scan_that_cannot_be_stored_leaves_the_previous_tags_whole(
    store: StateStore, bad: TagInfo
) -> None:
    await store.replace_tags(REPO, [TagInfo("1.0"), TagInfo("1.1")], now=at(0), requests=3)
    with pytest.raises(StateError, match="cannot be stored"):
        await store.replace_tags(REPO, [TagInfo("1.1"), bad], now=at(1))
    assert names(await store.tags(REPO)) == ["1.0", "1.1"]
    status = await store.scan_status(REPO)
    assert status is not None
    assert (status.last_success, status.tag_count, status.requests) == (at(0), 2, 3)


async def test_requests_beyond_64_bits_raise_state_error(store: StateStore) -> None:
    with pytest.raises(StateError, match="cannot be stored"):
        await store.record_failure(REPO, "boom", now=T0, requests=2**64)
    assert await store.scan_status(REPO) is None


async def test_many_tags_are_replaced_in_one_scan(store: StateStore) -> None:
    many = [TagInfo(f"1.{i}.0", digest=f"sha256:{i:064x}", created=at(i)) for i in range(20_000)]
    diff = await store.replace_tags(REPO, many, now=T0)
    assert diff.count == 20_000
    diff = await store.replace_tags(REPO, [*many[:10], TagInfo("new")], now=at(1))
    assert (len(diff.removed), diff.added, diff.count) == (19_990, ("new",), 11)
    stored = await store.tags(REPO)
    assert [t.first_seen for t in stored] == [T0] * 10 + [at(1)]
    assert stored[0] == TagInfo("1.0.0", digest=f"sha256:{0:064x}", created=at(0), first_seen=T0)
