"""``nephthys_support_add`` (SLA due instants) is the exact inverse of the support measure, in SQL as in
Python: random calendars, instants across DST changes and holidays, amounts to the microsecond."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import text

from nephthys.support_calendar import SupportCalendar, parse_support_hours
from tests.stats.test_support_minutes_sql import LONDON, calendars, exact_seconds, instants

amounts = st.one_of(
    st.timedeltas(timedelta(0), timedelta(days=3)),
    st.sampled_from([timedelta(0), timedelta(minutes=1), timedelta(minutes=30), timedelta(hours=8)]),
)


async def sql_add(connection, calendar: SupportCalendar, pairs: list[tuple[datetime, timedelta]]) -> list:
    """nephthys_support_add as the service installs it for ``calendar``, then the forward function of the
    result (both installed in this transaction, rolled back by the caller)."""
    await connection.execute(text(calendar.function_definition()))
    await connection.execute(text(calendar.add_function_definition()))
    rows = await connection.execute(
        text(
            """SELECT d, nephthys_support_seconds(x.s, d)
               FROM unnest(CAST(:starts AS timestamptz[]), CAST(:amounts AS numeric[])) WITH ORDINALITY AS x(s, a, i)
               CROSS JOIN LATERAL (SELECT nephthys_support_add(x.s, x.a) AS d) added
               ORDER BY x.i"""
        ),
        {"starts": [s for s, _ in pairs], "amounts": [exact_seconds(a) for _, a in pairs]},
    )
    return rows.all()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(calendars, st.lists(st.tuples(instants, amounts), min_size=1, max_size=20))
async def test_sql_and_python_add_the_same_and_invert_the_measure(connection, calendar, pairs):
    try:
        in_sql = await sql_add(connection, calendar, pairs)
    finally:
        await connection.rollback()
    for (start, amount), (due, counted) in zip(pairs, in_sql, strict=True):
        expected = calendar.add_support_time(start, amount)
        assert due == expected, (start, amount)
        # The inverse: exactly ``amount`` of support time lies between the start and the due instant...
        assert counted == exact_seconds(amount)
        assert calendar.support_time(start, due) == amount
        # ...and no earlier instant has it.
        if amount > timedelta(0):
            assert calendar.support_time(start, due - timedelta(microseconds=1)) < amount


async def test_due_instants_skip_nights_weekends_holidays_and_follow_the_wall_clock(connection):
    office = SupportCalendar(
        LONDON, parse_support_hours("Mon-Fri 09:00-18:00"), frozenset({date(2025, 5, 26)})
    )
    cases = [
        # Friday 17:30 BST + 60 support minutes: 30 on Friday, the weekend and the bank holiday off,
        # then 30 on Tuesday from 09:00 BST (08:00Z).
        (
            datetime(2025, 5, 23, 16, 30, tzinfo=UTC),
            timedelta(minutes=60),
            datetime(2025, 5, 27, 8, 30, tzinfo=UTC),
        ),
        # Asked on the Sunday the clocks go forward: Monday opens at 09:00 BST, 08:00Z.
        (
            datetime(2025, 3, 30, 12, tzinfo=UTC),
            timedelta(minutes=15),
            datetime(2025, 3, 31, 8, 15, tzinfo=UTC),
        ),
        # A whole 9-hour day ends at the closing, not the next opening.
        (datetime(2025, 6, 2, 8, tzinfo=UTC), timedelta(hours=9), datetime(2025, 6, 2, 17, tzinfo=UTC)),
    ]
    try:
        got = await sql_add(connection, office, [(start, amount) for start, amount, _ in cases])
    finally:
        await connection.rollback()
    assert [due for due, _ in got] == [due for _, _, due in cases]
    assert [office.add_support_time(start, amount) for start, amount, _ in cases] == [
        due for _, _, due in cases
    ]
