"""Plain-language schedules, turned into one of the exact forms before parsing.

The agent's cron tool passes on what the user said ("every weekday at 7:30"),
so the common phrases are understood here and rewritten as a cron expression
("30 7 * * 1-5"), an interval ("every 30m") or a wall time in the zone
("2026-03-02 09:00" for "tomorrow at 9"); schedule.py parses the result, so
every phrase ends up as a canonical schedule the user can read back.

A phrase that names days but no time ("every day", "every monday") is refused
rather than guessed: the job would otherwise run at a time nobody chose.
"""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

_DAY_NAMES = ("sunday", "monday", "tuesday", "wednesday", "thursday", "friday", "saturday")
_DAYS: dict[str, int] = {}
for _number, _name in enumerate(_DAY_NAMES):
    for _key in (_name, _name + "s", _name[:3]):
        _DAYS[_key] = _number
_DAYS.update(tues=2, thur=4, thurs=4)

_PERIODS = {  # words after "every" meaning a set of days (for cron's day-of-week)
    **dict.fromkeys(("day", "night", "morning", "evening", "afternoon"), "*"),
    **dict.fromkeys(("weekday", "weekdays", "workday", "workdays"), "1-5"),
    **dict.fromkeys(("weekend", "weekends"), "0,6"),
}
_ALONE = {"daily": "*", "nightly": "*", "weekdays": "1-5", "weekends": "0,6"}  # need no "every"
_FIXED = {  # whole phrases without a time of day
    "hourly": "0 * * * *",
    "every hour": "0 * * * *",
    "each hour": "0 * * * *",
    "every minute": "* * * * *",
    "every half hour": "every 30m",
    "every half an hour": "every 30m",
    "in a minute": "in 1m",
    "in an hour": "in 1h",
    "in a day": "in 1d",
}
_TIME = r"(?:\d{1,2}(?::\d{2})?(?:\s*[ap]\.?m\.?)?|noon|midnight)"
_AT = re.compile(rf"\bat\s+({_TIME}(?:\s*(?:,|\band\b|&)\s*{_TIME})*)(?=\s|$)")
_CLOCK = re.compile(r"(\d{1,2})(?::(\d{2}))?\s*(?:([ap])\.?m\.?)?")
_SEPARATORS = re.compile(r"\s*(?:,|&|\band\b|\bor\b)\s*|\s+")  # between day names
_TIME_LIST = re.compile(r"\s*(?:,|&|\band\b)\s*")  # between times


def translate(text: str, tz: ZoneInfo, now: float) -> str | None:
    """`text` (lower case, single spaces) as an exact form, or None if it is no phrase
    known here. Raises ValueError with the reason for a phrase that is known but wrong."""
    if text in _FIXED:
        return _FIXED[text]
    at = _AT.search(text)
    rest = (text[: at.start()] + text[at.end() :] if at else text).strip(" ,")
    rest = " ".join(rest.split())
    if rest in ("today", "tomorrow"):
        if at is None:
            raise ValueError(f'say when {rest}, e.g. "{rest} at 9:00"')
        times = _times(at.group(1))
        if len(times) > 1:
            raise ValueError("a one-time job runs at one time; make one job for each")
        today = datetime.fromtimestamp(now, tz).date()
        day = today + timedelta(days=1) if rest == "tomorrow" else today
        hour, minute = times[0]
        return f"{day.isoformat()} {hour:02d}:{minute:02d}"
    weekdays = _weekdays(rest)
    if weekdays is None:
        if at is not None and not rest:
            raise ValueError('say which days: add "today", "tomorrow" or "every day"')
        return None
    if at is None:
        raise ValueError(f'say at what time of day, e.g. "{text} at 9:00"')
    times = _times(at.group(1))
    minutes = {minute for _, minute in times}
    if len(minutes) > 1:
        listed = " and ".join(f"{h}:{m:02d}" for h, m in times)
        raise ValueError(f"{listed} have different minutes; make one job for each")
    hours = ",".join(str(h) for h in sorted({hour for hour, _ in times}))
    return f"{minutes.pop()} {hours} * * {weekdays}"


def _weekdays(phrase: str) -> str | None:
    """A phrase naming recurring days -> cron's day-of-week field, else None."""
    first, _, words = phrase.partition(" ")
    every = first in ("every", "each")
    if every or first == "on":
        phrase = words
    if phrase in _ALONE:
        return _ALONE[phrase]
    if every and phrase in _PERIODS:
        return _PERIODS[phrase]
    names = [name for name in _SEPARATORS.split(phrase) if name]
    if not names or any(name not in _DAYS for name in names):
        return None
    if not every and not all(name.endswith("s") for name in names):
        return None  # "monday at 9" could mean just the next one
    return ",".join(str(day) for day in sorted({_DAYS[name] for name in names}))


def _times(listed: str) -> list[tuple[int, int]]:
    """ "7:30", "9am", "2:30 pm", "noon", "9 and 17" -> [(hour, minute), ...], 24-hour clock."""
    return [_clock(item) for item in _TIME_LIST.split(listed) if item]


def _clock(item: str) -> tuple[int, int]:
    if item in ("noon", "midnight"):
        return (12 if item == "noon" else 0), 0
    match = _CLOCK.fullmatch(item)
    if match is None:
        raise ValueError(f'"{item}" is not a time of day')
    hour, minute = int(match.group(1)), int(match.group(2) or 0)
    if minute > 59:
        raise ValueError(f"minute {minute} is out of range 0-59")
    if match.group(3):
        if not 1 <= hour <= 12:
            raise ValueError(f'"{item}" is not a 12-hour time (1-12 am/pm)')
        return hour % 12 + (12 if match.group(3) == "p" else 0), minute
    if hour > 23:
        raise ValueError(f"hour {hour} is out of range 0-23")
    return hour, minute
