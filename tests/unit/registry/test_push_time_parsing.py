"""Time formats of the push-time APIs: Docker Hub and Harbor ISO 8601, Quay epoch and RFC 1123."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest

from image_automation.registry._push_times import parse_epoch, parse_iso, parse_rfc1123

WHEN = datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2024-01-02T03:04:05.123456Z", WHEN.replace(microsecond=123456)),  # Docker Hub
        ("2024-01-02T03:04:05.123Z", WHEN.replace(microsecond=123000)),  # Harbor
        ("2024-01-02T03:04:05Z", WHEN),
        ("2024-01-02T03:04:05.123456789Z", WHEN.replace(microsecond=123456)),  # nanoseconds
        ("2024-01-02T05:04:05+02:00", WHEN),
        ("2024-01-02T03:04:05", WHEN),  # no zone: UTC
        ("0001-01-01T00:00:00Z", None),  # Go's zero time: never pushed
        ("", None),
        ("yesterday", None),
        (None, None),
        (12, None),
    ],
)
def test_iso_times_become_aware_utc(text: Any, expected: datetime | None) -> None:
    assert parse_iso(text) == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (1704164645, WHEN),
        (1704164645.5, WHEN.replace(microsecond=500000)),
        (0, None),
        (-5, None),
        (True, None),
        ("1704164645", None),
        (None, None),
    ],
)
def test_quay_epoch_seconds(value: Any, expected: datetime | None) -> None:
    assert parse_epoch(value) == expected


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Tue, 02 Jan 2024 03:04:05 -0000", WHEN),
        ("Tue, 02 Jan 2024 04:04:05 +0100", WHEN),
        ("not a date", None),
        (None, None),
    ],
)
def test_quay_last_modified(text: Any, expected: datetime | None) -> None:
    assert parse_rfc1123(text) == expected
