"""Local times across daylight-saving changes and the job settings (support hours: tests/test_support_calendar.py)."""

from __future__ import annotations

import inspect
import re
from datetime import UTC, date, datetime, time
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

import nephthys.config as config_module
from nephthys.config import ConfigError, Settings
from nephthys.support_calendar import parse_days
from nephthys.tasks.schedule import DailyAt, describe_interval, local_day, local_instant

LONDON = ZoneInfo("Europe/London")


def at(text: str) -> datetime:
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def test_local_days_are_23_or_25_hours_across_dst():
    assert local_day(date(2026, 3, 29), LONDON) == (at("2026-03-29T00:00"), at("2026-03-29T23:00"))
    assert local_day(date(2026, 10, 25), LONDON) == (at("2026-10-24T23:00"), at("2026-10-26T00:00"))


def test_a_time_in_the_spring_gap_runs_when_the_clock_jumps_and_a_repeated_one_runs_once():
    # 01:30 does not exist in London on 2026-03-29 (01:00 GMT -> 02:00 BST).
    assert local_instant(date(2026, 3, 29), time(1, 30), LONDON) == at("2026-03-29T01:30")
    # 01:30 happens twice on 2026-10-25: the first (BST) one.
    assert local_instant(date(2026, 10, 25), time(1, 30), LONDON) == at("2026-10-25T00:30")
    daily = DailyAt(time(1, 30), LONDON)
    assert daily.latest(at("2026-10-25T01:00")) == (date(2026, 10, 25), at("2026-10-25T00:30"))
    assert daily.next(at("2026-10-25T00:30")) == at("2026-10-26T01:30")


def test_weekday_schedules_skip_the_weekend():
    weekdays = DailyAt(time(14, 0), LONDON, parse_days("mon-fri"))
    # Saturday 28 November 2026: the latest is Friday's, the next Monday's.
    assert weekdays.latest(at("2026-11-28T12:00")) == (date(2026, 11, 27), at("2026-11-27T14:00"))
    assert weekdays.next(at("2026-11-28T12:00")) == at("2026-11-30T14:00")


def job_settings(**env) -> Settings:
    return Settings.from_env(env, dotenv_path=None)


def test_the_job_settings_are_read_and_a_malformed_one_names_its_variable():
    s = job_settings(
        TIMEZONE="Europe/London",
        DAILY_SUMMARY_TIME="07:30",
        STALE_TICKET_DAYS="14",
        UNANSWERED_ALERT_MINUTES="45",
        SUPPORT_HOURS="Mon-Fri 09:00-18:00",
        JOB_CATCH_UP_HOURS="2",
    )
    assert (s.timezone, s.daily_summary_time, s.stale_ticket_days) == ("Europe/London", time(7, 30), 14)
    assert s.unanswered_alert_minutes == 45 and s.support_hours is not None and s.job_catch_up_hours == 2
    defaults = job_settings()
    assert (defaults.timezone, defaults.job_catch_up_hours, defaults.summary_waiting_days) == ("UTC", 6, 5)
    assert defaults.stale_ticket_days == 0 and defaults.unanswered_alert_minutes is None
    for env, message in [
        ({"TIMEZONE": "Mars/Olympus"}, "TIMEZONE: expected an IANA time zone"),
        ({"TIMEZONE": "../etc"}, "TIMEZONE: expected an IANA time zone"),
        ({"DAILY_SUMMARY_TIME": "24:00"}, "DAILY_SUMMARY_TIME: expected a time of day"),
        ({"STALE_TICKET_DAYS": "two weeks"}, "STALE_TICKET_DAYS: expected a whole number"),
        ({"UNANSWERED_ALERT_MINUTES": "-5"}, "UNANSWERED_ALERT_MINUTES: expected a value from 0"),
        ({"SUPPORT_HOURS": "always"}, "SUPPORT_HOURS: expected days and hours"),
        ({"JOB_CATCH_UP_HOURS": "soon"}, "JOB_CATCH_UP_HOURS: expected a number"),
    ]:
        with pytest.raises(ConfigError) as raised:
            job_settings(**env)
        assert str(raised.value).startswith(message) and "\n" not in str(raised.value)


def test_every_job_setting_is_documented_in_env_example():
    example = (Path(__file__).resolve().parents[2] / ".env.example").read_text()
    documented = {line.split("=")[0].lstrip("# ").strip() for line in example.splitlines() if "=" in line}
    read = set(re.findall(r'"([A-Z][A-Z0-9_]+)"', inspect.getsource(config_module._job_settings)))
    # TIMEZONE is read by _parse itself (the API uses it too); tests/test_config.py checks it is documented.
    assert {"STALE_TICKET_DAYS", "SUPPORT_HOURS"} <= read and read - documented == set()


@pytest.mark.parametrize(
    ("seconds", "written"),
    [
        (30, "30 s"),
        (90, "90 s"),
        (60, "1 min"),
        (120, "2 min"),
        (3600, "1 h"),
        (21600, "6 h"),
        (5400, "90 min"),
    ],
)
def test_an_interval_reads_as_people_write_it(seconds, written):
    assert describe_interval(seconds) == written
