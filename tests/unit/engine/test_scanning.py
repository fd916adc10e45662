"""The scanner with a fake tag lister and a real SQLite store in a temp dir."""

from __future__ import annotations

import asyncio
import sqlite3
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from image_automation.domain import ImageRef, TagInfo
from image_automation.engine.scanning import (
    MAX_ERROR_CHARS,
    ScanReport,
    ScanTarget,
    TagListing,
    deadline_exceeded,
    merge_targets,
    scan_repositories,
    tags_for,
)
from image_automation.errors import RegistryError, RegistryUnavailable, StateError
from image_automation.state import TagDiff
from image_automation.state.sqlite import SqliteStore

T0 = datetime(2026, 3, 1, tzinfo=UTC)


def target(image: str, **hints: object) -> ScanTarget:
    return ScanTarget(ImageRef.parse(image), **hints)  # type: ignore[arg-type]


class Clock:
    """A manual clock: each call returns the current time; tests advance it."""

    def __init__(self) -> None:
        self.now = T0

    def __call__(self) -> datetime:
        return self.now


@dataclass
class FakeLister:
    """Answers from a table of repository → tags or exception; records every call."""

    answers: dict[str, list[str] | Exception] = field(default_factory=dict)
    calls: list[ScanTarget] = field(default_factory=list)
    known: list[dict[str, TagInfo]] = field(default_factory=list)
    active: int = 0
    max_active: int = 0

    async def list_tags(self, target: ScanTarget, *, known: Mapping[str, TagInfo]) -> TagListing:
        self.calls.append(target)
        self.known.append(dict(known))
        self.active += 1
        self.max_active = max(self.max_active, self.active)
        try:
            for _ in range(5):  # yield so that every task the gate admits gets to run here
                await asyncio.sleep(0)
            answer = self.answers.get(target.repository, [])
            if isinstance(answer, Exception):
                raise answer
            return TagListing(tuple(TagInfo(name) for name in answer), requests=len(answer) + 1)
        finally:
            self.active -= 1


@pytest.fixture
async def store(tmp_path: Path) -> AsyncIterator[SqliteStore]:
    async with await SqliteStore.open(tmp_path / "state.db") as opened:
        yield opened


async def scan(
    targets: list[ScanTarget],
    lister: FakeLister,
    store: SqliteStore,
    clock: Callable[[], datetime] = lambda: T0,
    **kwargs: object,
) -> list[ScanReport]:
    return await scan_repositories(
        targets,
        lister=lister,
        store=store,
        clock=clock,
        **kwargs,  # type: ignore[arg-type]
    )


async def test_concurrency_limit_is_honoured(store: SqliteStore) -> None:
    lister = FakeLister({f"ghcr.io/o/r{i}": ["1"] for i in range(10)})
    targets = [target(f"ghcr.io/o/r{i}") for i in range(10)]
    reports = await scan(targets, lister, store, concurrency=3)
    assert len(lister.calls) == 10
    assert lister.max_active == 3
    assert all(r.ok for r in reports)


async def test_concurrency_of_one_scans_one_at_a_time(store: SqliteStore) -> None:
    lister = FakeLister()
    await scan([target(f"ghcr.io/o/r{i}") for i in range(4)], lister, store, concurrency=1)
    assert (len(lister.calls), lister.max_active) == (4, 1)


async def test_zero_concurrency_is_refused(store: SqliteStore) -> None:
    with pytest.raises(ValueError, match="concurrency"):
        await scan([target("nginx")], FakeLister(), store, concurrency=0)


async def test_shared_repository_is_scanned_once(store: SqliteStore) -> None:
    lister = FakeLister({"docker.io/library/nginx": ["1.25", "1.26"]})
    targets = [
        target("nginx"),
        target("docker.io/library/nginx:1.25", needs_metadata=True),
        target("index.docker.io/library/nginx", secret_ref="hub"),
        target("ghcr.io/o/app"),
    ]
    reports = await scan(targets, lister, store)
    assert [r.repository for r in reports] == ["docker.io/library/nginx", "ghcr.io/o/app"]
    nginx = [c for c in lister.calls if c.repository == "docker.io/library/nginx"]
    assert len(nginx) == 1
    assert (nginx[0].needs_metadata, nginx[0].secret_ref, nginx[0].image.tag) == (True, "hub", None)


async def test_new_tags_get_the_clock_time_as_first_seen(store: SqliteStore) -> None:
    clock = Clock()
    lister = FakeLister({"ghcr.io/o/app": ["1.0"]})
    await scan([target("ghcr.io/o/app")], lister, store, clock)
    clock.now = T0 + timedelta(hours=1)
    lister.answers["ghcr.io/o/app"] = ["1.0", "1.1"]
    [report] = await scan([target("ghcr.io/o/app")], lister, store, clock)
    assert (report.added, report.removed, report.tag_count, report.requests) == (("1.1",), (), 2, 3)
    seen = {t.name: t.first_seen for t in await store.tags("ghcr.io/o/app")}
    assert seen == {"1.0": T0, "1.1": T0 + timedelta(hours=1)}


