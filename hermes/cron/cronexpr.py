"""Five-field cron expressions, matched in the wall-clock time of a zone.

``minute hour day-of-month month day-of-week`` with lists, ranges and steps
(``1,15``, ``1-5``, ``*/15``, ``0-30/10``, ``5/10`` = ``5-59/10``), month names
jan-dec, weekday names sun-sat, day-of-week 0-7 (0 and 7 are Sunday). The
standard cron rule for days: when both day-of-month and day-of-week are
restricted (neither covers its whole range), a day matches if EITHER matches.

Daylight saving time, since the fields are wall-clock times:

- A wall time that does not exist (02:30 on a spring-forward night) runs at the
  first instant after the jump (03:00 local), once: several such times that
  night coalesce into that instant, and the next run is always strictly after
  the previous one, so nothing fires twice.
- A wall time that happens twice (02:30 on a fall-back night) runs once, at its
  first occurrence, when the hour field is a fixed value, list or range. When
  the hour field is ``*`` or ``*/N``, the job is about the passing of real time,
  so the minutes of the repeated hour run in both passes ("*/15 * * * *" keeps
  firing every 15 minutes across the change).

Searching for the next match walks the sets of days, hours and minutes (whole
months are skipped when the month does not match), so a sparse expression such
as Feb 29 is found in a few hundred steps; the search gives up after YEARS.
"""

from __future__ import annotations

import bisect
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
DAYS = ("sun", "mon", "tue", "wed", "thu", "fri", "sat")
MACROS = {
    "@hourly": "0 * * * *",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@weekly": "0 0 * * 0",
    "@monthly": "0 0 1 * *",
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
}
# name, lowest, highest, what `*` covers, names for the values from `lowest`
_FIELDS: tuple[tuple[str, int, int, int, tuple[str, ...]], ...] = (
    ("minute", 0, 59, 59, ()),
    ("hour", 0, 23, 23, ()),
    ("day-of-month", 1, 31, 31, ()),
    ("month", 1, 12, 12, MONTHS),
    ("day-of-week", 0, 7, 6, DAYS),
)
_LONGEST = (31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)  # days in each month, at most
YEARS = 9  # a Feb 29 can be 8 years away (2096 -> 2104)
_WINDOW = timedelta(hours=3)  # wider than any DST change


def _number(token: str, field: int) -> int:
    name, low, high, _, names = _FIELDS[field]
    if token in names:
        return low + names.index(token)
    if not token.isdigit():
        raise ValueError(f'{name} "{token}" is not a number' + (" or a name" if names else ""))
    value = int(token)
    if not low <= value <= high:
        raise ValueError(f"{name} {value} is out of range {low}-{high}")
    return value


def _field(text: str, field: int) -> tuple[str, set[int]]:
    """One field -> (its canonical text, the values it allows)."""
    name, low, _, star_high, _ = _FIELDS[field]
    parts: list[str] = []
    values: set[int] = set()
    for item in text.split(","):
        base, slash, step_text = item.partition("/")
        step = 1
        if slash:
            if not step_text.isdigit() or int(step_text) == 0:
                raise ValueError(f'step "{step_text}" in {name} must be a whole number above 0')
            step = int(step_text)
        if base == "*":
            start, end, canon = low, star_high, "*"
        elif "-" in base:
            first, _, last = base.partition("-")
            start, end = _number(first, field), _number(last, field)
            canon = f"{start}-{end}"
        else:
            start = _number(base, field)
            end = star_high if slash else start
            canon = f"{start}-{end}" if slash else str(start)
        if start > end:
            raise ValueError(f"range {start}-{end} in {name} goes backwards")
        values.update(range(start, end + 1, step))
        parts.append(canon + (f"/{step}" if slash else ""))
    return ",".join(parts), values


