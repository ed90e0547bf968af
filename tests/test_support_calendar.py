"""The support calendar: reading SUPPORT_HOURS and SUPPORT_HOLIDAYS, support minutes across DST, weekends, holidays."""

from __future__ import annotations

from datetime import UTC, date, datetime, time, timedelta
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given
from hypothesis import strategies as st

from nephthys.config import ConfigError, Settings
from nephthys.support_calendar import (
    CalendarError,
    SupportCalendar,
    describe_days,
    parse_days,
    parse_holidays,
    parse_support_hours,
)

LONDON = ZoneInfo("Europe/London")
NEW_YORK = ZoneInfo("America/New_York")
OFFICE = parse_support_hours("Mon-Fri 09:00-18:00")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def calendar(hours: str | None = "Mon-Fri 09:00-18:00", *holidays: str, zone: ZoneInfo = LONDON):
    return SupportCalendar(
        zone, parse_support_hours(hours) if hours else None, frozenset(map(date.fromisoformat, holidays))
    )


def test_days_and_support_hours_are_read_and_refused_with_a_reason():
    assert parse_days("mon-fri") == frozenset(range(5))
    assert parse_days("Sat,sun") == frozenset({5, 6})
    assert parse_days("fri-mon") == frozenset({4, 5, 6, 0})
    assert describe_days(parse_days("mon-fri")) == "mon-fri" and describe_days(parse_days("daily")) == "daily"
    hours = parse_support_hours("Mon-Fri 09:00-18:00")
    assert hours.days == frozenset(range(5)) and (hours.start, hours.end) == (time(9), time(18))
    for bad in ("weekdays", "Mon-Fri 18:00-09:00", "Mon-Fri", "Mon-Fri 9-18"):
        with pytest.raises(CalendarError):
            parse_support_hours(bad)


def test_support_minutes_count_only_open_hours_and_follow_dst():
    office = calendar()
    # Friday 17:50 to Monday 09:25 (GMT): 10 + 25 minutes.
    assert office.support_minutes(at("2026-11-20T17:50"), at("2026-11-23T09:25")) == 35
    # Friday 23 October 2026 (BST: 09:00 local is 08:00Z) to Monday 26th (GMT: 09:00 local is 09:00Z).
    assert office.support_minutes(at("2026-10-23T08:00"), at("2026-10-26T09:30")) == 9 * 60 + 30
    assert calendar(None).support_minutes(at("2026-11-20T10:00"), at("2026-11-20T11:00")) == 60


def test_a_friday_afternoon_question_before_a_holiday_monday_answered_on_tuesday_morning():
    # Monday 25 May 2026 is a bank holiday; London is on BST (UTC+1).
    spring = calendar("Mon-Fri 09:00-18:00", "2026-05-25")
    asked, answered = at("2026-05-22T15:30"), at("2026-05-26T08:45")  # Friday 16:30, Tuesday 09:45 local
    assert spring.support_minutes(asked, answered) == 90 + 45
    # Without the holiday, Monday's nine hours count.
    assert calendar().support_minutes(asked, answered) == 90 + 9 * 60 + 45
    # A holiday on a weekend changes nothing; one inside the answer's own day cuts it to nothing.
    assert calendar("Mon-Fri 09:00-18:00", "2026-05-23").support_minutes(asked, answered) == 90 + 9 * 60 + 45
    assert (
        calendar("Mon-Fri 09:00-18:00", "2026-05-26").support_minutes(at("2026-05-26T08:00"), answered) == 0
    )


def test_a_dst_change_outside_the_hours_leaves_each_day_its_wall_clock_hours():
    office = calendar()
    # Spring forward on Sunday 29 March 2026: Friday 17:00 GMT to Monday 10:00 BST (09:00Z) is 60 + 60.
    assert office.support_minutes(at("2026-03-27T17:00"), at("2026-03-30T09:00")) == 120
    # Fall back on Sunday 25 October 2026: Friday 17:00 BST (16:00Z) to Monday 10:00 GMT.
    assert office.support_minutes(at("2026-10-23T16:00"), at("2026-10-26T10:00")) == 120
    # New York springs forward on 8 March 2026: Friday 17:00 EST (22:00Z) to Monday 10:00 EDT (14:00Z).
    assert calendar(zone=NEW_YORK).support_minutes(at("2026-03-06T22:00"), at("2026-03-09T14:00")) == 120


def test_a_dst_change_inside_the_hours_counts_the_minutes_that_really_pass():
    night = calendar("daily 00:30-02:30")
    # 29 March 2026: 00:30 GMT opens, 02:30 BST (01:30Z) closes: one real hour.
    assert night.support_minutes(at("2026-03-28T23:00"), at("2026-03-29T03:00")) == 60
    # 25 October 2026: 00:30 BST (23:30Z the day before) opens, 02:30 GMT closes: three real hours.
    assert night.support_minutes(at("2026-10-24T22:00"), at("2026-10-25T04:00")) == 180
    # A response across the change, asked at 00:45 GMT and answered at 02:15 BST (01:15Z): 30 minutes.
    assert night.support_minutes(at("2026-03-29T00:45"), at("2026-03-29T01:15")) == 30
    # New York's support on 1 November 2026 (fall back at 02:00 EDT): 00:30 EDT (04:30Z) to 02:30 EST (07:30Z).
    assert (
        calendar("Sun 00:30-02:30", zone=NEW_YORK).support_minutes(
            at("2026-11-01T00:00"), at("2026-11-02T00:00")
        )
        == 180
    )