async def test_failed_scan_keeps_last_good_and_records_the_error(store: SqliteStore) -> None:
    clock = Clock()
    lister = FakeLister({"ghcr.io/o/app": ["1.0", "1.1"]})
    await scan([target("ghcr.io/o/app")], lister, store, clock)
    clock.now = T0 + timedelta(minutes=5)
    lister.answers["ghcr.io/o/app"] = RegistryUnavailable("ghcr.io: 503", delay=30)
    [report] = await scan([target("ghcr.io/o/app")], lister, store, clock)
    assert (report.ok, report.tag_count, report.error, report.retry_after) == (
        False,
        2,
        "ghcr.io: 503",
        30,
    )
    assert [t.name for t in await store.tags("ghcr.io/o/app")] == ["1.0", "1.1"]
    status = await store.scan_status("ghcr.io/o/app")
    assert status is not None
    assert (status.last_error, status.last_attempt, status.last_success) == (
        "ghcr.io: 503",
        T0 + timedelta(minutes=5),
        T0,
    )


async def test_one_failure_does_not_stop_the_others(store: SqliteStore) -> None:
    lister = FakeLister(
        {
            "ghcr.io/o/bad": RegistryError("ghcr.io/o/bad: NAME_UNKNOWN"),
            "ghcr.io/o/bug": KeyError("oops"),
            "ghcr.io/o/good": ["1"],
        }
    )
    reports = await scan([target(f"ghcr.io/o/{n}") for n in ("bad", "bug", "good")], lister, store)
    outcome = {r.repository: (r.ok, r.error) for r in reports}
    assert outcome == {
        "ghcr.io/o/bad": (False, "ghcr.io/o/bad: NAME_UNKNOWN"),
        "ghcr.io/o/bug": (False, "unexpected KeyError: 'oops'"),
        "ghcr.io/o/good": (True, None),
    }
    statuses = await store.scan_statuses()
    assert [(s.repository, s.ok) for s in statuses] == [
        ("ghcr.io/o/bad", False),
        ("ghcr.io/o/bug", False),
        ("ghcr.io/o/good", True),
    ]


async def test_stored_error_never_contains_credentials(store: SqliteStore) -> None:
    message = (
        "GET https://robot:hunter2@registry.example/v2/app/tags/list failed; "
        "headers {'Authorization': 'Bearer eyJhbGciOi.eyJzdWIiOi.c2lnbmF0dXJl'} "
        "password=s3cr3t token: abcdef123456"
    )
    lister = FakeLister({"registry.example/app": RegistryError(message)})
    [report] = await scan([target("registry.example/app")], lister, store)
    status = await store.scan_status("registry.example/app")
    assert status is not None
    for text in (report.error, status.last_error):
        assert text is not None
        for secret in ("hunter2", "eyJhbGciOi", "c2lnbmF0dXJl", "s3cr3t", "abcdef123456"):
            assert secret not in text
        # the user name stays (it tells which account was refused); its password does not
        assert "https://robot:***@registry.example/v2/app/tags/list" in text


async def test_long_error_text_is_bounded(store: SqliteStore) -> None:
    lister = FakeLister({"ghcr.io/o/app": RegistryError("x" * 10_000)})
    [report] = await scan([target("ghcr.io/o/app")], lister, store)
    assert report.error is not None
    assert len(report.error) == MAX_ERROR_CHARS


async def test_scan_over_its_timeout_is_a_recorded_failure(store: SqliteStore) -> None:
    class Hanging:
        async def list_tags(
            self, target: ScanTarget, *, known: Mapping[str, TagInfo]
        ) -> TagListing:
            await asyncio.Event().wait()
            raise AssertionError("unreachable")

    reports = await scan_repositories(
        [target("ghcr.io/o/slow", timeout=0.01)], lister=Hanging(), store=store, clock=lambda: T0
    )
    assert [(r.ok, r.error) for r in reports] == [
        (False, deadline_exceeded("ghcr.io/o/slow", 0.01))
    ]
    assert reports[0].error is not None
    assert reports[0].error.startswith("scan of ghcr.io/o/slow exceeded its deadline of 0.01s")


async def test_a_stray_timeout_error_without_a_deadline_is_reported_not_raised(
    store: SqliteStore,
) -> None:
    class TimesOutItself:
        async def list_tags(
            self, target: ScanTarget, *, known: Mapping[str, TagInfo]
        ) -> TagListing:
            raise TimeoutError("helper took too long")

    reports = await scan_repositories(
        [target("ghcr.io/o/x")], lister=TimesOutItself(), store=store, clock=lambda: T0
    )
    assert [(r.ok, r.error) for r in reports] == [
        (False, "unexpected TimeoutError: helper took too long")
    ]


