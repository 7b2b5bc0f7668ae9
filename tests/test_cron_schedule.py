"""Cron schedules: every accepted form, due times across DST, errors people see."""

from __future__ import annotations

import itertools
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from hermes.cron.cronexpr import CronExpr
from hermes.cron.schedule import FORMS, Schedule, ScheduleError, parse, zone

BERLIN = ZoneInfo("Europe/Berlin")
NEW_YORK = ZoneInfo("America/New_York")
UTC = ZoneInfo("UTC")


def at(
    tz: ZoneInfo, year: int, month: int, day: int, hour: int, minute: int, sec: int = 0
) -> float:
    return datetime(year, month, day, hour, minute, sec, tzinfo=tz).timestamp()


def local(when: float | None, tz: ZoneInfo) -> str | None:
    return None if when is None else datetime.fromtimestamp(when, tz).isoformat()


NOW = at(BERLIN, 2026, 3, 4, 12, 0)  # a Wednesday, 12:00 CET


def runs(text: str, tz: ZoneInfo, start: float, count: int) -> list[str | None]:
    """The first `count` due times of a job created at `start`, each run claimed on time."""
    schedule = parse(text, tz, start)
    due = schedule.first(start, tz)
    out = []
    for _ in range(count):
        out.append(local(due, tz))
        assert due is not None
        due = schedule.following(due, due, tz)
    return out


# ---- canonical text ---------------------------------------------------------------------

CANONICAL = [
    ("30 7 * * 1-5", "cron", "30 7 * * 1-5"),
    ("  30   7 *  * 1-5 ", "cron", "30 7 * * 1-5"),
    ("*/15 * * * *", "cron", "*/15 * * * *"),
    ("0-30/10 9-17 * * *", "cron", "0-30/10 9-17 * * *"),
    ("5/20 * * * *", "cron", "5-59/20 * * * *"),
    ("00 07 01,15 * *", "cron", "0 7 1,15 * *"),
    ("0 9 * JAN-MAR Mon-Fri", "cron", "0 9 * 1-3 1-5"),
    ("0 9 1 jan,jul *", "cron", "0 9 1 1,7 *"),
    ("0 0 * * sun,sat", "cron", "0 0 * * 0,6"),
    ("0 0 * * 7", "cron", "0 0 * * 7"),
    ("@hourly", "cron", "0 * * * *"),
    ("@daily", "cron", "0 0 * * *"),
    ("@Midnight", "cron", "0 0 * * *"),
    ("@weekly", "cron", "0 0 * * 0"),
    ("@monthly", "cron", "0 0 1 * *"),
    ("@yearly", "cron", "0 0 1 1 *"),
    ("@ANNUALLY", "cron", "0 0 1 1 *"),
    ("every 30m", "every", "every 30m"),
    ("every 2h", "every", "every 2h"),
    ("every 1d", "every", "every 1d"),
    ("Every 30 Minutes", "every", "every 30m"),
    ("every 90 min", "every", "every 90m"),
    ("every 2 hours", "every", "every 2h"),
    ("every 3 hrs", "every", "every 3h"),
    ("every 1 day", "every", "every 1d"),
    ("every 366 days", "every", "every 366d"),
    ("2026-12-24T18:00", "once", "once 2026-12-24T18:00:00+01:00"),
    ("2026-12-24 18:00", "once", "once 2026-12-24T18:00:00+01:00"),
    ("2026-12-24t18:00:30", "once", "once 2026-12-24T18:00:30+01:00"),
    ("2026-12-24T18:00Z", "once", "once 2026-12-24T19:00:00+01:00"),
    ("2026-07-01T08:00+02:00", "once", "once 2026-07-01T08:00:00+02:00"),
    ("2026-07-01 08:00:00-04:00", "once", "once 2026-07-01T14:00:00+02:00"),
    ("once 2026-12-24T18:00:00+01:00", "once", "once 2026-12-24T18:00:00+01:00"),
    ("in 20m", "once", "once 2026-03-04T12:20:00+01:00"),
    ("in 20 minutes", "once", "once 2026-03-04T12:20:00+01:00"),
    ("in 2 hours", "once", "once 2026-03-04T14:00:00+01:00"),
    ("IN 1 DAY", "once", "once 2026-03-05T12:00:00+01:00"),
]


