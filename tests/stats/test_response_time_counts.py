"""The response-time counts (migration 0027) give the direct computation's answers, after every kind of change.

Tickets are driven through the lifecycle (tests/stats/test_response_times.py's desk) under a
support calendar in Lord Howe (+10:30, +11 in daylight saving, which ends on 2026-04-05: a
half-hour zone with a half-hour change), later changed to Kolkata (+05:30). After every kind
of change (a question, a helper's reply, the asker's reply, a close, a reopen, a tag added and
taken off, a new calendar, a ticket, a tag and a helper deleted) ``response_times`` is
compared with ``direct_response_times`` for periods with whole days, parts of days at both
ends, open ends, within one day and empty, by none, team tag and helper; and what the triggers
kept with a recount from scratch (``response_time_counts_rebuild()``).
"""

from __future__ import annotations

import math
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from nephthys.database.engine import create_engine, session_factory
from nephthys.stats import response_times as rt
from nephthys.support_calendar import SupportCalendar, parse_holidays, parse_support_hours
from nephthys.tags import service as tags
from nephthys.tickets import lifecycle
from nephthys.tickets.deletion import delete_ticket
from nephthys.tickets.support_minutes import install_calendar
from tests.stats.test_response_times import HELPERS, Desk
from tests.support import postgres

LORD_HOWE = ZoneInfo("Australia/Lord_Howe")
FIRST_CALENDAR = SupportCalendar(
    LORD_HOWE, parse_support_hours("Mon-Fri 09:00-18:00"), parse_holidays("2026-04-03")
)
SECOND_CALENDAR = SupportCalendar(
    ZoneInfo("Asia/Kolkata"), parse_support_hours("Mon-Sat 08:30-17:15"), parse_holidays("2026-04-06")
)
MINUTE = timedelta(minutes=1)
ASKERS = ["UASKER01", "UASKER02", "UASKER03"]


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def lord_howe(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LORD_HOWE).astimezone(UTC)


PERIODS = [
    (None, None),
    (utc(2026, 3, 20), utc(2026, 5, 1)),  # whole UTC days
    # parts of a day at both ends, each more than half a day (read as the whole day less the rest)
    (utc(2026, 3, 28, 7, 13, 5), utc(2026, 4, 9, 19, 2, 11)),
    (utc(2026, 3, 28, 21, 0), utc(2026, 4, 9, 2, 30)),  # ... each less than half a day (read as it is)
    (None, utc(2026, 4, 4, 13, 30)),
    (utc(2026, 4, 2, 0, 0, 0, 1000), None),
    (utc(2026, 3, 30, 1), utc(2026, 3, 30, 23)),  # inside one day
    (utc(2026, 4, 1, 12), utc(2026, 4, 1, 12)),  # empty
    (utc(2025, 1, 1), utc(2027, 1, 1)),  # over several 64-day periods
    (datetime(1, 1, 1, tzinfo=UTC), datetime(9999, 12, 31, 23, 59, tzinfo=UTC)),  # the datetime's ends
]


def _same(fast, direct, where) -> None:
    """Counts and percentiles the same floats; means equal but for the order of additions."""
    if isinstance(direct, dict):
        assert isinstance(fast, dict) and fast.keys() == direct.keys(), where
        for key in direct:
            if key == "mean" and direct[key] is not None:
                assert math.isclose(fast[key], direct[key], rel_tol=1e-12, abs_tol=1e-12), (
                    where,
                    fast,
                    direct,
                )
            else:
                _same(fast[key], direct[key], (*where, key))
    elif isinstance(direct, list):
        assert isinstance(fast, list) and len(fast) == len(direct), (where, fast, direct)
        for index, (a, b) in enumerate(zip(fast, direct, strict=True)):
            _same(a, b, (*where, index))
    else:
        assert fast == direct and type(fast) is type(direct), (where, fast, direct)


async def _compare(connection, db_url: str, label: str) -> None:
    await _kept_equals_rebuilt(db_url, label)
    for since, until in PERIODS:
        for by in rt.GROUPINGS:
            async with connection.begin():
                fast = await rt.response_times(connection, since=since, until=until, by=by)
                direct = await rt.direct_response_times(connection, since=since, until=until, by=by)
            _same(fast, direct, (label, since, until, by))


_KEPT = {
    "counts": """SELECT "groupKind", "periodDays", "periodStart", "groupId", measure, count, sum, low, counts
                 FROM "ResponseTimeCounts" ORDER BY 1, 2, 3, 4, 5""",
    "tag values": 'SELECT * FROM "ResponseTimeTagValues" ORDER BY 1, 2, 3, 4',
}


def _trimmed(row) -> tuple:
    """A counts row with its zeros at either end left out (the triggers widen, never narrow)."""
    values = [
        int.from_bytes(row["counts"][i : i + 4], "big", signed=True) for i in range(0, len(row["counts"]), 4)
    ]
    low = row["low"]
    while values and values[0] == 0:
        values.pop(0)
        low += 1
    while values and values[-1] == 0:
        values.pop()
    return (*tuple(row)[:7], low, tuple(values))


