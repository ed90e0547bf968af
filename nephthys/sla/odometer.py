"""Support time read like an odometer: support seconds since a fixed day, at any instant.

``seconds(b) - seconds(a)`` is the support time of ``[a, b)`` (``SupportCalendar.support_time``) in
seconds. One reading is a bisection over the covered days' support windows, so the support
minutes left of many clocks at one instant cost a subtraction each once their due instants are
read (nephthys/api/sla_now.py, the dashboard's SLA list), instead of a walk over the days between.
"""

from __future__ import annotations

import bisect
import functools
from datetime import UTC, date, datetime, timedelta

import numpy as np

from nephthys.support_calendar import SupportCalendar

# Days read around an instant the odometer does not cover yet (a year back: clocks long overdue).
_DAYS_BACK, _DAYS_AHEAD = 400, 60


class SupportOdometer:
    """Support seconds since the start of a local day, read at any instant.

    ``seconds(b) - seconds(a)`` is the support time of ``[a, b)`` in seconds (``calendar.support_time``),
    each reading a bisection over the covered days' windows (extended when an instant falls outside).
    """

    def __init__(self, calendar: SupportCalendar) -> None:
        self._calendar = calendar
        self._every_second = calendar.every_minute_counts
        self._first: date | None = None
        self._start = self._end = 0.0  # the covered days' first midnight and the midnight after the last
        self._opens: list[float] = []
        self._closes: list[float] = []
        self._before: list[float] = []  # support seconds of the covered days before each
        # The three lists above as arrays (seconds_of), made again when the covered days widen.
        self._arrays: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None

    def seconds(self, instant: datetime) -> float:
        return self.seconds_at(instant.timestamp())

    def seconds_at(self, at: float) -> float:
        """``seconds`` of the instant whose POSIX timestamp is ``at`` (a caller that has it already)."""
        if self._every_second:
            return at
        if not self._start <= at < self._end:
            self._cover(datetime.fromtimestamp(at, UTC))
        i = bisect.bisect_right(self._opens, at) - 1
        if i < 0:
            return 0.0
        return self._before[i] + max(0.0, min(at, self._closes[i]) - self._opens[i])

    def seconds_of(self, ats: np.ndarray) -> np.ndarray:
        """``seconds_at`` of every POSIX timestamp in ``ats`` (float64) at once: the same floats, made
        by the same operations in numpy (an export's tens of thousands of running clocks)."""
        ats = np.asarray(ats, dtype=np.float64)
        if self._every_second or not len(ats):
            return ats.copy()
        for at in (float(ats.min()), float(ats.max())):
            if not self._start <= at < self._end:
                self._cover(datetime.fromtimestamp(at, UTC))  # only ever widens: both ends stay covered
        if self._arrays is None:
            self._arrays = (np.array(self._opens), np.array(self._closes), np.array(self._before))
        opens, closes, before = self._arrays
        i = np.searchsorted(opens, ats, side="right") - 1
        day = np.maximum(i, 0)
        readings = before[day] + np.maximum(0.0, np.minimum(ats, closes[day]) - opens[day])
        return np.where(i < 0, 0.0, readings)

    def _cover(self, instant: datetime) -> None:
        day = instant.astimezone(self._calendar.zone).date()
        first = day - timedelta(days=_DAYS_BACK)
        last = day + timedelta(days=_DAYS_AHEAD)
        if self._first is not None:
            # Keep what is covered (readings taken stay comparable): only ever widen.
            first = min(first, self._first)
            last = max(last, self._first + timedelta(days=len(self._opens) - 1))
        calendar = self._calendar
        opens, closes, before, total = [], [], [], 0.0
        current = first
        while current <= last:
            window = calendar.window(current)
            if window is None:
                midnight = calendar._instant(current, timedelta(0)).timestamp()
                opens.append(midnight)
                closes.append(midnight)
            else:
                opens.append(window[0].timestamp())
                closes.append(window[1].timestamp())
            before.append(total)
            total += closes[-1] - opens[-1]
            current += timedelta(days=1)
        if self._first is not None:
            # Readings already taken stay true: the old first day reads what it read before (an
            # earlier widening may have shifted it off zero; the sums are whole seconds, so exact).
            offset = before[(self._first - first).days] - self._before[0]
            before = [value - offset for value in before]
        self._first = first
        self._opens, self._closes, self._before = opens, closes, before
        self._arrays = None
        self._start = calendar._instant(first, timedelta(0)).timestamp()
        self._end = calendar._instant(last + timedelta(days=1), timedelta(0)).timestamp()


@functools.lru_cache(maxsize=4)  # bound: one per calendar in use (settings change only on restart)
def odometer(calendar: SupportCalendar) -> SupportOdometer:
    return SupportOdometer(calendar)