@pytest.mark.parametrize(("text", "kind", "canonical"), CANONICAL)
def test_each_form_has_a_canonical_text_that_parses_back(
    text: str, kind: str, canonical: str
) -> None:
    schedule = parse(text, BERLIN, NOW)
    assert (schedule.kind, schedule.text) == (kind, canonical)
    assert parse(schedule.text, BERLIN, NOW) == schedule


def test_once_and_every_carry_their_numbers() -> None:
    assert parse("every 2h", UTC, NOW).seconds == 7200
    assert parse("in 20m", UTC, NOW).at == NOW + 1200
    assert parse("2026-12-24T18:00", NEW_YORK, NOW).at == at(NEW_YORK, 2026, 12, 24, 18, 0)
    assert parse("in 1m", UTC, NOW + 0.25).at == NOW + 61  # whole seconds, still in the future


# ---- plain language ---------------------------------------------------------------------

PLAIN = [
    ("every weekday at 7:30", "30 7 * * 1-5"),
    ("every day at 9am", "0 9 * * *"),
    ("daily at 09:00", "0 9 * * *"),
    ("every monday at 8", "0 8 * * 1"),
    ("every mon, wed and fri at 18:15", "15 18 * * 1,3,5"),
    ("every weekend at 10:30", "30 10 * * 0,6"),
    ("every hour", "0 * * * *"),
    ("hourly", "0 * * * *"),
    ("every night at 2am", "0 2 * * *"),
    ("every morning at 7", "0 7 * * *"),
    ("at 2:30pm every day", "30 14 * * *"),
    ("every day at 12am", "0 0 * * *"),
    ("every day at 12pm", "0 12 * * *"),
    ("every day at 12:45 a.m.", "45 0 * * *"),
    ("every evening at 6:05 PM", "5 18 * * *"),
    ("every day at midnight", "0 0 * * *"),
    ("Every Sunday at Noon", "0 12 * * 0"),
    ("on weekdays at 6:45 pm", "45 18 * * 1-5"),
    ("weekends at 9", "0 9 * * 0,6"),
    ("at 7:30 on weekdays", "30 7 * * 1-5"),
    ("every workday at 8", "0 8 * * 1-5"),
    ("mondays and thursdays at 9", "0 9 * * 1,4"),
    ("every tuesday & thursday at 17:00", "0 17 * * 2,4"),
    ("every saturday, sunday at 11", "0 11 * * 0,6"),
    ("every thurs at 23:59", "59 23 * * 4"),
    ("every day at 9 and 17", "0 9,17 * * *"),
    ("every day at 9am and 5pm", "0 9,17 * * *"),
    ("nightly at 3", "0 3 * * *"),
    ("every minute", "* * * * *"),
    ("every 15 minutes", "every 15m"),
    ("every half hour", "every 30m"),
]


@pytest.mark.parametrize(("text", "canonical"), PLAIN)
def test_plain_language(text: str, canonical: str) -> None:
    assert parse(text, BERLIN, NOW).text == canonical


@pytest.mark.parametrize(
    ("text", "tz", "now", "due"),
    [
        ("tomorrow at 9", BERLIN, NOW, "2026-03-05T09:00:00+01:00"),
        ("today at 17:00", BERLIN, NOW, "2026-03-04T17:00:00+01:00"),
        ("at 5pm today", BERLIN, NOW, "2026-03-04T17:00:00+01:00"),
        ("tomorrow at 12am", BERLIN, NOW, "2026-03-05T00:00:00+01:00"),
        ("today at 9", NEW_YORK, NOW, "2026-03-04T09:00:00-05:00"),  # 06:00 in New York
        # 23:30 UTC is already tomorrow in Berlin: "tomorrow" is the zone's tomorrow
        ("tomorrow at 9", BERLIN, at(UTC, 2026, 3, 4, 23, 30), "2026-03-06T09:00:00+01:00"),
        ("tomorrow at 9", UTC, at(UTC, 2026, 3, 4, 23, 30), "2026-03-05T09:00:00+00:00"),
        ("in an hour", BERLIN, NOW, "2026-03-04T13:00:00+01:00"),
    ],
)
def test_plain_one_time_phrases_use_the_zone(text: str, tz: ZoneInfo, now: float, due: str) -> None:
    schedule = parse(text, tz, now)
    assert schedule.kind == "once"
    assert local(schedule.first(now, tz), tz) == due
    assert schedule.text == "once " + due


