"""When jobs run: local times of day in TIMEZONE, hours, and the team's support hours.

Pure functions on timezone-aware instants (``zoneinfo``), so daylight-saving changes
are handled by the time-zone database: a local 01:30 that does not exist (spring
forward, London) runs at 02:30 BST, as long after the jump as 01:30 is after 01:00;
a local 01:30 that happens twice (fall back) runs at its first occurrence.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nephthys.config import SupportHours

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = frozenset(range(7))
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")


class ScheduleError(ValueError):
    """A clock time, a list of days or support hours that cannot be read; the message says what was expected."""


def parse_clock(value: str) -> time:
    """``HH:MM`` (24-hour) as a time of day."""
    match = _CLOCK.match(value.strip())
    if not match:
        raise ScheduleError(f"expected a time of day like 09:30, got {value!r}")
    return time(int(match.group(1)), int(match.group(2)))


def parse_days(value: str) -> frozenset[int]:
    """``mon-fri``, ``mon,wed,fri``, ``sat-sun``, ``daily`` as weekday numbers (0 = Monday)."""
    text = value.strip().lower()
    if text in {"daily", "every-day", "all"}:
        return EVERY_DAY
    days: set[int] = set()
    for part in filter(None, (p.strip() for p in text.split(","))):
        first, _, last = part.partition("-")
        try:
            start = DAY_NAMES.index(first[:3]) if len(first) >= 3 else -1
            end = DAY_NAMES.index(last[:3]) if last else start
        except ValueError:
            start = end = -1
        if start < 0 or end < 0:
            raise ScheduleError(f"expected days like mon-fri or mon,wed,fri, got {value!r}")
        day = start
        days.add(day)
        while day != end:  # a range may wrap: fri-mon
            day = (day + 1) % 7
            days.add(day)
    if not days:
        raise ScheduleError(f"expected days like mon-fri or mon,wed,fri, got {value!r}")
    return frozenset(days)


def describe_days(days: frozenset[int]) -> str:
    """The days as ``parse_days`` reads them back: ``daily``, ``mon-fri``, ``mon,wed``."""
    if days == EVERY_DAY:
        return "daily"
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{DAY_NAMES[ordered[0]]}-{DAY_NAMES[ordered[-1]]}"
    return ",".join(DAY_NAMES[d] for d in ordered)


def parse_support_hours(value: str) -> SupportHours:
    """``Mon-Fri 09:00-18:00``: the days, then the local hours (start before end)."""
    days_text, _, hours_text = value.strip().rpartition(" ")
    start_text, _, end_text = hours_text.partition("-")
    if not days_text or not end_text:
        raise ScheduleError(f"expected days and hours like 'Mon-Fri 09:00-18:00', got {value!r}")
    start, end = parse_clock(start_text), parse_clock(end_text)
    if end <= start:
        raise ScheduleError(f"expected the hours to end after they start, got {value!r}")
    return SupportHours(days=parse_days(days_text), start=start, end=end)


def local_instant(day: date, at: time, tz: ZoneInfo) -> datetime:
    """The UTC instant when the wall clock in ``tz`` reads ``at`` on ``day`` (see the module docstring)."""
    # fold=0: a repeated time is its first occurrence; a time in a gap is read with the offset
    # before the jump, so it falls just after the jump (PEP 495).
    return datetime.combine(day, at).replace(tzinfo=tz, fold=0).astimezone(UTC)


@dataclass(frozen=True)
class DailyAt:
    """Every listed weekday at a local time of day."""

    at: time
    tz: ZoneInfo
    days: frozenset[int] = EVERY_DAY

    def describe(self) -> str:
        return f"{describe_days(self.days)} at {self.at:%H:%M} {self.tz.key}"

    def latest(self, now: datetime) -> tuple[date, datetime] | None:
        """The most recent (local date, instant) at or before ``now``."""
        today = now.astimezone(self.tz).date()
        for back in range(8):
            day = today - timedelta(days=back)
            instant = local_instant(day, self.at, self.tz)
            if day.weekday() in self.days and instant <= now:
                return day, instant
        return None

    def next(self, now: datetime) -> datetime | None:
        today = now.astimezone(self.tz).date()
        for ahead in range(8):
            day = today + timedelta(days=ahead)
            instant = local_instant(day, self.at, self.tz)
            if day.weekday() in self.days and instant > now:
                return instant
        return None


def local_day(day: date, tz: ZoneInfo) -> tuple[datetime, datetime]:
    """``[local midnight, next local midnight)`` of ``day`` as UTC instants (23 or 25 hours across DST)."""
    return local_instant(day, time(0, 0), tz), local_instant(day + timedelta(days=1), time(0, 0), tz)


def support_minutes(start: datetime, end: datetime, hours: SupportHours | None, tz: ZoneInfo) -> float:
    """Minutes of ``[start, end)`` inside the support hours (all of them when ``hours`` is None)."""
    if end <= start:
        return 0.0
    if hours is None:
        return (end - start).total_seconds() / 60
    total = 0.0
    day = start.astimezone(tz).date()
    last = end.astimezone(tz).date()
    while day <= last:
        if day.weekday() in hours.days:
            opens, closes = local_instant(day, hours.start, tz), local_instant(day, hours.end, tz)
            overlap = min(end, closes) - max(start, opens)
            if overlap > timedelta(0):
                total += overlap.total_seconds() / 60
        day += timedelta(days=1)
    return total


def describe_interval(seconds: float) -> str:
    """An interval as people write it: ``30 s``, ``2 min``, ``6 h`` (``90 s``, not ``1.5 min``)."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