async def _kept_equals_rebuilt(db_url: str, label: str) -> None:
    kept = {name: await postgres.fetch(db_url, sql) for name, sql in _KEPT.items()}
    assert await postgres.fetch(db_url, 'SELECT * FROM "ResponseTimePending"') == []
    assert [r for r in kept["counts"] if r["count"] <= 0 or r["count"] != sum(_trimmed(r)[-1])] == [], label
    assert [r for r in kept["tag values"] if r["count"] <= 0] == [], label
    await postgres.execute(db_url, 'SELECT "response_time_counts_rebuild"()')
    rebuilt = {name: await postgres.fetch(db_url, sql) for name, sql in _KEPT.items()}
    assert [_trimmed(r) for r in kept["counts"]] == [_trimmed(r) for r in rebuilt["counts"]], label
    assert [tuple(r) for r in kept["tag values"]] == [tuple(r) for r in rebuilt["tag values"]], label


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def test_the_counts_give_the_direct_figures_after_every_kind_of_change(sessions, db_url, connection):
    await install_calendar(sessions, FIRST_CALENDAR)
    for helper in HELPERS:
        await lifecycle.set_helper(sessions, slack_id=helper, helper=True)
    async with sessions.begin() as session:
        auth = await tags.create_tag(session, name="Auth")
        billing = await tags.create_tag(session, name="Billing")
    auth_id, billing_id = auth.id, billing.id  # type: ignore[union-attr]
    desk = Desk(sessions)
    await _compare(connection, db_url, "empty")

    # A history across the end of daylight saving (2026-04-05 02:00 -> 01:00 in Lord Howe: half an hour).
    tickets: list[tuple[int, str, datetime]] = []
    asked = lord_howe(2026, 3, 27, 16, 40)
    for number in range(14):
        asked += (311 + 97 * (number % 5)) * MINUTE
        asker = ASKERS[number % 3]
        ticket_id, msg_ts = await desk.ask(asker, asked)
        tickets.append((ticket_id, msg_ts, asked))
        if number % 3 == 0:
            await desk.tag(ticket_id, [auth_id] if number % 2 else [auth_id, billing_id], asked + MINUTE)
        if number % 4 == 3:
            continue  # never answered
        at = asked + (7 + 233 * (number % 4)) * MINUTE
        await desk.say(msg_ts, HELPERS[number % 3], at)
        if number % 2 == 0:
            at += 41 * MINUTE
            await desk.say(msg_ts, asker, at)
            at += (13 + 500 * (number % 3)) * MINUTE
            await desk.say(msg_ts, HELPERS[(number + 1) % 3], at)
        if number % 5 != 4:
            await desk.close(
                tickets[-1][0], asker if number % 7 == 0 else HELPERS[number % 3], at + 9 * MINUTE
            )
    await _compare(connection, db_url, "history")

    # Each kind of change on its own, compared after each.
    last = lord_howe(2026, 4, 9, 10, 0)
    ticket_id, msg_ts = await desk.ask(ASKERS[0], last)
    await _compare(connection, db_url, "opened")
    await desk.tag(ticket_id, [billing_id], last + MINUTE)
    await _compare(connection, db_url, "tag added (nothing ended yet)")
    await desk.say(msg_ts, HELPERS[1], last + 95 * MINUTE)
    await _compare(connection, db_url, "helper reply")
    await desk.say(msg_ts, ASKERS[0], last + 130 * MINUTE)
    await _compare(connection, db_url, "asker reply")
    await desk.say(msg_ts, HELPERS[2], last + 400 * MINUTE)
    await _compare(connection, db_url, "second helper reply")
    await desk.close(ticket_id, HELPERS[2], last + 410 * MINUTE)
    await _compare(connection, db_url, "closed")
    await desk.reopen(ticket_id, ASKERS[0], last + 1300 * MINUTE)
    await _compare(connection, db_url, "reopened")
    await desk.say(msg_ts, HELPERS[0], last + 1400 * MINUTE)
    await desk.close(ticket_id, ASKERS[0], last + 1402 * MINUTE)  # the asker closes: no helper's resolution
    await _compare(connection, db_url, "closed again by the asker")
    tagged_id = tickets[0][0]
    async with sessions.begin() as session:
        await tags.add_tags_to_ticket(
            session, ticket_id=tagged_id, tag_ids=[auth_id], added_by_slack_id=HELPERS[0], at=last
        )
        await tags.remove_tags_from_ticket(
            session, ticket_id=tagged_id, tag_ids=[billing_id], removed_by_slack_id=HELPERS[0], at=last
        )
    await _compare(connection, db_url, "tag taken off a closed ticket")
    async with sessions.begin() as session:
        await tags.add_tags_to_ticket(
            session, ticket_id=tickets[4][0], tag_ids=[billing_id], added_by_slack_id=HELPERS[0], at=last
        )
    await _compare(connection, db_url, "tag added to a closed ticket")

    assert await install_calendar(sessions, SECOND_CALENDAR)  # every minute recounted
    await _compare(connection, db_url, "calendar changed")

    await delete_ticket(sessions, msg_ts=tickets[6][1])
    await _compare(connection, db_url, "ticket deleted")
    async with sessions.begin() as session:
        assert await tags.delete_tag(session, tag_id=auth_id)
    await _compare(connection, db_url, "tag deleted")
    await postgres.execute(db_url, f"""DELETE FROM "User" WHERE "slackId" = '{HELPERS[1]}'""")
    await _compare(connection, db_url, "helper deleted")