# ---- first() and following() for cron expressions -------------------------------------

FIRST = [
    ("30 7 * * 1-5", BERLIN, NOW, "2026-03-05T07:30:00+01:00"),
    ("0 12 * * *", BERLIN, NOW, "2026-03-05T12:00:00+01:00"),  # strictly after now
    ("*/15 * * * *", BERLIN, NOW, "2026-03-04T12:15:00+01:00"),
    ("*/15 * * * *", BERLIN, NOW + 1, "2026-03-04T12:15:00+01:00"),
    ("0 9 1 * *", BERLIN, NOW, "2026-04-01T09:00:00+02:00"),
    ("0 0 29 2 *", BERLIN, NOW, "2028-02-29T00:00:00+01:00"),
    ("0 8 * feb,mar sun", BERLIN, NOW, "2026-03-08T08:00:00+01:00"),
    ("0 0 * * 7", BERLIN, NOW, "2026-03-08T00:00:00+01:00"),
    ("0 0 * * 5-7", BERLIN, NOW, "2026-03-06T00:00:00+01:00"),
    ("@weekly", BERLIN, NOW, "2026-03-08T00:00:00+01:00"),
    ("@yearly", BERLIN, NOW, "2027-01-01T00:00:00+01:00"),
    ("59 23 31 * *", BERLIN, NOW, "2026-03-31T23:59:00+02:00"),
    ("0 0 31 2 1", BERLIN, NOW, "2027-02-01T00:00:00+01:00"),  # no Feb 31, but Mondays
    ("30 7 * * 1-5", NEW_YORK, at(NEW_YORK, 2026, 3, 4, 12, 0), "2026-03-05T07:30:00-05:00"),
    ("0 9 * * *", NEW_YORK, at(NEW_YORK, 2026, 3, 7, 12, 0), "2026-03-08T09:00:00-04:00"),
    ("0 0 1 1 *", UTC, NOW, "2027-01-01T00:00:00+00:00"),
    ("5/20 * * * *", UTC, at(UTC, 2026, 3, 4, 12, 0), "2026-03-04T12:05:00+00:00"),
    ("0-30/10 9-17 * * *", UTC, at(UTC, 2026, 3, 4, 12, 30), "2026-03-04T13:00:00+00:00"),
    ("0 0 29 2 *", UTC, at(UTC, 2096, 3, 1, 0, 0), "2104-02-29T00:00:00+00:00"),  # 2100: no
]


@pytest.mark.parametrize(("text", "tz", "now", "due"), FIRST)
def test_first_run_of_a_cron_expression(text: str, tz: ZoneInfo, now: float, due: str) -> None:
    assert local(parse(text, tz, now).first(now, tz), tz) == due


def test_day_of_month_or_day_of_week_when_both_are_restricted() -> None:
    # 10th of the month OR any Friday
    assert runs("0 9 10 * fri", BERLIN, NOW, 4) == [
        "2026-03-06T09:00:00+01:00",
        "2026-03-10T09:00:00+01:00",
        "2026-03-13T09:00:00+01:00",
        "2026-03-20T09:00:00+01:00",
    ]
    # only one restricted: it alone decides
    assert runs("0 9 10 * *", BERLIN, NOW, 2) == [
        "2026-03-10T09:00:00+01:00",
        "2026-04-10T09:00:00+02:00",
    ]


