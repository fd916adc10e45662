"""HTTP header values both HTTP adapters (registries and forges) read the same way.

Pure: the caller passes the current time, so a date-valued header is tested without a clock.
"""

from __future__ import annotations

import email.utils
import math


def retry_after_seconds(value: str | None, *, now: float) -> float | None:
    """Seconds to wait from a ``Retry-After`` value (delta-seconds or an HTTP date, RFC 9110),
    never negative; ``None`` when absent, unreadable or not finite. ``now``: epoch seconds."""
    if not value:
        return None
    value = value.strip()
    try:
        seconds = float(value)
    except ValueError:
        pass
    else:  # "inf", "nan" and 400-digit numbers are not a wait anyone meant
        return max(0.0, seconds) if math.isfinite(seconds) else None
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - now)
