"""When jobs run: local times of day in TIMEZONE and intervals.

Pure functions on timezone-aware instants (``zoneinfo``), so daylight-saving changes
are handled by the time-zone database: a local 01:30 that does not exist (spring
forward, London) runs at 02:30 BST, as long after the jump as 01:30 is after 01:00;
a local 01:30 that happens twice (fall back) runs at its first occurrence.

Support hours, holidays and support minutes are the support calendar's
(``nephthys.support_calendar``), which also reads clock times and days.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

from nephthys.support_calendar import EVERY_DAY, describe_days


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


def describe_interval(seconds: float) -> str:
    """An interval as people write it: ``30 s``, ``2 min``, ``6 h`` (``90 s``, not ``1.5 min``)."""
    for unit, size in (("h", 3600), ("min", 60)):
        if seconds >= size and seconds % size == 0:
            return f"{seconds / size:g} {unit}"
    return f"{seconds:g} s"