def test_cron_after_downtime_coalesces_missed_runs() -> None:
    schedule = parse("30 7 * * 1-5", BERLIN, NOW)
    monday = at(BERLIN, 2026, 3, 2, 7, 30)
    claimed = at(BERLIN, 2026, 3, 4, 10, 0)  # two days later
    assert local(schedule.following(monday, claimed, BERLIN), BERLIN) == (
        "2026-03-05T07:30:00+01:00"
    )


# ---- daylight saving time ---------------------------------------------------------------


def test_spring_forward_a_skipped_time_runs_once_right_after_the_jump() -> None:
    start = at(BERLIN, 2026, 3, 28, 12, 0)
    assert runs("30 2 * * *", BERLIN, start, 2) == [
        "2026-03-29T03:00:00+02:00",  # 02:30 does not exist: 01:00 UTC
        "2026-03-30T02:30:00+02:00",
    ]
    assert parse("30 2 * * *", BERLIN, start).first(start, BERLIN) == at(UTC, 2026, 3, 29, 1, 0)
    # four skipped times that night coalesce into one run
    assert runs("*/15 2 * * *", BERLIN, start, 3) == [
        "2026-03-29T03:00:00+02:00",
        "2026-03-30T02:00:00+02:00",
        "2026-03-30T02:15:00+02:00",
    ]
    assert runs("*/30 * * * *", BERLIN, at(BERLIN, 2026, 3, 29, 1, 0), 4) == [
        "2026-03-29T01:30:00+01:00",
        "2026-03-29T03:00:00+02:00",
        "2026-03-29T03:30:00+02:00",
        "2026-03-29T04:00:00+02:00",
    ]
    assert runs("30 2 * * *", NEW_YORK, at(NEW_YORK, 2026, 3, 7, 12, 0), 2) == [
        "2026-03-08T03:00:00-04:00",
        "2026-03-09T02:30:00-04:00",
    ]


def test_fall_back_a_fixed_hour_runs_once_at_the_first_pass() -> None:
    assert runs("30 2 * * *", BERLIN, at(BERLIN, 2026, 10, 24, 12, 0), 2) == [
        "2026-10-25T02:30:00+02:00",
        "2026-10-26T02:30:00+01:00",
    ]
    assert runs("0 1-3 * * *", BERLIN, at(BERLIN, 2026, 10, 25, 0, 30), 3) == [
        "2026-10-25T01:00:00+02:00",
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T03:00:00+01:00",
    ]
    assert runs("30 1 * * *", NEW_YORK, at(NEW_YORK, 2026, 10, 31, 12, 0), 2) == [
        "2026-11-01T01:30:00-04:00",
        "2026-11-02T01:30:00-05:00",
    ]


def test_fall_back_a_wildcard_hour_runs_in_both_passes() -> None:
    start = at(UTC, 2026, 10, 24, 23, 45)  # 01:45 CEST, before the change at 01:00 UTC
    due = runs("*/15 * * * *", BERLIN, start, 10)
    assert due == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:15:00+02:00",
        "2026-10-25T02:30:00+02:00",
        "2026-10-25T02:45:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T02:15:00+01:00",
        "2026-10-25T02:30:00+01:00",
        "2026-10-25T02:45:00+01:00",
        "2026-10-25T03:00:00+01:00",
        "2026-10-25T03:15:00+01:00",
    ]
    instants = [datetime.fromisoformat(d).timestamp() for d in due if d]
    assert {b - a for a, b in itertools.pairwise(instants)} == {900}
    assert runs("0 */2 * * *", BERLIN, at(BERLIN, 2026, 10, 25, 1, 30), 3) == [
        "2026-10-25T02:00:00+02:00",
        "2026-10-25T02:00:00+01:00",
        "2026-10-25T04:00:00+01:00",
    ]
    assert runs("0 * * * *", NEW_YORK, at(NEW_YORK, 2026, 11, 1, 0, 30), 3) == [
        "2026-11-01T01:00:00-04:00",
        "2026-11-01T01:00:00-05:00",
        "2026-11-01T02:00:00-05:00",
    ]