@dataclass(frozen=True)
class CronExpr:
    text: str  # canonical: numbers only, single spaces
    minutes: tuple[int, ...]
    hours: tuple[int, ...]
    days: frozenset[int]
    months: frozenset[int]
    weekdays: frozenset[int]  # 0 = Sunday
    any_day: bool  # day-of-month covers 1-31
    any_weekday: bool  # day-of-week covers every day
    hour_wild: bool  # hour field is `*` or `*/N`: repeated hours run twice

    @classmethod
    def parse(cls, text: str) -> CronExpr:
        """Raises ValueError with the specific reason."""
        text = text.strip().lower()
        if text.startswith("@"):
            if text not in MACROS:
                raise ValueError(f'unknown macro "{text}" (known: {", ".join(MACROS)})')
            text = MACROS[text]
        fields = text.split()
        if len(fields) != 5:
            raise ValueError(f"expected 5 fields, got {len(fields)}")
        parsed = [_field(f, i) for i, f in enumerate(fields)]
        weekdays = frozenset(d % 7 for d in parsed[4][1])
        expr = cls(
            text=" ".join(canon for canon, _ in parsed),
            minutes=tuple(sorted(parsed[0][1])),
            hours=tuple(sorted(parsed[1][1])),
            days=frozenset(parsed[2][1]),
            months=frozenset(parsed[3][1]),
            weekdays=weekdays,
            any_day=len(parsed[2][1]) == 31,
            any_weekday=len(weekdays) == 7,
            hour_wild=fields[1].startswith("*"),
        )
        if (
            not expr.any_day
            and expr.any_weekday
            and not any(day <= _LONGEST[month - 1] for month in expr.months for day in expr.days)
        ):
            raise ValueError("it never matches (none of those months has that day)")
        return expr

    def day_matches(self, day: date) -> bool:
        in_month = day.day in self.days
        in_week = (day.weekday() + 1) % 7 in self.weekdays
        if self.any_day or self.any_weekday:
            return in_month and in_week
        return in_month or in_week

    def walls(self, start: datetime) -> Iterator[datetime]:
        """Matching wall times at or after `start` (naive), in order, for up to YEARS."""
        day, last = start.date(), date(start.year + YEARS, 12, 31)
        while day <= last:
            if day.month not in self.months:
                day = (day.replace(day=1) + timedelta(days=32)).replace(day=1)
                continue
            if self.day_matches(day):
                today = day == start.date()
                first_hour = bisect.bisect_left(self.hours, start.hour) if today else 0
                for hour in self.hours[first_hour:]:
                    same = today and hour == start.hour
                    first_minute = bisect.bisect_left(self.minutes, start.minute) if same else 0
                    for minute in self.minutes[first_minute:]:
                        yield datetime(day.year, day.month, day.day, hour, minute)
            day += timedelta(days=1)

    def next_after(self, after: float, tz: ZoneInfo) -> float | None:
        """The first instant strictly after `after` that matches (DST rules above)."""
        local = datetime.fromtimestamp(after, tz).replace(tzinfo=None, second=0, microsecond=0)
        horizon = after + _WINDOW.total_seconds()
        # just before a fall-back, earlier wall times may still come (in the second pass)
        start = local - _WINDOW if _falls_back(after, horizon, tz) else local
        best: float | None = None
        stop: datetime | None = None
        for wall in self.walls(start):
            if stop is not None and wall > stop:
                break
            for instant in wall_instants(wall, tz, both=self.hour_wild):
                if instant > after and (best is None or instant < best):
                    best = instant
            if best is not None and stop is None:
                # just after a fall-back, later wall times may map to earlier instants
                recent = _falls_back(best - _WINDOW.total_seconds(), best, tz)
                stop = wall + _WINDOW if recent else wall
        return best


def _offset(at: float, tz: ZoneInfo) -> timedelta | None:
    return datetime.fromtimestamp(at, tz).utcoffset()


def _falls_back(start: float, end: float, tz: ZoneInfo) -> bool:
    before, after = _offset(start, tz), _offset(end, tz)
    return before is not None and after is not None and after < before


def wall_instants(wall: datetime, tz: ZoneInfo, *, both: bool = False) -> list[float]:
    """The instants a naive wall time stands for in `tz`: one; for a time skipped by a
    spring-forward, the first instant after the jump; for a time repeated by a
    fall-back, the first pass (and the second too when `both`)."""
    fold0 = wall.replace(tzinfo=tz, fold=0).timestamp()  # read with the offset before a change
    fold1 = wall.replace(tzinfo=tz, fold=1).timestamp()  # read with the offset after it
    if fold0 == fold1:
        return [fold0]
    if fold0 < fold1:  # repeated: fold0 is the first pass
        return [fold0, fold1] if both else [fold0]
    low, high = int(fold1), int(fold0)  # skipped: the jump is in (fold1, fold0]
    jumped = _offset(fold0, tz)
    while high - low > 1:
        mid = (low + high) // 2
        if _offset(mid, tz) == jumped:
            high = mid
        else:
            low = mid
    return [float(high)]
