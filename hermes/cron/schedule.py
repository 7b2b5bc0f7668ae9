"""When a cron job runs: parse what the user wrote, compute due times. Pure: no I/O.

A schedule is one of three kinds, each stored as canonical text that parses
back to the same schedule:

- ``cron``: a 5-field expression in the wall-clock time of ``cron.timezone``
  (cronexpr.py has the fields and the daylight-saving rules). This is the way
  to get a fixed time of day.
- ``every``: a fixed interval of elapsed time ("every 30m"). Daylight saving
  does not shift it, so "every 1d" drifts by an hour against the wall clock
  when the clocks change; "0 9 * * *" does not.
- ``once``: one instant ("once 2026-12-24T18:00:00+01:00").

After downtime, missed runs are not replayed one by one: the run being claimed
stands for all of them, and the next due time is the first one after now
(``every`` keeps its phase: due 10:00 every 30m, claimed at 12:47 -> 13:00).
"""

from __future__ import annotations

import math
import os
import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Literal
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from hermes.cron import plain
from hermes.cron.cronexpr import DAYS, MONTHS, CronExpr, wall_instants
from hermes.errors import HermesError

FORMS = (
    'accepted forms: a 5-field cron expression ("30 7 * * 1-5"), "every 30m" / "every 2h" / '
    '"every 1d", an ISO time ("2026-12-24T18:00", once), "in 20m" (once), '
    'or plain words ("every weekday at 7:30")'
)
_UNITS = {
    **dict.fromkeys(("m", "min", "mins", "minute", "minutes"), ("m", 60)),
    **dict.fromkeys(("h", "hr", "hrs", "hour", "hours"), ("h", 3600)),
    **dict.fromkeys(("d", "day", "days"), ("d", 86400)),
}
_WORDS = {"m": "minute", "h": "hour", "d": "day"}
_LONGEST_INTERVAL = 366 * 86400
_INTERVAL = re.compile(r"(every|in) ?(\d+) ?([a-z]+)")
_ISO = re.compile(r"(?:once )?(\d{4}-\d{2}-\d{2}(?:[t ]\d{1,2}:\d{2}(?::\d{2}(?:\.\d+)?)?\S*)?)")
_CRON = re.compile(r"[\d*][\d*/,-]*( [a-z\d*/,-]+)*")


class ScheduleError(HermesError):
    """A schedule that cannot be parsed, or a time zone that does not exist."""


LOCALTIME = "/etc/localtime"


def zone(name: str | None, localtime: str = LOCALTIME) -> ZoneInfo:
    """cron.timezone -> ZoneInfo. Unset: the machine's zone (the zone /etc/localtime
    links to, else UTC). Not the TZ variable: that is one process's, and the gateway
    (a service) and `hermes cron` in a shell must agree on one zone."""
    if name:
        try:
            return ZoneInfo(name)
        except (ZoneInfoNotFoundError, ValueError):
            raise ScheduleError(
                f'cron.timezone: unknown time zone "{name}"; use an IANA name such as Europe/Berlin'
            ) from None
    key = os.path.realpath(localtime).partition("zoneinfo/")[2]
    if key:
        try:
            return ZoneInfo(key)
        except (ZoneInfoNotFoundError, ValueError):
            pass
    return ZoneInfo("UTC")


@lru_cache(maxsize=256)
def _cron(text: str) -> CronExpr:
    return CronExpr.parse(text)


@dataclass(frozen=True)
class Schedule:
    kind: Literal["cron", "every", "once"]
    text: str  # canonical: "30 7 * * 1-5" | "every 30m" | "once 2026-12-24T18:00:00+01:00"
    seconds: int = 0  # every: the interval
    at: float | None = None  # once: the unix time

    def first(self, now: float, tz: ZoneInfo) -> float | None:
        """The first run of a job created at `now` (None: a one-time job already past)."""
        if self.kind == "cron":
            return _cron(self.text).next_after(now, tz)
        if self.kind == "every":
            return now + self.seconds
        return self.at if self.at is not None and self.at > now else None

    def following(self, due: float, now: float, tz: ZoneInfo) -> float | None:
        """The next due time strictly after `now`, for a run due at `due` claimed at `now`."""
        now = max(now, due)
        if self.kind == "cron":
            return _cron(self.text).next_after(now, tz)
        if self.kind == "every":
            steps = math.floor((now - due) / self.seconds) + 1
            after = due + steps * self.seconds
            return after if after > now else after + self.seconds  # float rounding
        return None

    def describe(self, tz: ZoneInfo) -> str:
        """Short words for people: "at 07:30 on Mon-Fri", "every 30 minutes"."""
        if self.kind == "every":
            count, unit = int(self.text[6:-1]), _WORDS[self.text[-1]]
            return f"every {unit}" if count == 1 else f"every {count} {unit}s"
        if self.kind == "once":
            assert self.at is not None
            when = datetime.fromtimestamp(self.at, tz)
            clock = "%H:%M:%S" if when.second else "%H:%M"
            return when.strftime(f"once at %Y-%m-%d {clock} %Z")
        return _describe_cron(_cron(self.text))


