"""Update windows and freezes over a test clock: time zones, DST changes, cron, freezes."""

from __future__ import annotations

from datetime import UTC, datetime, time, timedelta

import pytest

from image_automation.policy._windows import (
    CronExpr,
    Freeze,
    UpdateWindows,
    Window,
    parse_clock,
    parse_days,
    zone,
)


def utc(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


WEEKDAYS_BERLIN = Window("Europe/Berlin", parse_days(["Mon-Fri"]), time(9), time(17))
GAP_BERLIN = Window("Europe/Berlin", start=time(2, 30), end=time(4))
FOLD_BERLIN = Window("Europe/Berlin", start=time(2), end=time(2, 30))
NIGHT_UTC = Window("UTC", parse_days(["Fri"]), time(22), time(6))
SUNDAY_UTC = Window("UTC", parse_days(["Sun"]), time(0), None)
NY_NIGHTS = Window(
    "America/New_York", cron=CronExpr.parse("0 22 * * 1-5"), duration=timedelta(hours=8)
)
NY_GAP_CRON = Window(
    "America/New_York", cron=CronExpr.parse("30 2 * * *"), duration=timedelta(hours=1)
)
KOLKATA = Window("Asia/Kolkata", start=time(9), end=time(17))
NEVER = Window("UTC", cron=CronExpr.parse("0 0 30 feb *"), duration=timedelta(hours=1))
FREEZE = Freeze(utc("2024-12-20T00:00"), utc("2025-01-06T00:00"), "year-end")

CASES = [
    # (id, windows, now (UTC), open?, next_open (UTC) or None)
    ("berlin-winter-opens-at-nine", UpdateWindows((WEEKDAYS_BERLIN,)), "2025-01-06T08:00", True,
     "2025-01-06T08:00"),
    ("berlin-winter-just-before", UpdateWindows((WEEKDAYS_BERLIN,)), "2025-01-06T07:59", False,
     "2025-01-06T08:00"),
    ("berlin-closes-at-five", UpdateWindows((WEEKDAYS_BERLIN,)), "2025-01-06T16:00", False,
     "2025-01-07T08:00"),
    ("berlin-weekend-waits-for-monday", UpdateWindows((WEEKDAYS_BERLIN,)), "2025-01-11T12:00",
     False, "2025-01-13T08:00"),
    ("berlin-summer-time-nine-is-seven-utc", UpdateWindows((WEEKDAYS_BERLIN,)),
     "2025-07-07T07:00", True, "2025-07-07T07:00"),
    ("berlin-friday-before-spring-forward", UpdateWindows((WEEKDAYS_BERLIN,)),
     "2025-03-28T16:00", False, "2025-03-31T07:00"),
    ("berlin-friday-before-fall-back", UpdateWindows((WEEKDAYS_BERLIN,)), "2025-10-24T15:00",
     False, "2025-10-27T08:00"),
    ("skipped-start-opens-when-the-clock-jumps", UpdateWindows((GAP_BERLIN,)),
     "2025-03-30T00:50", False, "2025-03-30T01:00"),
    ("inside-after-the-jump", UpdateWindows((GAP_BERLIN,)), "2025-03-30T01:30", True,
     "2025-03-30T01:30"),
    ("repeated-hour-first-time", UpdateWindows((FOLD_BERLIN,)), "2025-10-26T00:10", True,
     "2025-10-26T00:10"),
    ("repeated-hour-reopens-the-second-time", UpdateWindows((FOLD_BERLIN,)), "2025-10-26T00:30",
     False, "2025-10-26T01:00"),
    ("repeated-hour-after-second-time", UpdateWindows((FOLD_BERLIN,)), "2025-10-26T01:30",
     False, "2025-10-27T01:00"),
    ("past-midnight-morning-part", UpdateWindows((NIGHT_UTC,)), "2025-01-11T05:59", True,
     "2025-01-11T05:59"),
    ("past-midnight-ends", UpdateWindows((NIGHT_UTC,)), "2025-01-11T06:00", False,
     "2025-01-17T22:00"),
    ("whole-day-until-24", UpdateWindows((SUNDAY_UTC,)), "2025-01-12T23:59", True,
     "2025-01-12T23:59"),
    ("whole-day-over", UpdateWindows((SUNDAY_UTC,)), "2025-01-13T00:00", False,
     "2025-01-19T00:00"),
    ("cron-open-after-start", UpdateWindows((NY_NIGHTS,)), "2025-01-07T03:00", True,
     "2025-01-07T03:00"),
    ("cron-open-until-duration", UpdateWindows((NY_NIGHTS,)), "2025-01-07T10:59", True,
     "2025-01-07T10:59"),
    ("cron-closed-after-duration", UpdateWindows((NY_NIGHTS,)), "2025-01-07T11:00", False,
     "2025-01-08T03:00"),
    ("cron-friday-night-runs-into-saturday", UpdateWindows((NY_NIGHTS,)), "2025-01-11T06:00",
     True, "2025-01-11T06:00"),
    ("cron-weekend-waits-for-monday-night", UpdateWindows((NY_NIGHTS,)), "2025-01-11T12:00",
     False, "2025-01-14T03:00"),
    ("cron-summer-time", UpdateWindows((NY_NIGHTS,)), "2025-07-08T02:00", True,
     "2025-07-08T02:00"),
    ("cron-skipped-start-fires-at-the-jump", UpdateWindows((NY_GAP_CRON,)), "2025-03-09T06:00",
     False, "2025-03-09T07:00"),
    ("half-hour-offset-zone", UpdateWindows((KOLKATA,)), "2025-01-06T03:30", True,
     "2025-01-06T03:30"),
    ("half-hour-offset-zone-before", UpdateWindows((KOLKATA,)), "2025-01-06T03:29", False,
     "2025-01-06T03:30"),
    ("freeze-beats-window", UpdateWindows((Window("UTC", parse_days(["Mon-Fri"]), time(9),
     time(17)),), (FREEZE,)), "2024-12-23T10:00", False, "2025-01-06T09:00"),
    ("freeze-only-ends-at-until", UpdateWindows((), (FREEZE,)), "2024-12-23T10:00", False,
     "2025-01-06T00:00"),
    ("freeze-until-is-exclusive", UpdateWindows((), (FREEZE,)), "2025-01-06T00:00", True,
     "2025-01-06T00:00"),
    ("nothing-declared-is-always-open", UpdateWindows(), "2025-01-06T00:00", True,
     "2025-01-06T00:00"),
    ("never-opens", UpdateWindows((NEVER,)), "2025-01-06T00:00", False, None),
]  # fmt: skip


@pytest.mark.parametrize(
    ("windows", "now", "is_open", "opens"), [c[1:] for c in CASES], ids=[c[0] for c in CASES]
)
def test_window_is_open_and_next_opening(
    windows: UpdateWindows, now: str, is_open: bool, opens: str | None
) -> None:
    at = utc(now)
    assert windows.in_window(at) is is_open
    assert windows.next_open(at) == (utc(opens) if opens else None)
    assert (windows.closed_because(at) is None) is is_open


def test_policy_window_inside_the_automation_window_must_both_be_open() -> None:
    automation = UpdateWindows((Window("UTC", parse_days(["Mon-Fri"]), time(9), time(17)),))
    policy = UpdateWindows((Window("UTC", parse_days(["Tue-Thu"]), time(10), time(12)),))
    both = automation.merged(policy)
    monday = utc("2025-01-06T10:00")
    assert automation.in_window(monday) and not both.in_window(monday)
    assert both.next_open(monday) == utc("2025-01-07T10:00")


def test_closed_reason_names_the_freeze_and_the_opening() -> None:
    windows = UpdateWindows((), (FREEZE,))
    assert windows.closed_because(utc("2024-12-24T00:00")) == (
        "frozen (year-end) until 2025-01-06T00:00:00+00:00; opens 2025-01-06T00:00:00+00:00"
    )


@pytest.mark.parametrize(
    ("items", "days"),
    [
        (["Mon-Fri"], {0, 1, 2, 3, 4}),
        (["fri-mon"], {4, 5, 6, 0}),
        (["Sun", "Wednesday"], {6, 2}),
        (["mon,tue"], {0, 1}),
    ],
)
def test_days_parse(items: list[str], days: set[int]) -> None:
    assert parse_days(items) == days


@pytest.mark.parametrize("items", [["Funday"], [], ["Mon-"], ["x" * 10_000], ["Monxyz"]])
def test_bad_days_are_refused(items: list[str]) -> None:
    with pytest.raises(ValueError, match="day"):
        parse_days(items)


@pytest.mark.parametrize(("text", "value"), [("09:00", time(9)), ("7:05", time(7, 5)),
                                             ("24:00", None)])  # fmt: skip
def test_clock_parses(text: str, value: time | None) -> None:
    assert parse_clock(text) == value


ARABIC_NOON = "\u0661\u0662:\u0660\u0660"


@pytest.mark.parametrize("text", ["25:00", "24:01", "9", "09:60", "", "09:00:00", ARABIC_NOON])
def test_bad_clock_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="time"):
        parse_clock(text)


