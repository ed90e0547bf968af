"""The support calendar: when the team answers, and support minutes between two instants.

``SUPPORT_HOURS`` (e.g. ``Mon-Fri 09:00-18:00``; unset: every hour of every day),
``SUPPORT_HOLIDAYS`` (whole local days off) and ``TIMEZONE`` make one
:class:`SupportCalendar`. Every clock that counts support time (unanswered alerts,
response times, SLAs) asks it; nothing else does calendar arithmetic.

Definitions (the Python and the SQL forms below compute the same numbers):

- Each local day that is a support weekday and not a holiday has one *window*
  ``[opens, closes)``: the instants at which the wall clock in the zone reads the
  opening and the closing time that day. The hours are wall-clock hours, so a
  09:00-18:00 day lasts 9 h on a daylight-saving day too, unless the change falls
  inside the hours, when the window is as long as really elapses (8 or 10 h).
  Without support hours the window is the whole local day (23 or 25 h across a change).
- A local time that happens twice (clocks going back) is read as its second occurrence
  and one that does not exist (clocks going forward) with the offset before the jump,
  so just after it: that is how PostgreSQL reads local times (``AT TIME ZONE``), and
  the SQL form needs it to agree with this one.
- Support time of ``[start, end)`` is the windows of the local days from start's date
  up to end's, less the part of start's day's window before start, plus the part of
  end's day's window before end: the time inside the windows, exact to the microsecond.

The SQL form (:meth:`SupportCalendar.sql`) computes the same measure for many rows
in one statement, with the calendar as bind parameters (nothing stored: a change of
calendar applies to history on the next query). It does not walk the days: it counts
support weekdays with a weekly formula, holidays and daylight-saving corrections by
``width_bucket`` over sorted arrays, so each interval costs the same whatever its length.
The corrections are precomputed here for local days from 1970 through 2099.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, time, timedelta
from functools import lru_cache
from zoneinfo import ZoneInfo

DAY_NAMES = ("mon", "tue", "wed", "thu", "fri", "sat", "sun")
EVERY_DAY = frozenset(range(7))
_CLOCK = re.compile(r"^([01]?\d|2[0-3]):([0-5]\d)$")
_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
WHOLE_DAY = timedelta(days=1)
# The local days the SQL form's daylight-saving corrections cover (see the module docstring).
SQL_CORRECTIONS_FROM = date(1970, 1, 1)
SQL_CORRECTIONS_UNTIL = date(2100, 1, 1)
# The SQL form counts weekdays from this Monday (a date - date difference, never negative in use).
_MONDAY_ORIGIN = date(1, 1, 1)


class CalendarError(ValueError):
    """A clock time, a list of days, support hours or holidays that cannot be read; the message says what was expected."""


def parse_clock(value: str) -> time:
    """``HH:MM`` (24-hour) as a time of day."""
    match = _CLOCK.match(value.strip())
    if not match:
        raise CalendarError(f"expected a time of day like 09:30, got {value!r}")
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
            raise CalendarError(f"expected days like mon-fri or mon,wed,fri, got {value!r}")
        day = start
        days.add(day)
        while day != end:  # a range may wrap: fri-mon
            day = (day + 1) % 7
            days.add(day)
    if not days:
        raise CalendarError(f"expected days like mon-fri or mon,wed,fri, got {value!r}")
    return frozenset(days)


def describe_days(days: frozenset[int]) -> str:
    """The days as ``parse_days`` reads them back: ``daily``, ``mon-fri``, ``mon,wed``."""
    if days == EVERY_DAY:
        return "daily"
    ordered = sorted(days)
    if len(ordered) > 2 and ordered == list(range(ordered[0], ordered[-1] + 1)):
        return f"{DAY_NAMES[ordered[0]]}-{DAY_NAMES[ordered[-1]]}"
    return ",".join(DAY_NAMES[d] for d in ordered)


@dataclass(frozen=True)
class SupportHours:
    """When the team answers, e.g. ``Mon-Fri 09:00-18:00`` in TIMEZONE (weekdays 0 = Monday)."""

    days: frozenset[int]
    start: time
    end: time


def parse_support_hours(value: str) -> SupportHours:
    """``Mon-Fri 09:00-18:00``: the days, then the local hours (start before end)."""
    days_text, _, hours_text = value.strip().rpartition(" ")
    start_text, _, end_text = hours_text.partition("-")
    if not days_text or not end_text:
        raise CalendarError(f"expected days and hours like 'Mon-Fri 09:00-18:00', got {value!r}")
    start, end = parse_clock(start_text), parse_clock(end_text)
    if end <= start:
        raise CalendarError(f"expected the hours to end after they start, got {value!r}")
    return SupportHours(days=parse_days(days_text), start=start, end=end)


def parse_holidays(value: str) -> frozenset[date]:
    """``2026-12-25, 2026-12-28``: whole local days off (blank items are skipped)."""
    holidays: set[date] = set()
    for part in filter(None, (p.strip() for p in value.split(","))):
        try:
            if not _DATE.match(part):
                raise ValueError
            holidays.add(date.fromisoformat(part))
        except ValueError:
            raise CalendarError(
                f"expected comma-separated dates like 2026-12-25,2026-12-28, got {part!r}"
            ) from None
    return frozenset(holidays)


def _since_midnight(at: time) -> timedelta:
    return timedelta(hours=at.hour, minutes=at.minute)


@dataclass(frozen=True)
class SupportSQL:
    """The support measure as SQL text with named bind parameters (``:<prefix>_...``).

    ``seconds(start, end)`` is an exact ``numeric``; ``minutes(start, end)`` a
    ``float8`` equal to :meth:`SupportCalendar.support_minutes`. ``start`` and ``end``
    are SQL expressions of type ``timestamptz`` (each evaluated twice: pass columns or
    parameters, not subqueries); the result is a scalar subquery, usable in aggregates
    (``percentile_cont(0.5) WITHIN GROUP (ORDER BY ...)``). Execute with ``parameters``.
    """

    prefix: str
    parameters: dict[str, object]

    def _at(self, instant: str, day: str) -> tuple[str, str]:
        """Up to ``instant`` (local date ``day``), from the weekday origin: the whole days' support
        seconds (bigint) and the part of its own day's window (interval). Only differences are used."""
        p = self.prefix
        zone = f"CAST(:{p}_tz AS text)"
        n = f"({day} - DATE '{_MONDAY_ORIGIN.isoformat()}')"  # days since a Monday; n % 7 is the weekday
        # weekdays[r + 1]: how many of a week's first r days are support weekdays (r = 0..7).
        weekdays = f"(CAST(:{p}_weekdays AS int[]))"
        # Holidays on support weekdays, sorted: width_bucket(d, holidays) counts those up to d.
        holidays = f"CAST(:{p}_holidays AS date[])"
        holidays_before = f"width_bucket({day} - 1, {holidays})"
        holiday_today = f"(width_bucket({day}, {holidays}) - {holidays_before})"
        open_days_before = (
            f"(({n} / 7) * CAST(:{p}_week AS int) + {weekdays}[{n} % 7 + 1] - {holidays_before})"
        )
        open_today = f"({weekdays}[{n} % 7 + 2] - {weekdays}[{n} % 7 + 1] - {holiday_today})"
        # Days whose window is not its wall-clock length (a clock change inside it): running sums of the difference.
        shift_days = f"CAST(:{p}_shift_days AS date[])"
        shifts_before = (
            f"coalesce((CAST(:{p}_shift_sums AS bigint[]))[width_bucket({day} - 1, {shift_days})], 0)"
        )
        whole_days = f"({open_days_before}::bigint * CAST(:{p}_window AS bigint) + {shifts_before})"
        opens = f"(({day} + CAST(:{p}_opens AS interval)) AT TIME ZONE {zone})"
        closes = f"(({day} + CAST(:{p}_closes AS interval)) AT TIME ZONE {zone})"
        today = f"greatest(interval '0', least({instant}, {closes}) - {opens})"
        return whole_days, f"(CASE WHEN {open_today} = 1 THEN {today} ELSE interval '0' END)"

    def seconds(self, start: str, end: str) -> str:
        # One scalar subquery per row, fenced by OFFSET 0 so PostgreSQL converts each instant to
        # its local date once (flattened, every use of the date would convert it again: 3x slower).
        # Integers and intervals until one exact numeric at the end (numeric arithmetic is slow).
        zone = f"CAST(:{self.prefix}_tz AS text)"
        end_days, end_today = self._at("l.e", "l.de")
        start_days, start_today = self._at("l.s", "l.ds")
        return (
            f"(SELECT greatest(0::numeric, ({end_days} - {start_days}) + extract(epoch FROM {end_today} - {start_today}))"
            f" FROM (SELECT ({start}) AS s, ({end}) AS e, (({start}) AT TIME ZONE {zone})::date AS ds,"
            f" (({end}) AT TIME ZONE {zone})::date AS de OFFSET 0) l)"
        )

    def minutes(self, start: str, end: str) -> str:
        return f"(CAST({self.seconds(start, end)} AS float8) / 60)"

    def inlined(self, sql: str) -> str:
        """``sql`` with this calendar's parameters written in as literals (for a function's body)."""
        # Longest names first: no parameter's name is cut short by another's.
        for name in sorted(self.parameters, key=len, reverse=True):
            sql = sql.replace(f":{name}", _literal(self.parameters[name]))
        return sql