def parse(text: str, tz: ZoneInfo, now: float) -> Schedule:
    """What a user wrote -> a Schedule, or ScheduleError naming the problem and the forms."""
    try:
        return _parse(" ".join(text.lower().split()), tz, now, plain_words=True)
    except ValueError as exc:
        raise ScheduleError(f"invalid schedule {text.strip()!r}: {exc}; {FORMS}") from None


def _parse(text: str, tz: ZoneInfo, now: float, *, plain_words: bool) -> Schedule:
    if not text:
        raise ValueError("it is empty")
    iso = _ISO.fullmatch(text)
    if text.startswith("@") or (_CRON.fullmatch(text) and not iso):
        return Schedule("cron", _cron(text).text)
    if iso:
        return _once(iso.group(1), tz, now)
    interval = _INTERVAL.fullmatch(text)
    if interval:
        return _interval(*interval.groups(), tz=tz, now=now)
    translated = plain.translate(text, tz, now) if plain_words else None
    if translated is None:
        raise ValueError("this is not a schedule I understand")
    return _parse(translated, tz, now, plain_words=False)


def _interval(word: str, count_text: str, unit_text: str, *, tz: ZoneInfo, now: float) -> Schedule:
    what = "interval" if word == "every" else "delay"
    if unit_text not in _UNITS:
        if unit_text in ("s", "sec", "secs", "second", "seconds"):
            raise ValueError(f"the shortest {what} is 1 minute")
        raise ValueError(f'unknown unit "{unit_text}" (use m, h or d)')
    unit, size = _UNITS[unit_text]
    seconds = int(count_text) * size
    if seconds < 60:
        raise ValueError(f"the shortest {what} is 1 minute")
    if seconds > _LONGEST_INTERVAL:
        raise ValueError(f"the longest {what} is 366 days")
    if word == "every":
        return Schedule("every", f"every {int(count_text)}{unit}", seconds=seconds)
    return _at(float(math.ceil(now + seconds)), tz)


def _once(iso: str, tz: ZoneInfo, now: float) -> Schedule:
    if len(iso) == 10:
        raise ValueError(f'give a time of day too, e.g. "{iso}T09:00"')
    try:
        wall = datetime.fromisoformat(iso.upper())
    except ValueError:
        raise ValueError(f'"{iso}" is not a valid date and time') from None
    wall = wall.replace(microsecond=0)
    at = wall.timestamp() if wall.tzinfo else wall_instants(wall, tz)[0]
    if at <= now:
        shown = datetime.fromtimestamp(at, tz).strftime("%Y-%m-%d %H:%M %Z")
        raise ValueError(f"that time is already past ({shown}); give a future time")
    return _at(at, tz)


def _at(at: float, tz: ZoneInfo) -> Schedule:
    return Schedule(
        "once", "once " + datetime.fromtimestamp(at, tz).isoformat("T", "seconds"), at=at
    )


def _describe_cron(expr: CronExpr) -> str:
    minute, hour, day, _, _ = expr.text.split()
    single = len(expr.minutes) == 1
    if minute == "*" and hour == "*":
        when = "every minute"
    elif minute.startswith("*/") and 60 % int(minute[2:]) == 0 and hour == "*":
        when = f"every {minute[2:]} minutes"
    elif single and hour == "*":
        when = "every hour" + (f" at minute {minute}" if expr.minutes[0] else "")
    elif single and not expr.minutes[0] and hour.startswith("*/") and 24 % int(hour[2:]) == 0:
        when = f"every {hour[2:]} hours"
    elif single and len(expr.hours) <= 4 and not expr.hour_wild:
        when = "at " + ", ".join(f"{h:02d}:{expr.minutes[0]:02d}" for h in expr.hours)
    else:
        return f"cron {expr.text}"
    days = []
    if not expr.any_day:
        of = " of the month" if len(expr.months) == 12 else ""
        days.append(
            ("on day " if len(expr.days) == 1 else "on days ") + day.replace(",", ", ") + of
        )
    if not expr.any_weekday:
        days.append("on " + _weekday_words(expr.weekdays))
    if days:
        when += " " + " or ".join(days)
    elif when.startswith("at "):
        when += " every day"
    if len(expr.months) < 12:
        when += " in " + ", ".join(MONTHS[m - 1].title() for m in sorted(expr.months))
    return when


def _weekday_words(weekdays: frozenset[int]) -> str:
    """Monday first, runs of three or more as a range: "Mon-Fri", "Sat, Sun"."""
    order = [d for d in (1, 2, 3, 4, 5, 6, 0) if d in weekdays]
    runs: list[list[int]] = []
    for d in order:
        if runs and (runs[-1][-1] + 1) % 7 == d and runs[-1][-1] != 0:
            runs[-1].append(d)
        else:
            runs.append([d])
    words = [
        f"{DAYS[r[0]].title()}-{DAYS[r[-1]].title()}"
        if len(r) >= 3
        else ", ".join(DAYS[d].title() for d in r)
        for r in runs
    ]
    return ", ".join(words)