async def test_state_error_stops_the_scan_and_is_raised_as_is(tmp_path: Path) -> None:
    store = await SqliteStore.open(tmp_path / "s.db")
    await store.close()
    with pytest.raises(StateError, match="closed"):
        await scan([target("ghcr.io/o/a"), target("ghcr.io/o/b")], FakeLister(), store)


async def test_state_error_keeps_its_cause(store: SqliteStore) -> None:
    class Broken(SqliteStore):
        async def replace_tags(self, *args: object, **kwargs: object) -> TagDiff:
            try:
                raise sqlite3.OperationalError("disk I/O error")
            except sqlite3.Error as exc:
                raise StateError("state database: store tags: disk I/O error") from exc

    broken = Broken(store.path, store._conn, store._executor)  # type: ignore[arg-type]
    with pytest.raises(StateError, match="disk I/O") as caught:
        await scan([target("ghcr.io/o/a")], FakeLister({"ghcr.io/o/a": ["1"]}), broken)
    assert isinstance(caught.value.__cause__, sqlite3.OperationalError)


async def test_progress_callback_sees_every_report(store: SqliteStore) -> None:
    seen: list[str] = []
    lister = FakeLister({"ghcr.io/o/a": ["1"], "ghcr.io/o/b": RegistryError("no")})
    reports = await scan(
        [target("ghcr.io/o/a"), target("ghcr.io/o/b"), target("ghcr.io/o/a:2")],
        lister,
        store,
        on_report=lambda r: seen.append(r.repository),
    )
    assert sorted(seen) == [r.repository for r in reports] == ["ghcr.io/o/a", "ghcr.io/o/b"]


async def test_tags_for_normalises_the_image_and_returns_last_good(store: SqliteStore) -> None:
    lister = FakeLister({"docker.io/library/nginx": ["1.25", "1.26"]})
    await scan([target("nginx")], lister, store)
    lister.answers["docker.io/library/nginx"] = RegistryUnavailable("down")
    await scan([target("nginx")], lister, store)
    tags = await tags_for(store, "nginx:1.25")
    assert [t.name for t in tags] == ["1.25", "1.26"]
    assert await tags_for(store, ImageRef.parse("docker.io/library/nginx")) == tags


async def test_tags_for_a_never_scanned_repository_is_an_error(store: SqliteStore) -> None:
    with pytest.raises(StateError, match=r"no successful scan of ghcr.io/o/app.*scan --policies"):
        await tags_for(store, "ghcr.io/o/app")
    await scan(
        [target("ghcr.io/o/app")], FakeLister({"ghcr.io/o/app": RegistryError("401")}), store
    )
    with pytest.raises(StateError, match=r"last error: 401"):
        await tags_for(store, "ghcr.io/o/app")


MERGE_CASES = [
    pytest.param(
        [target("a.io/x", timeout=5.0), target("a.io/x", timeout=30.0)],
        target("a.io/x", timeout=30.0),
        id="longest-timeout",
    ),
    pytest.param(
        # No timeout means the default deadline, not "no limit": the one named is kept.
        [target("a.io/x", timeout=5.0), target("a.io/x")],
        target("a.io/x", timeout=5.0),
        id="a-named-timeout-is-kept",
    ),
    pytest.param(
        [target("a.io/x"), target("a.io/x")],
        target("a.io/x"),
        id="none-named-leaves-the-default",
    ),
    pytest.param(
        [target("a.io/x", insecure=True, cert_secret_ref="ca"), target("a.io/x:1", secret_ref="s")],
        target("a.io/x", insecure=True, cert_secret_ref="ca", secret_ref="s"),
        id="hints-combined",
    ),
    pytest.param(
        [target("a.io/x", secret_ref="first"), target("a.io/x", secret_ref="second")],
        target("a.io/x", secret_ref="first"),
        id="first-secret-wins",
    ),
]


@pytest.mark.parametrize(("given", "expected"), MERGE_CASES)
def test_merge_targets(given: list[ScanTarget], expected: ScanTarget) -> None:
    assert merge_targets(given) == [expected]


async def test_stored_tags_are_offered_to_the_lister_only_when_metadata_is_wanted(
    store: SqliteStore,
) -> None:
    lister = FakeLister({"ghcr.io/o/app": ["1.0"], "ghcr.io/o/lib": ["2.0"]})
    targets = [target("ghcr.io/o/app", needs_metadata=True), target("ghcr.io/o/lib")]
    await scan(targets, lister, store)
    assert lister.known == [{}, {}]  # nothing stored yet
    lister.known.clear()
    lister.calls.clear()
    await scan(targets, lister, store)
    offered = {
        call.repository: known for call, known in zip(lister.calls, lister.known, strict=True)
    }
    assert offered == {
        "ghcr.io/o/app": {"1.0": TagInfo("1.0", first_seen=T0)},
        "ghcr.io/o/lib": {},
    }