def _literal(value: object) -> str:
    """A parameter's value as an SQL string literal (every use is inside a CAST)."""
    if isinstance(value, list):
        text = "{" + ",".join(str(item) for item in value) + "}"
    elif isinstance(value, timedelta):
        text = f"{int(value.total_seconds())} seconds"
    else:
        text = str(value)
    return "'" + text.replace("'", "''") + "'"


# Installed by a service for its calendar (nephthys/tickets/support_minutes.py); migration 0019
# installs the "always" form. Called where a few spans are counted at once (the lifecycle);
# bulk recounts inline SupportSQL instead (no per-call overhead).
SUPPORT_SECONDS_FUNCTION = "nephthys_support_seconds"
_ALWAYS_BODY = "SELECT greatest(0::numeric, extract(epoch FROM e - s))"
# Its inverse, installed beside it: the first instant by which ``seconds`` support seconds have
# passed since ``s`` (SLA due instants; :meth:`SupportCalendar.add_support_time` in SQL).
SUPPORT_ADD_FUNCTION = "nephthys_support_add"
# Walks the local days from s's as add_support_time does, reading each day's window the way the
# forward function does ((day + opens) AT TIME ZONE zone); seconds stay numeric and become an
# interval of seconds only at the end, so no day-long interval is ever added in a session zone.
_ADD_BODY = """
DECLARE
    zone CONSTANT text := {zone};
    open_days CONSTANT int[] := {days};
    holidays CONSTANT date[] := {holidays};
    opens CONSTANT interval := {opens};
    closes CONSTANT interval := {closes};
    remaining numeric := seconds;
    day date;
    window_opens timestamptz;
    window_closes timestamptz;
    counted_from timestamptz;
    available numeric;
BEGIN
    IF s IS NULL OR seconds IS NULL THEN
        RETURN NULL;
    END IF;
    IF seconds <= 0 THEN
        RETURN s;  -- nothing (or less) to add: as the always form
    END IF;
    day := (s AT TIME ZONE zone)::date;
    -- Bounded: a calendar has at least one support weekday, so a year holds some window
    -- unless every day is a holiday (refused after 20 years rather than looping forever).
    FOR step IN 0..7305 LOOP
        IF extract(isodow FROM day)::int - 1 = ANY(open_days) AND NOT day = ANY(holidays) THEN
            window_opens := (day + opens) AT TIME ZONE zone;
            window_closes := (day + closes) AT TIME ZONE zone;
            IF window_closes > s THEN
                counted_from := greatest(s, window_opens);
                available := extract(epoch FROM window_closes - counted_from);
                IF remaining <= available THEN
                    RETURN counted_from + make_interval(secs => remaining::float8);
                END IF;
                remaining := remaining - available;
            END IF;
        END IF;
        day := day + 1;
    END LOOP;
    RAISE EXCEPTION 'no support hours within 20 years of %', s;
END
"""