async def test_a_large_statement_is_recounted_whole_at_commit(sessions, db_url, connection):
    """A statement changing more than BULK_ROWS rows records a recount instead of its values."""
    await install_calendar(sessions, FIRST_CALENDAR)
    await lifecycle.set_helper(sessions, slack_id=HELPERS[0], helper=True)
    desk = Desk(sessions)
    for number in range(3):
        at = lord_howe(2026, 3, 30, 10, 0) + number * 61 * MINUTE
        _ticket_id, msg_ts = await desk.ask(ASKERS[0], at)
        await desk.say(msg_ts, HELPERS[0], at + (5 + number) * MINUTE)
    async with connection.begin():
        await connection.execute(text('INSERT INTO "ResponseTimePending" ("rebuild") VALUES (true)'))
        await connection.execute(text('DELETE FROM "ResponseTimeCounts"'))
    await _compare(connection, db_url, "recounted at commit")
    async with connection.begin():
        answer = await rt.response_times(connection, by="helper")
    assert answer["first_response"]["count"] == 3
    assert [group["first_response"]["count"] for group in answer["groups"]] == [3]


def test_the_buckets_are_the_migrations():
    """The statistic's thresholds are those migration 0027 compiled into response_time_bucket."""
    import importlib

    migration = importlib.import_module("nephthys.database.migrations.versions.0027_response_time_counts")
    assert migration.THRESHOLDS == rt.THRESHOLDS
    assert tuple(sorted(migration.PERIOD_DAYS, reverse=True)) == rt.PERIOD_DAYS


async def test_bucket_floors_match_the_sql_function(db_url):
    for kind in (0, 2):
        floors = rt.THRESHOLDS[kind]
        probes = [-1.0, 0.0, floors[1], floors[5], floors[5] * (1 - 1e-15), floors[-1], floors[-1] * 10]
        rows = await postgres.fetch(
            db_url,
            'SELECT v, "response_time_bucket"($1, v) AS b FROM unnest($2::float8[]) AS v',
            kind,
            probes,
        )
        for row in rows:
            bucket = row["b"]
            assert rt.bucket_floor(kind, bucket) <= row["v"], (kind, row)
            if bucket < len(floors):
                assert row["v"] < floors[bucket], (kind, row)


def test_period_rows_are_added_up_per_group_bucket_by_bucket():
    """``_added_counts`` (each row's counts placed by its first bucket, with its sign) equals adding
    each row's counts one by one, with empty rows, zeros inside and at either end, rows at the last
    bucket and subtracted rows."""
    import random

    generator = random.Random(20)
    buckets = 12
    rows_per_group = [3, 0, 1, 4, 2]
    expected = [[0] * buckets for _ in rows_per_group]
    parts, counts = b"", b""
    for group, rows in enumerate(rows_per_group):
        for _row in range(rows):
            low = generator.randrange(buckets)
            length = generator.randrange(buckets - low + 1)  # 0: a row with no counts
            values = [generator.choice([0, 0, 1, 7, 2**31 - 1]) for _ in range(length)]
            sign = generator.choice([1, 1, -1])  # a subtracted row (signed_day_tiling)
            for place, value in enumerate(values):
                expected[group][low + place] += sign * value
            parts += low.to_bytes(4, "big") + length.to_bytes(4, "big") + sign.to_bytes(4, "big", signed=True)
            counts += b"".join(value.to_bytes(4, "big") for value in values)
    added = rt._added_counts(buckets, rows_per_group, parts, counts)
    assert added.tolist() == expected


def test_signed_tilings_cover_each_day_once_in_no_more_rows():
    """``signed_day_tiling``'s ranges, added with their signs, count every day of ``[low, high)`` once and
    no other day, in at most as many period rows as ``day_tiling``'s, each range on its period's grid."""
    import random

    generator = random.Random(64)
    cases = [(0, 0), (5, 6), (-3, 130), (20430, 20794), (20767, 20796), (1, 63), (-700000, 2900000)]
    cases += [
        (a, a + generator.randrange(1, 800)) for a in (generator.randrange(-5000, 5000) for _ in range(300))
    ]
    for low, high in cases:
        signed = rt.signed_day_tiling(low, high)
        net: dict[int, int] = {}
        for days, start, end, sign in signed:
            assert start % days == 0 and end % days == 0 and start < end, (low, high, signed)
            for day in range(start, end):
                net[day] = net.get(day, 0) + sign
        assert {day for day, n in net.items() if n} == set(range(low, high)), (low, high, signed)
        assert all(n in (0, 1) for n in net.values()), (low, high, signed)
        plain = rt.day_tiling(low, high)
        assert rt._rows(signed) <= rt._rows([(*r, 1) for r in plain]), (low, high)
