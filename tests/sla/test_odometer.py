"""The support odometer (nephthys/sla/odometer.py): readings taken one at a time and many at once
(``seconds_of``, the export's running clocks) are the same floats, and differences of readings are
the calendar's support time."""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import numpy as np
import pytest

from nephthys.sla.odometer import SupportOdometer
from nephthys.support_calendar import SupportCalendar
from tests.sla.test_clocks import CALENDAR, london


@pytest.mark.parametrize("seed", range(4))
def test_readings_at_once_are_the_readings_one_at_a_time(seed):
    chooser = random.Random(seed)
    centre = london(2025, 6, 4, 12, 0).timestamp()
    ats = [centre + chooser.uniform(-3 * 86400, 3 * 86400) for _ in range(500)]
    # Far outside what a first reading covers (a year and more each way: the odometer widens), exact
    # window edges, and instants to the millisecond as a due instant holds them.
    ats += [centre - 500 * 86400.0, centre + 200 * 86400.0, london(2025, 6, 4, 9, 0).timestamp()]
    ats += [london(2025, 6, 4, 18, 0).timestamp(), london(2025, 5, 26, 12, 0).timestamp()]
    ats += [round(at, 3) for at in ats[:50]]
    chooser.shuffle(ats)
    first_at_once = SupportOdometer(CALENDAR)  # nothing covered yet: seconds_of covers both ends itself
    at_once = first_at_once.seconds_of(np.array(ats))
    assert at_once.tolist() == [first_at_once.seconds_at(at) for at in ats]
    first_one_by_one = SupportOdometer(CALENDAR)  # covered a reading at a time, then read at once
    one_by_one = [first_one_by_one.seconds_at(at) for at in ats]
    assert first_one_by_one.seconds_of(np.array(ats)).tolist() == one_by_one
    # Readings are support seconds from the first day covered: their differences do not depend on it.
    assert np.array_equal(np.diff(at_once), np.diff(one_by_one))


def test_support_time_is_a_difference_of_readings():
    meter = SupportOdometer(CALENDAR)
    start, end = london(2025, 5, 23, 17, 0), london(2025, 5, 28, 10, 30)
    readings = meter.seconds_of(np.array([start.timestamp(), end.timestamp()]))
    # Friday 17:00-18:00, the weekend and the bank holiday Monday off, Tuesday 9 hours, Wednesday 1.5
    assert (readings[1] - readings[0]) / 60 == CALENDAR.support_minutes(start, end) == 60 + 540 + 90


def test_every_minute_counts_reads_the_instant_itself():
    meter = SupportOdometer(SupportCalendar(UTC, None, frozenset()))
    at = datetime(2025, 6, 4, 12, 0, tzinfo=UTC) + timedelta(milliseconds=7)
    assert meter.seconds_of(np.array([at.timestamp()])).tolist() == [at.timestamp()]


def test_a_reading_holds_however_the_covered_days_widen():
    """A reading taken, then the covered days widened backwards and then forwards (a clock long
    overdue, then time passing beyond the days read ahead): the same instant still reads the same
    (an active copy keeps its due instants' readings for as long as the service runs)."""
    meter = SupportOdometer(CALENDAR)
    at = london(2025, 6, 4, 12, 0).timestamp()
    reading = meter.seconds_at(at)
    meter.seconds_at(at - 600 * 86400)  # widens backwards: the days before shift the origin
    meter.seconds_at(at + 300 * 86400)  # widens forwards from the same first day
    assert meter.seconds_at(at) == reading
    assert meter.seconds_of(np.array([at])).tolist() == [reading]