@dataclass(frozen=True)
class SupportCalendar:
    """The team's support calendar: local support hours (None: all day, every day), holidays, zone."""

    zone: ZoneInfo
    hours: SupportHours | None = None
    holidays: frozenset[date] = field(default_factory=frozenset)

    @property
    def every_minute_counts(self) -> bool:
        return self.hours is None and not self.holidays

    @property
    def _days(self) -> frozenset[int]:
        return EVERY_DAY if self.hours is None else self.hours.days

    @property
    def _opens(self) -> timedelta:
        return timedelta(0) if self.hours is None else _since_midnight(self.hours.start)

    @property
    def _closes(self) -> timedelta:
        return WHOLE_DAY if self.hours is None else _since_midnight(self.hours.end)

    def is_open(self, day: date) -> bool:
        """Whether the local ``day`` has support hours (a support weekday, not a holiday)."""
        return day.weekday() in self._days and day not in self.holidays

    def _instant(self, day: date, since_midnight: timedelta) -> datetime:
        """When the wall clock reads ``since_midnight`` after ``day``'s midnight (as PostgreSQL reads it)."""
        wall = datetime.combine(day, time()) + since_midnight
        first = wall.replace(tzinfo=self.zone, fold=0).astimezone(UTC)
        second = wall.replace(tzinfo=self.zone, fold=1).astimezone(UTC)
        # Repeated: fold=1 is the later, second occurrence. Skipped: fold=0 reads it with the
        # offset before the jump, which is the later instant too.
        return max(first, second)

    def window(self, day: date) -> tuple[datetime, datetime] | None:
        """``[opens, closes)`` of the local ``day`` as UTC instants, or None on a day off."""
        if not self.is_open(day):
            return None
        return self._instant(day, self._opens), self._instant(day, self._closes)

    def _before(self, day: date, instant: datetime) -> timedelta:
        """The part of ``day``'s window before ``instant``."""
        window = self.window(day)
        if window is None:
            return timedelta(0)
        opens, closes = window
        return max(timedelta(0), min(instant, closes) - opens)

    def _local_date(self, instant: datetime) -> date:
        if instant.tzinfo is None:
            raise ValueError("support time is measured between timezone-aware instants")
        return instant.astimezone(self.zone).date()

    def support_time(self, start: datetime, end: datetime) -> timedelta:
        """Support time of ``[start, end)`` (zero when ``end`` is not after ``start``); see the module docstring."""
        first, last = self._local_date(start), self._local_date(end)
        if end <= start:
            return timedelta(0)
        total = self._before(last, end) - self._before(first, start)
        day = first
        while day < last:
            if (window := self.window(day)) is not None:
                total += window[1] - window[0]
            day += timedelta(days=1)
        return max(total, timedelta(0))

    def support_minutes(self, start: datetime, end: datetime) -> float:
        """Minutes of ``[start, end)`` inside the calendar."""
        return self.support_time(start, end).total_seconds() / 60

    def add_support_time(self, start: datetime, amount: timedelta) -> datetime:
        """The first instant by which ``amount`` of support time has passed since ``start``.

        ``support_time(start, add_support_time(start, x)) == x``, and no earlier instant has it:
        the result is inside a window or at its closing, or ``start`` itself for zero.
        """
        if amount < timedelta(0):
            raise ValueError("support time to add must not be negative")
        day = self._local_date(start)
        left = amount
        if left == timedelta(0):
            return start
        while True:
            window = self.window(day)
            if window is not None and window[1] > start:
                opens = max(start, window[0])
                if left <= window[1] - opens:
                    return opens + left
                left -= window[1] - opens
            day += timedelta(days=1)

    def add_support_minutes(self, start: datetime, minutes: float) -> datetime:
        """The instant at which ``minutes`` support minutes have passed since ``start`` (due times)."""
        return self.add_support_time(start, timedelta(minutes=minutes))

    @property
    def key(self) -> str:
        """Names the calendar: two calendars with the same key count the same support time."""
        if self.every_minute_counts:
            return "always"
        hours = (
            "always"
            if self.hours is None
            else (f"{describe_days(self.hours.days)} {self.hours.start:%H:%M}-{self.hours.end:%H:%M}")
        )
        holidays = ",".join(day.isoformat() for day in sorted(self.holidays))
        return f"{self.zone.key}|{hours}|{holidays}"

    def function_definition(self) -> str:
        """``CREATE OR REPLACE FUNCTION nephthys_support_seconds(s, e)``: this calendar's support
        seconds of ``[s, e)``, as ``numeric`` (``SupportSQL.seconds`` with the parameters written in)."""
        if self.every_minute_counts:
            body = _ALWAYS_BODY  # the zone changes nothing when every minute counts
        else:
            sql = self.sql("calendar")
            body = "SELECT " + sql.inlined(sql.seconds("s", "e"))
        return (
            f"CREATE OR REPLACE FUNCTION {SUPPORT_SECONDS_FUNCTION}(s timestamptz, e timestamptz) "
            f"RETURNS numeric LANGUAGE sql STABLE PARALLEL SAFE AS $body$ {body} $body$"
        )

    def add_function_definition(self) -> str:
        """``CREATE OR REPLACE FUNCTION nephthys_support_add(s, seconds)``: the first instant by which
        ``seconds`` support seconds have passed since ``s`` in this calendar (the inverse of
        ``nephthys_support_seconds``; :meth:`add_support_time` in SQL, exact to the microsecond;
        zero or less gives ``s``)."""
        if self.every_minute_counts:
            body = "SELECT s + make_interval(secs => greatest(seconds, 0)::float8)"
            language = "sql"
        else:
            body = _ADD_BODY.format(
                zone=_literal(self.zone.key),
                days=_literal(sorted(self._days)),
                holidays=_literal(sorted(day.isoformat() for day in self.holidays)),
                opens=_literal(self._opens),
                closes=_literal(self._closes),
            )
            language = "plpgsql"
        return (
            f"CREATE OR REPLACE FUNCTION {SUPPORT_ADD_FUNCTION}(s timestamptz, seconds numeric) "
            f"RETURNS timestamptz LANGUAGE {language} STABLE PARALLEL SAFE AS $body$ {body} $body$"
        )

    def sql(self, prefix: str = "support") -> SupportSQL:
        """The same measure in SQL (see :class:`SupportSQL`), bind parameters named ``<prefix>_...``."""
        return SupportSQL(prefix, _sql_parameters(self, prefix))


