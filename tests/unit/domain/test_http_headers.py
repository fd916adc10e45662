"""``Retry-After`` read once for both HTTP adapters (registries and forges)."""

from __future__ import annotations

import pytest

from image_automation.domain import retry_after_seconds

NOW = 1445412480.0  # Wed, 21 Oct 2015 07:28:00 GMT


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (None, None),
        ("", None),
        ("  ", None),
        ("120", 120.0),
        (" 7 ", 7.0),
        ("1.5", 1.5),
        ("-3", 0.0),
        ("Wed, 21 Oct 2015 07:28:30 GMT", 30.0),
        ("Wed, 21 Oct 2015 07:27:00 GMT", 0.0),  # a date in the past: no wait
        ("soon", None),
        ("Wed, 99 Oct 2015 07:28:30 GMT", None),
        ("9" * 5000, None),
        ("inf", None),
        ("nan", None),
    ],
)
def test_retry_after_reads_seconds_or_an_http_date(
    value: str | None, expected: float | None
) -> None:
    assert retry_after_seconds(value, now=NOW) == expected
