"""The support measure in SQL agrees exactly with the Python one (random calendars and instants across DST)."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from decimal import Decimal
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncConnection

from nephthys.support_calendar import SupportCalendar, parse_support_hours

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
# The clock changes of 2025-2027 (UTC): London at 01:00Z, New York at 07:00Z / 06:00Z.
CHANGES = [
    *(datetime(y, m, d, 1, tzinfo=UTC) for y, m, d in [(2025, 3, 30), (2025, 10, 26), (2026, 3, 29),
                                                       (2026, 10, 25), (2027, 3, 28), (2027, 10, 31)]),
    *(datetime(y, m, d, h, tzinfo=UTC) for y, m, d, h in [(2025, 3, 9, 7), (2025, 11, 2, 6), (2026, 3, 8, 7),
                                                          (2026, 11, 1, 6), (2027, 3, 14, 7), (2027, 11, 7, 6)]),
]  # fmt: skip


def exact_seconds(amount: timedelta) -> Decimal:
    return Decimal(amount.days * 86400 + amount.seconds) + Decimal(amount.microseconds) / 10**6


async def sql_measures(
    connection: AsyncConnection, calendar: SupportCalendar, intervals: list[tuple[datetime, datetime]]
) -> list[tuple[Decimal, float]]:
    """(exact seconds, float minutes) of each interval, computed by the SQL form in one statement."""
    sql = calendar.sql("cal")
    query = text(
        f"""SELECT {sql.seconds("x.s", "x.e")}, {sql.minutes("x.s", "x.e")}
            FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) WITH ORDINALITY AS x(s, e, i)
            ORDER BY x.i"""
    )
    starts, ends = [s for s, _ in intervals], [e for _, e in intervals]
    rows = await connection.execute(query, {**sql.parameters, "starts": starts, "ends": ends})
    return [(seconds, minutes) for seconds, minutes in rows]


async def assert_agree(connection, calendar, intervals) -> None:
    in_sql = await sql_measures(connection, calendar, intervals)
    in_python = [
        (exact_seconds(calendar.support_time(s, e)), calendar.support_minutes(s, e)) for s, e in intervals
    ]
    assert in_sql == in_python


near_a_change = st.builds(
    lambda change, offset: change + offset,
    st.sampled_from(CHANGES),
    st.timedeltas(-timedelta(days=4), timedelta(days=4)),
)
anywhere = st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC))
instants = st.one_of(near_a_change, anywhere)
intervals = st.one_of(
    st.tuples(instants, instants),  # either order: an end before its start is zero
    st.builds(lambda s, length: (s, s + length), instants, st.timedeltas(timedelta(0), timedelta(days=20))),
)
hours = st.one_of(
    st.none(),
    st.sampled_from(
        ["Mon-Fri 09:00-18:00", "daily 00:30-02:30", "Sat-Sun 01:00-03:00", "daily 00:00-23:59",
         "sun 01:30-01:45", "fri-mon 08:00-20:00", "Tue 12:15-12:45"]
    ),
)  # fmt: skip
holidays = st.frozensets(
    st.one_of(
        st.dates(date(2025, 1, 1), date(2028, 1, 1)),
        st.builds(lambda c, d: c.date() + timedelta(days=d), st.sampled_from(CHANGES), st.integers(-2, 2)),
    ),
    max_size=12,
)
calendars = st.builds(
    lambda zone, h, days: SupportCalendar(zone, parse_support_hours(h) if h else None, days),
    st.sampled_from([LONDON, NEW_YORK]),
    hours,
    holidays,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendars, st.lists(intervals, min_size=1, max_size=40))
async def test_sql_and_python_agree_exactly(connection, calendar, drawn):
    await assert_agree(connection, calendar, drawn)


async def test_they_agree_on_the_issues_examples_and_over_decades(connection):
    office = SupportCalendar(
        LONDON, parse_support_hours("Mon-Fri 09:00-18:00"), frozenset({date(2026, 5, 25)})
    )
    friday_to_tuesday = (datetime(2026, 5, 22, 15, 30, tzinfo=UTC), datetime(2026, 5, 26, 8, 45, tzinfo=UTC))
    assert (await sql_measures(connection, office, [friday_to_tuesday]))[0] == (Decimal(135 * 60), 135.0)
    always = SupportCalendar(NEW_YORK)
    # Every clock change from 1971 to 2099 is inside these; without hours or holidays it is the wall clock.
    decades = [
        (datetime(1971, 1, 1, tzinfo=UTC), datetime(2099, 6, 1, 0, 0, 0, 1, tzinfo=UTC)),
        (datetime(2026, 3, 8, 6, 59, tzinfo=UTC), datetime(2026, 3, 8, 7, 1, tzinfo=UTC)),
    ]
    assert [seconds for seconds, _ in await sql_measures(connection, always, decades)] == [
        exact_seconds(e - s) for s, e in decades
    ]
    night = SupportCalendar(LONDON, parse_support_hours("daily 00:30-02:30"), frozenset({date(2040, 3, 25)}))
    await assert_agree(
        connection, night, [(datetime(1975, 2, 1, tzinfo=UTC), datetime(2095, 11, 1, tzinfo=UTC))]
    )


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendars, st.lists(intervals, min_size=1, max_size=20))
async def test_the_installed_function_counts_what_python_counts(connection, calendar, drawn):
    """nephthys_support_seconds, as a service installs it for its calendar, is the same measure."""
    await connection.execute(text(calendar.function_definition()))
    rows = await connection.execute(
        text(
            """SELECT nephthys_support_seconds(x.s, x.e)
                FROM unnest(CAST(:starts AS timestamptz[]), CAST(:ends AS timestamptz[])) WITH ORDINALITY AS x(s, e, i)
                ORDER BY x.i"""
        ),
        {"starts": [s for s, _ in drawn], "ends": [e for _, e in drawn]},
    )
    assert list(rows.scalars()) == [exact_seconds(calendar.support_time(s, e)) for s, e in drawn]
    await connection.rollback()