@lru_cache(maxsize=16)  # bound: one entry per calendar and prefix in use (settings change only on restart)
def _sql_parameters(calendar: SupportCalendar, prefix: str) -> dict[str, object]:
    days = calendar._days
    weekdays = [sum(1 for d in range(r) if d in days) for r in range(8)]
    holidays = sorted(h for h in calendar.holidays if h.weekday() in days)
    window = calendar._closes - calendar._opens
    shift_days, shift_sums, total = [], [], 0
    for day in _clock_change_days(calendar.zone):
        if (opened := calendar.window(day)) is None:
            continue
        shift = opened[1] - opened[0] - window
        if shift:
            total += int(shift.total_seconds())  # offsets are whole seconds
            shift_days.append(day)
            shift_sums.append(total)
    return {
        f"{prefix}_tz": calendar.zone.key,
        f"{prefix}_weekdays": weekdays,
        f"{prefix}_week": len(days),
        f"{prefix}_holidays": holidays,
        f"{prefix}_shift_days": shift_days,
        f"{prefix}_shift_sums": shift_sums,
        f"{prefix}_opens": calendar._opens,
        f"{prefix}_closes": calendar._closes,
        f"{prefix}_window": int(window.total_seconds()),
    }


@lru_cache(maxsize=8)  # bound: one entry per time zone in use
def _clock_change_days(zone: ZoneInfo) -> tuple[date, ...]:
    """Local days from 1970 through 2099 on or beside which the zone's UTC offset changes."""
    found: set[date] = set()
    day = SQL_CORRECTIONS_FROM
    previous = datetime.combine(day, time(12), UTC).astimezone(zone).utcoffset()
    while day < SQL_CORRECTIONS_UNTIL:
        day += timedelta(days=1)
        offset = datetime.combine(day, time(12), UTC).astimezone(zone).utcoffset()
        if offset != previous:  # changed between two UTC noons: check the local days around them
            found.update(day + timedelta(days=d) for d in range(-2, 2))
        previous = offset
    return tuple(sorted(d for d in found if SQL_CORRECTIONS_FROM <= d < SQL_CORRECTIONS_UNTIL))
