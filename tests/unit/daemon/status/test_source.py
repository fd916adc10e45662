"""The daemon's live facts: registry quotas from response headers, store keys of automations."""

from __future__ import annotations

import pytest

from image_automation.daemon.status.model import Quota
from image_automation.daemon.status.source import QuotaBook, store_key
from tests.unit.daemon.status.records import at


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"ratelimit-remaining": "76;w=21600", "ratelimit-limit": "100;w=21600"}, (76, 100)),
        ({"ratelimit-remaining": "5"}, (5, None)),
        ({"ratelimit-remaining": " 0 "}, (0, None)),
        ({"ratelimit-remaining": "lots"}, None),
        ({"ratelimit-remaining": "9" * 40}, None),
        ({}, None),
    ],
)
def test_quota_from_ratelimit_headers(
    headers: dict[str, str], expected: tuple[int, int | None] | None
) -> None:
    book = QuotaBook()
    book.saw("registry-1.docker.io", headers, now=at(1))
    got = book.snapshot().get("registry-1.docker.io")
    assert got == (None if expected is None else Quota("registry-1.docker.io", *expected, at(1)))


def test_a_later_answer_replaces_the_quota_and_one_without_keeps_it() -> None:
    book = QuotaBook()
    book.saw("h", {"ratelimit-remaining": "10"}, now=at(1))
    book.saw("h", {}, now=at(2))
    book.saw("h", {"ratelimit-remaining": "9"}, now=at(3))
    assert book.snapshot()["h"] == Quota("h", 9, None, at(3))


@pytest.mark.parametrize(
    ("daemon", "store"),
    [
        ("flux-system/fleet", "ImageUpdateAutomation/flux-system/fleet"),
        ("ImageAutomation/apps/web", "ImageAutomation/apps/web"),
        ("default", "default"),
    ],
)
def test_views_name_automations_by_their_store_key(daemon: str, store: str) -> None:
    assert store_key(daemon) == store
