"""Update windows and release freezes: when an automation (or a promotion) may write to Git.

Pure: no clock. A :class:`Window` is open either during weekday/time ranges (``days`` +
``start``/``end`` local wall-clock times) or for ``duration`` after each start of a five-field
cron expression; both are read in an IANA time zone (``zoneinfo``). A :class:`Freeze` is an
absolute span (``start`` to ``end``) during which nothing is written whatever the windows say.
:class:`UpdateWindows` combines them: open when no freeze covers the instant and (no window is
declared or) some window is open; :meth:`UpdateWindows.next_open` says when that is next true.

Daylight saving time: ranges are wall-clock times, so ``09:00-17:00`` is 09:00-17:00 local on
either side of a change. A start that the clock skips (02:30 on a spring-forward night) opens
the window when the clock jumps; a range whose wall-clock times occur twice (a fall-back
night) is open both times. A cron start that occurs twice fires at its first occurrence.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta, tzinfo
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

__all__ = [
    "CronExpr",
    "Freeze",
    "UpdateWindows",
    "Window",
    "parse_clock",
    "parse_days",
    "zone",
]

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
MAX_DURATION = timedelta(days=31)
_HORIZON = timedelta(days=400)
"""How far :meth:`UpdateWindows.next_open` looks past the last freeze before saying never."""
_MAX_STEPS = 20_000


def zone(name: str) -> ZoneInfo:
    """The IANA time zone ``name``; ``ValueError`` naming it when there is none."""
    if not name or len(name) > 64 or name.startswith("/") or ".." in name:
        raise ValueError(f"unknown time zone {name[:80]!r}")
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError) as exc:
        raise ValueError(f"unknown time zone {name[:80]!r}") from exc


_CLOCK = re.compile(r"([01]?\d|2[0-4]):([0-5]\d)")


def parse_clock(text: str) -> time | None:
    """``HH:MM`` as a time; ``24:00`` is the end of the day, returned as ``None``."""
    match = _CLOCK.fullmatch(text.strip())
    if match is None:
        raise ValueError(f"time {text[:40]!r} is not HH:MM")
    hour, minute = int(match[1]), int(match[2])
    if hour == 24:
        if minute:
            raise ValueError(f"time {text!r} is past 24:00")
        return None
    return time(hour, minute)


def parse_days(items: Iterable[str]) -> frozenset[int]:
    """``["Mon-Fri", "Sun"]`` → weekday numbers (Monday 0); names are case-insensitive."""
    days: set[int] = set()
    for item in items:
        for part in str(item).split(","):
            first, dash, last = part.strip().lower().partition("-")
            lo, hi = _day(first), _day(last if dash else first)
            span = range(lo, hi + 1) if lo <= hi else [*range(lo, 7), *range(0, hi + 1)]
            days.update(span)
    if not days:
        raise ValueError("days must name at least one day")
    return frozenset(days)


def _day(text: str) -> int:
    key = text[:3]
    if key not in DAY_NAMES or (len(text) > 3 and not text.startswith(_FULL_DAYS[key])):
        raise ValueError(f"day {text[:20]!r} is not one of Mon..Sun")
    return DAY_NAMES.index(key)


_FULL = ("monday", "tuesday", "wednesday", "thursday", "friday", "saturday", "sunday")
_FULL_DAYS = dict(zip(DAY_NAMES, _FULL, strict=True))


@dataclass(frozen=True, slots=True)
class CronExpr:
    """A five-field cron expression (minute hour day-of-month month day-of-week).

    Fields take ``*``, numbers, ranges ``a-b``, lists ``a,b`` and steps ``*/n``, ``a-b/n``;
    months and weekdays also take names (``jan``, ``mon``); weekday 0 and 7 are Sunday. When
    both day fields are restricted, a day matching either qualifies (as cron does).
    """

    text: str
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # Monday 0, as datetime.weekday()
    any_day: bool
    any_weekday: bool

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        fields = text.split()
        if len(fields) != 5 or len(text) > 200:
            raise ValueError(f"cron {text[:80]!r} must have five fields")
        minutes = _field(fields[0], 0, 59, "minute")
        hours = _field(fields[1], 0, 23, "hour")
        days = _field(fields[2], 1, 31, "day of month")
        months = _field(fields[3], 1, 12, "month", names=_MONTHS, base=1)
        weekdays = _field(fields[4], 0, 7, "day of week", names=_CRON_DAYS, base=0)
        return cls(
            text=text,
            minutes=tuple(sorted(minutes)),
            hours=tuple(sorted(hours)),
            days=frozenset(days),
            months=frozenset(months),
            weekdays=frozenset((d - 1) % 7 for d in weekdays),  # cron Sunday 0/7 → 6
            any_day=fields[2].startswith("*"),
            any_weekday=fields[4].startswith("*"),
        )

    def matches_day(self, day: date) -> bool:
        if day.month not in self.months:
            return False
        dom, dow = day.day in self.days, day.weekday() in self.weekdays
        if self.any_day or self.any_weekday:
            return dom and dow
        return dom or dow

    def times(self, day: date) -> Iterator[datetime]:
        """The naive wall-clock start times on ``day``, in order (none if the day does not
        match)."""
        if self.matches_day(day):
            for hour in self.hours:
                for minute in self.minutes:
                    yield datetime.combine(day, time(hour, minute))


_CRON_DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")


def _field(
    text: str, lo: int, hi: int, what: str, *, names: tuple[str, ...] = (), base: int = 0
) -> set[int]:
    values: set[int] = set()
    for part in text.split(","):
        spec, _, step_text = part.partition("/")
        step = _number(step_text, what) if step_text else 1
        if step < 1:
            raise ValueError(f"cron {what}: step must be at least 1")
        if spec == "*":
            first, last = lo, hi
        else:
            a, _, b = spec.partition("-")
            first = _value(a, what, names, base)
            last = _value(b, what, names, base) if b else (hi if step_text else first)
        if not (lo <= first <= hi and lo <= last <= hi) or first > last:
            raise ValueError(f"cron {what} {part[:20]!r} is outside {lo}-{hi}")
        values.update(range(first, last + 1, step))
    return values


def _value(text: str, what: str, names: tuple[str, ...], base: int) -> int:
    lowered = text.lower()
    if lowered in names:
        return names.index(lowered) + base
    return _number(text, what)


def _number(text: str, what: str) -> int:
    if not text.isdigit() or len(text) > 4:
        raise ValueError(f"cron {what} {text[:20]!r} is not a number")
    return int(text)


@dataclass(frozen=True, slots=True)
class Window:
    """One recurring window in ``timezone``: weekday/time ranges, or cron starts + duration.

    Ranges: open on ``days`` from ``start`` until ``end`` (local wall clock; ``end`` ``None``
    means midnight at the end of the day; ``end`` before ``start`` runs past midnight into
    the next day). Cron: open for ``duration`` after each start of ``cron``.
    """

    timezone: str = "UTC"
    days: frozenset[int] = frozenset(range(7))
    start: time = time(0)
    end: time | None = None
    cron: CronExpr | None = None
    duration: timedelta | None = None

    def __post_init__(self) -> None:
        zone(self.timezone)
        if self.cron is not None:
            if self.duration is None or not timedelta(0) < self.duration <= MAX_DURATION:
                raise ValueError("a cron window needs a duration above 0 and at most 31 days")
        elif self.end is not None and self.end == self.start:
            raise ValueError("a window's start and end must differ")

    @property
    def tz(self) -> ZoneInfo:
        return zone(self.timezone)

    def describe(self) -> str:
        if self.cron is not None:
            return f"cron {self.cron.text!r} for {_span(self.duration)} ({self.timezone})"
        days = ",".join(DAY_NAMES[d].title() for d in sorted(self.days))
        end = self.end.strftime("%H:%M") if self.end is not None else "24:00"
        return f"{days} {self.start.strftime('%H:%M')}-{end} ({self.timezone})"

    def in_window(self, now: datetime) -> bool:
        """Whether the window is open at the aware instant ``now``."""
        local = _aware(now).astimezone(self.tz).replace(tzinfo=None)
        if self.cron is not None:
            return self._cron_open(local, _aware(now))
        wall, today = local.time(), local.weekday()
        yesterday = (today - 1) % 7
        if self.end is None or self.start < self.end:
            return (
                today in self.days and self.start <= wall and (self.end is None or wall < self.end)
            )
        # Past midnight: the evening part today, the morning part of yesterday's range.
        return (today in self.days and wall >= self.start) or (
            yesterday in self.days and wall < self.end
        )

    def _cron_open(self, local: datetime, now: datetime) -> bool:
        assert self.cron is not None and self.duration is not None
        earliest = (now - self.duration).astimezone(self.tz).date() - timedelta(days=1)
        day = local.date()
        while day >= earliest:
            for wall in reversed(list(self.cron.times(day))):
                fired = instant(wall, self.tz)
                if fired <= now:
                    return now < fired + self.duration
            day -= timedelta(days=1)
        return False

    def next_start(self, after: datetime) -> datetime | None:
        """The first instant after ``after`` at which the window's wall clock reaches a start
        (or the clock jumps), within the horizon; a candidate for :meth:`next_open`."""
        tz = self.tz
        local_day = after.astimezone(tz).date()
        span = 8 if self.cron is None else _HORIZON.days
        best: datetime | None = None
        for offset in range(-1, span):
            day = local_day + timedelta(days=offset)
            walls = (
                self.cron.times(day)
                if self.cron is not None
                else iter([datetime.combine(day, self.start)] if day.weekday() in self.days else [])
            )
            for wall in walls:
                for when in _instants(wall, tz):
                    if when > after and (best is None or when < best):
                        best = when
            if best is not None and best.astimezone(tz).date() < day:
                break
        if self.cron is None:  # a clock going back can reopen a range of wall-clock times
            jump = next_transition(tz, after, limit=timedelta(days=span))
            if jump is not None and (best is None or jump < best):
                best = jump
        return best


@dataclass(frozen=True, slots=True)
class Freeze:
    """Nothing is written from ``start`` (inclusive) until ``end`` (exclusive)."""

    start: datetime
    end: datetime
    reason: str = ""

    def __post_init__(self) -> None:
        if self.start.tzinfo is None or self.end.tzinfo is None:
            raise ValueError("freeze times need a time zone")
        if self.end <= self.start:
            raise ValueError("a freeze must end after it starts")

    def covers(self, now: datetime) -> bool:
        return self.start <= _aware(now) < self.end


@dataclass(frozen=True, slots=True)
class UpdateWindows:
    """The windows and freezes of one automation or policy; empty: always open.

    ``also``: further levels that must be open too (an automation's windows and those of
    one of its policies, see :meth:`merged`).
    """

    windows: tuple[Window, ...] = ()
    freezes: tuple[Freeze, ...] = ()
    also: tuple[UpdateWindows, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.windows or self.freezes or any(self.also))

    def merged(self, other: UpdateWindows) -> UpdateWindows:
        """Open only when both ``self`` and ``other`` are."""
        if not other:
            return self
        if not self:
            return other
        return UpdateWindows(windows=self.windows, freezes=self.freezes, also=(*self.also, other))

    def _levels(self) -> Iterator[UpdateWindows]:
        yield self
        for level in self.also:
            yield from level._levels()

    def in_window(self, now: datetime) -> bool:
        now = _aware(now)
        for level in self._levels():
            if any(f.covers(now) for f in level.freezes):
                return False
            if level.windows and not any(w.in_window(now) for w in level.windows):
                return False
        return True

    def closed_because(self, now: datetime) -> str | None:
        """Why nothing may be written at ``now`` (``None``: it may), with the next opening."""
        now = _aware(now)
        if self.in_window(now):
            return None
        freezes = [f for level in self._levels() for f in level.freezes]
        freeze = next((f for f in freezes if f.covers(now)), None)
        opens = self.next_open(now)
        when = f"opens {opens.astimezone(UTC).isoformat()}" if opens else "never opens again"
        if freeze is not None:
            why = f" ({freeze.reason})" if freeze.reason else ""
            return f"frozen{why} until {freeze.end.astimezone(UTC).isoformat()}; {when}"
        return f"outside the update windows; {when}"

    def next_open(self, now: datetime) -> datetime | None:
        """``now`` if open, else the first later instant that is; ``None`` if none is near."""
        at = _aware(now)
        levels = list(self._levels())
        freezes = [f for level in levels for f in level.freezes]
        windows = [w for level in levels for w in level.windows]
        horizon = max([at, *(f.end for f in freezes)]) + _HORIZON
        for _ in range(_MAX_STEPS):
            if self.in_window(at):
                return at
            candidates = [f.end for f in freezes if f.end > at]
            candidates += [c for w in windows if (c := w.next_start(at)) is not None]
            if not candidates:
                return None
            at = min(candidates)
            if at > horizon:
                return None
        return None


def _aware(now: datetime) -> datetime:
    if now.tzinfo is None or now.utcoffset() is None:
        raise ValueError("now must be timezone-aware")
    return now


def _span(delta: timedelta | None) -> str:
    seconds = int(delta.total_seconds()) if delta else 0
    hours, rest = divmod(seconds, 3600)
    return f"{hours}h{rest // 60:02d}m" if rest else f"{hours}h"


def _exists(wall: datetime, tz: tzinfo, fold: int) -> datetime | None:
    aware = wall.replace(tzinfo=tz, fold=fold)
    back = aware.astimezone(UTC).astimezone(tz).replace(tzinfo=None)
    return aware.astimezone(UTC) if back == wall else None


def _instants(wall: datetime, tz: tzinfo) -> list[datetime]:
    """The instants at which the local clock shows ``wall``: one, two (fall back), or — for a
    time the clock skips — the instant it jumps over it."""
    found = {when for fold in (0, 1) if (when := _exists(wall, tz, fold)) is not None}
    if found:
        return sorted(found)
    return [instant(wall, tz)]


def instant(wall: datetime, tz: tzinfo) -> datetime:
    """The first instant at which the local clock in ``tz`` reads ``wall`` or later."""
    first = _exists(wall, tz, 0) or _exists(wall, tz, 1)
    if first is not None:
        return first
    # In a gap: the transition lies between the two readings of the skipped time.
    low = wall.replace(tzinfo=tz, fold=1).astimezone(UTC)
    high = wall.replace(tzinfo=tz, fold=0).astimezone(UTC)
    if low > high:
        low, high = high, low
    return _bisect(tz, low, high)


def next_transition(tz: tzinfo, after: datetime, *, limit: timedelta) -> datetime | None:
    """The first instant after ``after`` at which ``tz``'s UTC offset changes (within
    ``limit``); ``None`` when there is none."""
    step = timedelta(hours=12)
    start = after.astimezone(UTC)
    end = start + limit
    while start < end:
        stop = min(start + step, end)
        if start.astimezone(tz).utcoffset() != stop.astimezone(tz).utcoffset():
            return _bisect(tz, start, stop)
        start = stop
    return None


def _bisect(tz: tzinfo, low: datetime, high: datetime) -> datetime:
    """The first second in ``(low, high]`` with ``high``'s offset (offsets differ at ends)."""
    target = high.astimezone(tz).utcoffset()
    while high - low > timedelta(seconds=1):
        mid = low + (high - low) / 2
        mid = mid.replace(microsecond=0)
        if mid <= low:
            break
        if mid.astimezone(tz).utcoffset() == target:
            high = mid
        else:
            low = mid
    return high