def test_without_support_hours_every_minute_counts_across_dst_except_holidays():
    always = calendar(None)
    assert always.every_minute_counts
    # Saturday 23:00 GMT to Sunday 03:00 BST (02:00Z): three real hours, not four on the wall clock.
    assert always.support_minutes(at("2026-03-28T23:00"), at("2026-03-29T02:00")) == 180
    # A holiday is a whole local day off even without hours: 25 October 2026 lasts 25 hours.
    off = calendar(None, "2026-10-25")
    assert not off.every_minute_counts
    assert off.support_minutes(at("2026-10-24T00:00"), at("2026-10-27T00:00")) == (72 - 25) * 60


@given(
    st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC)),
    st.timedeltas(timedelta(0), timedelta(days=40)),
    st.sampled_from([LONDON, NEW_YORK]),
)
def test_empty_support_hours_are_wall_clock_minutes(start, length, zone):
    always = SupportCalendar(zone)
    assert always.support_time(start, start + length) == length
    assert always.support_minutes(start, start + length) == length.total_seconds() / 60
    assert always.support_time(start + length, start) == timedelta(0)


hours_texts = st.sampled_from(
    [
        "Mon-Fri 09:00-18:00",
        "daily 00:30-02:30",
        "Sat-Sun 01:00-03:00",
        "daily 00:00-23:59",
        "Tue 12:15-12:45",
    ]
)
instants = st.datetimes(datetime(2025, 1, 1), datetime(2028, 1, 1), timezones=st.just(UTC))
holiday_sets = st.frozensets(st.dates(date(2025, 1, 1), date(2028, 1, 1)), max_size=20)


@given(
    st.sampled_from([LONDON, NEW_YORK]),
    st.one_of(st.none(), hours_texts),
    holiday_sets,
    instants,
    st.timedeltas(timedelta(0), timedelta(days=3)),
)
def test_adding_support_minutes_is_the_inverse_of_counting_them(zone, hours, holidays, start, amount):
    cal = SupportCalendar(zone, parse_support_hours(hours) if hours else None, holidays)
    due = cal.add_support_time(start, amount)
    assert due >= start and cal.support_time(start, due) == amount
    # And no earlier instant: a microsecond before, less has passed.
    if amount:
        assert cal.support_time(start, due - timedelta(microseconds=1)) < amount
    assert cal.add_support_minutes(start, 90) == cal.add_support_time(start, timedelta(minutes=90))


@given(st.sampled_from([LONDON, NEW_YORK]), hours_texts, holiday_sets, instants, instants)
def test_the_time_to_reach_an_instant_reaches_it_or_the_last_closing_before_it(zone, hours, holidays, a, b):
    cal = SupportCalendar(zone, parse_support_hours(hours), holidays)
    start, end = min(a, b), max(a, b)
    reached = cal.add_support_time(start, cal.support_time(start, end))
    assert reached <= end and cal.support_time(reached, end) == timedelta(0)


def test_support_minutes_between_naive_instants_are_refused():
    with pytest.raises(ValueError, match="timezone-aware"):
        calendar().support_minutes(datetime(2026, 1, 5, 9), datetime(2026, 1, 5, 10))


def test_holidays_are_read_and_a_malformed_one_names_its_variable():
    assert parse_holidays(" 2026-12-25, 2026-12-28,,2026-12-25 ") == {date(2026, 12, 25), date(2026, 12, 28)}
    assert parse_holidays("") == frozenset()
    for bad in (
        "2026-12-32",
        "2026-02-30",
        "25/12/2026",
        "2026-1-5",
        "20261225",
        "Christmas",
        "2026-12-25 2026-12-28",
    ):
        with pytest.raises(CalendarError):
            parse_holidays(bad)
        with pytest.raises(ConfigError) as raised:
            Settings.from_env({"SUPPORT_HOLIDAYS": f"2026-12-24,{bad}"}, dotenv_path=None)
        message = str(raised.value)
        assert message.startswith("SUPPORT_HOLIDAYS: expected comma-separated dates") and "\n" not in message
        assert repr(bad) in message


def test_the_settings_make_one_calendar():
    env = {
        "TIMEZONE": "Europe/London",
        "SUPPORT_HOURS": "Mon-Fri 09:00-18:00",
        "SUPPORT_HOLIDAYS": "2026-12-25",
    }
    settings = Settings.from_env(env, dotenv_path=None)
    assert settings.support_calendar == SupportCalendar(LONDON, OFFICE, frozenset({date(2026, 12, 25)}))
    assert Settings.from_env({}, dotenv_path=None).support_calendar == SupportCalendar(ZoneInfo("UTC"))