@pytest.mark.parametrize(
    "text",
    ["* * * *", "61 * * * *", "* 24 * * *", "* * 0 * *", "*/0 * * * *", "5-1 * * * *",
     "a b c d e", "* * * foo *", "* * * * " + "1," * 200 + "1", "99999 * * * *"],
)  # fmt: skip
def test_bad_cron_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="cron"):
        CronExpr.parse(text)


def test_cron_names_steps_and_sunday_seven() -> None:
    cron = CronExpr.parse("*/15 9-17/4 * jan-mar sun,7")
    assert cron.minutes == (0, 15, 30, 45)
    assert cron.hours == (9, 13, 17)
    assert cron.months == {1, 2, 3}
    assert cron.weekdays == {6}


@pytest.mark.parametrize("name", ["Mars/Base", "../../etc/passwd", "/etc/localtime", "", "x" * 300])
def test_unknown_time_zone_is_refused(name: str) -> None:
    with pytest.raises(ValueError, match="time zone"):
        zone(name)


def test_window_checks_its_own_fields() -> None:
    with pytest.raises(ValueError, match="duration"):
        Window("UTC", cron=CronExpr.parse("0 0 * * *"))
    with pytest.raises(ValueError, match="differ"):
        Window("UTC", start=time(9), end=time(9))
    with pytest.raises(ValueError, match="end after"):
        Freeze(utc("2025-01-02T00:00"), utc("2025-01-01T00:00"))


def test_naive_now_is_refused() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        UpdateWindows().in_window(datetime(2025, 1, 1))