def _reference_next(expr: CronExpr, after: float, tz: ZoneInfo) -> float | None:
    """The DST rules applied naively: look at every real minute for two days."""

    def matches(wall: datetime) -> bool:
        return (
            wall.minute in expr.minutes
            and wall.hour in expr.hours
            and wall.month in expr.months
            and expr.day_matches(wall.date())
        )

    minute = (int(after) // 60 + 1) * 60
    for t in range(minute, minute + 2 * 86400, 60):
        now, before = datetime.fromtimestamp(t, tz), datetime.fromtimestamp(t - 60, tz)
        wall = now.replace(tzinfo=None)
        offset, previous = now.utcoffset(), before.utcoffset()
        assert offset is not None and previous is not None
        second_pass = now.fold == 1 and wall.replace(tzinfo=tz, fold=0).utcoffset() != offset
        if matches(wall) and (expr.hour_wild or not second_pass):
            return float(t)
        skipped = offset - previous  # the jump just happened: the wall times it skipped
        if skipped > timedelta(0) and any(
            matches(wall - skipped + timedelta(minutes=m))
            for m in range(skipped // timedelta(minutes=1))
        ):
            return float(t)
    return None


@pytest.mark.parametrize("zone_name", ["Europe/Berlin", "America/New_York", "Australia/Lord_Howe"])
@pytest.mark.parametrize(
    "text", ["*/15 * * * *", "*/7 1-3 * * *", "15,45 */2 * * *", "0-59/20 2 * * *", "5 0-4 * * *"]
)
def test_next_match_agrees_with_a_minute_by_minute_search_around_dst(
    zone_name: str, text: str
) -> None:
    tz, expr = ZoneInfo(zone_name), CronExpr.parse(text)
    changes = {
        "Europe/Berlin": [at(UTC, 2026, 3, 29, 1, 0), at(UTC, 2026, 10, 25, 1, 0)],
        "America/New_York": [at(UTC, 2026, 3, 8, 7, 0), at(UTC, 2026, 11, 1, 6, 0)],
        "Australia/Lord_Howe": [at(UTC, 2026, 4, 4, 15, 0), at(UTC, 2026, 10, 3, 15, 30)],
    }[zone_name]
    for change in changes:
        for step in range(-24, 25):
            after = change + step * 517.25
            assert expr.next_after(after, tz) == _reference_next(expr, after, tz), (text, after)


# ---- every and once ---------------------------------------------------------------------


def test_every_counts_elapsed_time_from_creation() -> None:
    assert parse("every 30m", BERLIN, NOW).first(NOW, BERLIN) == NOW + 1800
    created = at(BERLIN, 2026, 3, 28, 9, 0)
    daily = parse("every 1d", BERLIN, created)
    # 24 hours later is 10:00 on the day the clocks go forward: elapsed time, not wall time
    assert local(daily.first(created, BERLIN), BERLIN) == "2026-03-29T10:00:00+02:00"


@pytest.mark.parametrize(
    ("claimed", "due_next"),
    [
        ((10, 0, 0), "2026-03-04T10:30:00+01:00"),
        ((10, 0, 1), "2026-03-04T10:30:00+01:00"),
        ((12, 47, 0), "2026-03-04T13:00:00+01:00"),  # after downtime: keeps the phase
        ((13, 0, 0), "2026-03-04T13:30:00+01:00"),  # strictly after now
    ],
)
def test_every_after_a_run_keeps_its_phase(claimed: tuple[int, int, int], due_next: str) -> None:
    schedule = parse("every 30m", BERLIN, NOW)
    due = at(BERLIN, 2026, 3, 4, 10, 0)
    now = at(BERLIN, 2026, 3, 4, *claimed)
    assert local(schedule.following(due, now, BERLIN), BERLIN) == due_next


def test_every_far_behind_is_still_one_step() -> None:
    schedule = parse("every 1m", UTC, 0)
    assert schedule.following(0.0, 6e8 + 30, UTC) == 6e8 + 60


def test_once_runs_once_then_never() -> None:
    schedule = parse("2026-12-24T18:00", BERLIN, NOW)
    christmas_eve = at(BERLIN, 2026, 12, 24, 18, 0)
    assert schedule.first(NOW, BERLIN) == christmas_eve
    assert schedule.following(christmas_eve, christmas_eve + 5, BERLIN) is None
    assert schedule.first(christmas_eve, BERLIN) is None  # resuming after it passed


@pytest.mark.parametrize(
    ("text", "due"),
    [
        ("2026-03-29T02:30", "2026-03-29T03:00:00+02:00"),  # skipped: right after the jump
        ("2026-10-25T02:30", "2026-10-25T02:30:00+02:00"),  # repeated: the first pass
    ],
)
def test_once_at_a_wall_time_changed_by_dst(text: str, due: str) -> None:
    assert local(parse(text, BERLIN, NOW).at, BERLIN) == due


# ---- errors -----------------------------------------------------------------------------

ERRORS = [
    ("", "it is empty"),
    ("   ", "it is empty"),
    ("61 * * * *", "minute 61 is out of range 0-59"),
    ("* 24 * * *", "hour 24 is out of range 0-23"),
    ("* * 0 * *", "day-of-month 0 is out of range 1-31"),
    ("* * * 13 *", "month 13 is out of range 1-12"),
    ("* * * * 8", "day-of-week 8 is out of range 0-7"),
    ("* * * *", "expected 5 fields, got 4"),
    ("0 0 * * * *", "expected 5 fields, got 6"),
    ("*/0 * * * *", 'step "0" in minute must be a whole number above 0'),
    ("5-1 * * * *", "range 5-1 in minute goes backwards"),
    ("0 0 * * fri-mon", "range 5-1 in day-of-week goes backwards"),
    ("0 0 * * foo", 'day-of-week "foo" is not a number or a name'),
    ("0 0 * jan-xyz *", 'month "xyz" is not a number or a name'),
    ("mon 0 * * *", "not a schedule I understand"),
    ("0 0 31 2 *", "it never matches"),
    ("0 0 31 4,6,9,11 *", "it never matches"),
    ("@reboot", 'unknown macro "@reboot"'),
    ("every 2w", 'unknown unit "w" (use m, h or d)'),
    ("every 30s", "the shortest interval is 1 minute"),
    ("every 0m", "the shortest interval is 1 minute"),
    ("every 367d", "the longest interval is 366 days"),
    ("in 0 minutes", "the shortest delay is 1 minute"),
    ("2026-03-04T11:59", "that time is already past (2026-03-04 11:59 CET); give a future time"),
    ("2026-03-04T12:00", "that time is already past"),
    ("today at 9", "that time is already past (2026-03-04 09:00 CET)"),
    ("2026-02-30 10:00", '"2026-02-30 10:00" is not a valid date and time'),
    ("2026-12-24", 'give a time of day too, e.g. "2026-12-24T09:00"'),
    ("every day", 'say at what time of day, e.g. "every day at 9:00"'),
    ("daily", "say at what time of day"),
    ("every monday", "say at what time of day"),
    ("every weekday", "say at what time of day"),
    ("tomorrow", 'say when tomorrow, e.g. "tomorrow at 9:00"'),
    ("at 17:00", 'say which days: add "today", "tomorrow" or "every day"'),
    ("every day at 25:00", "hour 25 is out of range 0-23"),
    ("every day at 9:75", "minute 75 is out of range 0-59"),
    ("every day at 13pm", '"13pm" is not a 12-hour time'),
    ("every day at 9:00 and 17:30", "9:00 and 17:30 have different minutes"),
    ("today at 9 and 10", "a one-time job runs at one time"),
    ("monday at 9", "not a schedule I understand"),
    ("every fortnight at 9", "not a schedule I understand"),
    ("send me the news", "not a schedule I understand"),
]


@pytest.mark.parametrize(("text", "reason"), ERRORS)
def test_errors_name_the_problem_and_list_the_forms(text: str, reason: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        parse(text, BERLIN, NOW)
    message = str(caught.value)
    assert message.startswith(f"invalid schedule {text.strip()!r}: ")
    assert reason in message
    assert message.endswith(f"; {FORMS}")
    assert "\n" not in message


def test_forms_show_an_example_of_each() -> None:
    for example in ("30 7 * * 1-5", "every 30m", "2026-12-24T18:00", "in 20m", "every weekday"):
        assert example in FORMS


# ---- zone -------------------------------------------------------------------------------


def test_zone_by_name() -> None:
    assert zone("Europe/Berlin") == BERLIN
    assert zone("UTC") == UTC


@pytest.mark.parametrize("name", ["Mars/Base", "../etc/passwd"])
def test_zone_unknown_name(name: str) -> None:
    with pytest.raises(ScheduleError) as caught:
        zone(name)
    assert str(caught.value) == (
        f'cron.timezone: unknown time zone "{name}"; use an IANA name such as Europe/Berlin'
    )


def test_zone_unset_is_the_machines_from_etc_localtime(tmp_path: Path) -> None:
    link = tmp_path / "localtime"
    link.symlink_to("/usr/share/zoneinfo/America/New_York")
    assert zone(None, str(link)) == NEW_YORK
    assert zone("", str(link)) == NEW_YORK
    assert zone(None, str(tmp_path / "missing")) == UTC


def test_zone_unset_ignores_tz_so_a_service_and_a_shell_agree(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # the gateway runs as a service (no TZ) and `hermes cron` in a shell (TZ set):
    # both must compute next runs in one zone, the machine's
    monkeypatch.delenv("TZ", raising=False)
    machine = zone(None)
    monkeypatch.setenv("TZ", "Asia/Tokyo")
    assert zone(None) == machine
    monkeypatch.setenv("TZ", "Mars/Base")
    assert zone(None) == machine


# ---- describe ---------------------------------------------------------------------------

DESCRIBE = [
    ("30 7 * * 1-5", BERLIN, "at 07:30 on Mon-Fri"),
    ("*/30 * * * *", BERLIN, "every 30 minutes"),
    ("*/7 * * * *", BERLIN, "cron */7 * * * *"),  # not every 7 minutes at :56 -> :00
    ("* * * * *", BERLIN, "every minute"),
    ("0 * * * *", BERLIN, "every hour"),
    ("15 * * * *", BERLIN, "every hour at minute 15"),
    ("0 */6 * * *", BERLIN, "every 6 hours"),
    ("0 9 * * *", BERLIN, "at 09:00 every day"),
    ("0 9,17 * * *", BERLIN, "at 09:00, 17:00 every day"),
    ("0 9 1 * *", BERLIN, "at 09:00 on day 1 of the month"),
    ("0 9 1,15 * *", BERLIN, "at 09:00 on days 1, 15 of the month"),
    ("0 9 10 * 5", BERLIN, "at 09:00 on day 10 of the month or on Fri"),
    ("30 10 * * 0,6", BERLIN, "at 10:30 on Sat, Sun"),
    ("0 8 * * mon,wed,fri", BERLIN, "at 08:00 on Mon, Wed, Fri"),
    ("0 0 29 2 *", BERLIN, "at 00:00 on day 29 in Feb"),
    ("every 30m", BERLIN, "every 30 minutes"),
    ("every 1h", BERLIN, "every hour"),
    ("every 2d", BERLIN, "every 2 days"),
    ("2026-12-24T18:00", BERLIN, "once at 2026-12-24 18:00 CET"),
    ("2026-07-04T09:00:30", NEW_YORK, "once at 2026-07-04 09:00:30 EDT"),
]


@pytest.mark.parametrize(("text", "tz", "words"), DESCRIBE)
def test_describe(text: str, tz: ZoneInfo, words: str) -> None:
    assert parse(text, tz, NOW).describe(tz) == words


def test_schedule_is_a_plain_value() -> None:
    assert parse("every 2h", UTC, NOW) == Schedule("every", "every 2h", seconds=7200)
