"""The daily series and the distributions, worked out by hand on hand-built tickets."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import text

from nephthys.stats.daily import daily_stats, local_day_edges
from nephthys.stats.distribution import BUCKET_EDGES_MINUTES, duration_distribution
from tests.api.data import add_ticket, add_user

NEW_YORK = ZoneInfo("America/New_York")
MS = timedelta(milliseconds=1)
MIN = timedelta(minutes=1)


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


def test_local_days_are_23_and_25_hours_long_when_the_clocks_change():
    spring = local_day_edges(date(2026, 3, 7), date(2026, 3, 9), NEW_YORK)
    assert spring == [utc(2026, 3, 7, 5), utc(2026, 3, 8, 5), utc(2026, 3, 9, 4), utc(2026, 3, 10, 4)]
    autumn = local_day_edges(date(2026, 11, 1), date(2026, 11, 1), NEW_YORK)
    assert autumn == [utc(2026, 11, 1, 4), utc(2026, 11, 2, 5)]
    # Santiago skips midnight on 2026-09-06 (00:00 -> 01:00): the day starts at the first instant that exists.
    [start, end] = local_day_edges(date(2026, 9, 6), date(2026, 9, 6), ZoneInfo("America/Santiago"))
    assert start == utc(2026, 9, 6, 4) and end - start == timedelta(hours=23)


async def test_day_edges_in_a_zone_with_a_daylight_saving_change(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    t = lambda at, **kw: add_ticket(db_url, opened_by=author, created_at=at, **kw)  # noqa: E731
    # Local 2026-03-07 23:59:59.999 EST, then the first instant of the 23-hour 2026-03-08.
    await t(utc(2026, 3, 8, 4, 59, 59, 999000), status="CLOSED", closed_at=utc(2026, 3, 9, 4))
    await t(utc(2026, 3, 8, 5))
    # Local 2026-03-08 23:59:59.999 EDT: still the 8th, though five hours behind UTC it would be the 9th.
    await t(utc(2026, 3, 9, 3, 59, 59, 999000), status="CLOSED", closed_at=utc(2026, 3, 9, 3, 59, 59, 999000))
    await t(utc(2026, 3, 9, 4))  # local midnight of the 9th
    await t(utc(2026, 3, 10, 4))  # the first instant after the series
    days = await daily_stats(connection, date(2026, 3, 7), date(2026, 3, 9), NEW_YORK)
    assert [d["date"] for d in days] == ["2026-03-07", "2026-03-08", "2026-03-09"]
    assert [d["new_tickets"] for d in days] == [1, 2, 1]
    # The first closure is at the 9th's first instant; the other at the 8th's last.
    assert [d["closed_tickets"] for d in days] == [0, 1, 1]
    # End of the 7th: the first ticket (closed later). End of the 8th: it (closed exactly at that end,
    # so not before it) and the 8th's first; the 8th's last was closed before the end.
    assert [d["unresolved_at_end"] for d in days] == [1, 2, 2]


async def test_empty_days_have_zeros_and_null_percentiles(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    await add_ticket(db_url, opened_by=author, created_at=utc(2026, 1, 1, 12))
    days = await daily_stats(connection, date(2026, 1, 2), date(2026, 1, 4), ZoneInfo("UTC"))
    empty = {"p50": None, "p90": None, "p95": None}
    assert days == [
        {"date": f"2026-01-0{n}", "new_tickets": 0, "closed_tickets": 0, "unresolved_at_end": 1,
         "hang_time_minutes": empty, "resolution_time_minutes": empty}
        for n in (2, 3, 4)
    ]  # fmt: skip
    # Nothing at all before the first ticket.
    [before] = await daily_stats(connection, date(2025, 12, 31), date(2025, 12, 31), ZoneInfo("UTC"))
    assert (before["new_tickets"], before["unresolved_at_end"]) == (0, 0)


async def test_percentiles_interpolate_between_the_closest_ranks(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    day = utc(2026, 2, 2, 9)
    for hang in (40, 10, 30, 20):  # minutes; unsorted on purpose
        await add_ticket(db_url, opened_by=author, created_at=day, status="IN_PROGRESS", assigned_to=helper,
                         assigned_at=day + hang * MIN)  # fmt: skip
    for resolution in (60, 120):
        await add_ticket(db_url, opened_by=author, created_at=day, status="CLOSED", closed_by=helper,
                         closed_at=day + resolution * MIN)  # fmt: skip
    await add_ticket(db_url, opened_by=author, created_at=day)  # neither: counts as new only
    [entry] = await daily_stats(connection, date(2026, 2, 2), date(2026, 2, 2), ZoneInfo("UTC"))
    assert entry["new_tickets"] == 7 and entry["closed_tickets"] == 2 and entry["unresolved_at_end"] == 5
    # Hang times 10, 20, 30, 40: rank 0.5·3 = 1.5 → 25; 0.9·3 = 2.7 → 30 + 0.7·10; 0.95·3 = 2.85 → 38.5.
    assert entry["hang_time_minutes"] == pytest.approx({"p50": 25.0, "p90": 37.0, "p95": 38.5}, abs=1e-9)
    # Resolution times 60, 120: 90, 60 + 0.9·60 = 114, 117.
    assert entry["resolution_time_minutes"] == pytest.approx(
        {"p50": 90.0, "p90": 114.0, "p95": 117.0}, abs=1e-9
    )
    assert all(isinstance(v, float) for v in entry["hang_time_minutes"].values())


async def test_reopened_tickets_count_by_their_closedAt_now(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    d1, d2, d3 = utc(2026, 4, 1), utc(2026, 4, 2), utc(2026, 4, 3)
    # Closed on day 2, then reopened: reopening clears closedAt, so it was never closed, as far as figures go.
    await add_ticket(db_url, opened_by=author, created_at=d1 + 3 * MIN, status="OPEN", reopened_by=author)
    # Reopened and closed again on day 3: closed on day 3 only.
    await add_ticket(db_url, opened_by=author, created_at=d1 + 5 * MIN, status="CLOSED", reopened_by=author,
                     closed_by=helper, closed_at=d3 + 7 * MIN)  # fmt: skip
    # Before the series: one still open, one closed before the series began, one closed in it.
    await add_ticket(db_url, opened_by=author, created_at=d1 - timedelta(days=9))
    await add_ticket(db_url, opened_by=author, created_at=d1 - timedelta(days=9), status="CLOSED",
                     closed_by=helper, closed_at=d1 - timedelta(days=8))  # fmt: skip
    await add_ticket(db_url, opened_by=author, created_at=d1 - timedelta(days=9), status="CLOSED",
                     closed_by=helper, closed_at=d2 - MS)  # fmt: skip
    # Created exactly at the end of day 2: day 3's.
    await add_ticket(db_url, opened_by=author, created_at=d3)
    days = await daily_stats(connection, date(2026, 4, 1), date(2026, 4, 3), ZoneInfo("UTC"))
    assert [d["new_tickets"] for d in days] == [2, 0, 1]
    assert [d["closed_tickets"] for d in days] == [1, 0, 1]
    assert [d["unresolved_at_end"] for d in days] == [3, 3, 3]
    assert days[0]["resolution_time_minutes"]["p50"] == pytest.approx(2 * 24 * 60 + 2)


async def test_distribution_buckets_take_their_edge_and_percentiles_interpolate(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    start = utc(2026, 5, 1)
    hangs = [timedelta(0), 5 * MIN, 5 * MIN + MS, 15 * MIN, 10080 * MIN, 10080 * MIN + MS, 20000 * MIN]
    for index, hang in enumerate(hangs):
        created = start + index * timedelta(hours=1)
        await add_ticket(db_url, opened_by=author, created_at=created, status="IN_PROGRESS",
                         assigned_to=helper, assigned_at=created + hang)  # fmt: skip
    await add_ticket(db_url, opened_by=author, created_at=start)  # not assigned: not counted
    result = await duration_distribution(connection, "hang")
    assert result["metric"] == "hang" and result["count"] == 7
    counts = {bucket["up_to_minutes"]: bucket["count"] for bucket in result["buckets"]}
    assert [bucket["up_to_minutes"] for bucket in result["buckets"]] == [*BUCKET_EDGES_MINUTES, None]
    assert counts == {5: 2, 15: 2, 30: 0, 60: 0, 120: 0, 240: 0, 480: 0, 1440: 0, 2880: 0, 10080: 1, None: 2}
    # Sorted minutes: 0, 5, 5.0000167, 15, 10080, 10080.0000167, 20000. p50 is rank 3 → 15;
    # p75 rank 4.5 → 10080 + 0.5·(1/60000); p90 rank 5.4 → 10080.0000167 + 0.4·(20000 − 10080.0000167).
    tiny = 1 / 60000
    assert result["percentiles"] == pytest.approx(
        {
            "p50": 15.0,
            "p75": 10080 + 0.5 * tiny,
            "p90": 10080 + tiny + 0.4 * (20000 - 10080 - tiny),
            "p95": 10080 + tiny + 0.7 * (20000 - 10080 - tiny),
            "p99": 10080 + tiny + 0.94 * (20000 - 10080 - tiny),
        },
        abs=1e-6,
    )
    # [since, until): the first three tickets only (created at 0h, 1h, 2h; until is the 3h ticket's instant).
    window = await duration_distribution(connection, "hang", start, start + timedelta(hours=3))
    assert window["count"] == 3 and window["percentiles"]["p50"] == pytest.approx(5.0)
    nothing = await duration_distribution(connection, "resolution")
    assert nothing["count"] == 0 and set(nothing["percentiles"].values()) == {None}
    assert {bucket["count"] for bucket in nothing["buckets"]} == {0}


async def _all_time_and_sorted(connection, metric: str) -> tuple[dict, dict]:
    """The all-time answer (kept counts and the ordered index) and the same tickets by sorting every duration."""
    everything = await duration_distribution(connection, metric, utc(1970, 1, 1), utc(3000, 1, 1))
    return await duration_distribution(connection, metric), everything


async def test_all_time_distribution_follows_every_change_exactly(connection, db_url):
    from tests.support import postgres

    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    start = utc(2026, 5, 1)
    durations = [-MS, timedelta(0), MS, MIN, MIN + MS, 5 * MIN, 59 * MIN + 59_999 * MS, 10080 * MIN,
                 10080 * MIN + MS, 10080 * MIN + timedelta(hours=1), 40 * timedelta(days=1)]  # fmt: skip
    ids = []
    for index, duration in enumerate(durations):
        created = start + index * timedelta(minutes=7)
        ids.append(
            await add_ticket(db_url, opened_by=author, created_at=created, status="CLOSED", assigned_to=helper,
                             assigned_at=created + duration / 3, closed_by=helper, closed_at=created + duration)
        )  # fmt: skip
    for metric in ("hang", "resolution"):
        fast, sorted_ = await _all_time_and_sorted(connection, metric)
        assert fast == sorted_ and fast["count"] == len(durations)

    # Reopen one, move another's closure by a millisecond across a bin edge, unassign a third,
    # delete a fourth, and add many in one statement: the kept counts follow each.
    await postgres.execute(
        db_url, f'UPDATE "Ticket" SET status = \'OPEN\', "closedAt" = NULL WHERE id = {ids[3]}'
    )
    await postgres.execute(
        db_url,
        f'UPDATE "Ticket" SET "closedAt" = "closedAt" + interval \'1 millisecond\' WHERE id = {ids[6]}',
    )
    await postgres.execute(db_url, f'UPDATE "Ticket" SET "assignedAt" = NULL WHERE id = {ids[8]}')
    await postgres.execute(db_url, f'DELETE FROM "Ticket" WHERE id = {ids[9]}')
    await postgres.execute(
        db_url,
        f"""INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "createdAt",
               "assignedAt", "closedAt")
            SELECT 'q', 'd', 'CLOSED', 'bulk.' || n, {author}, timestamptz '2026-06-01' + n * interval '1 hour',
                   timestamptz '2026-06-01' + n * interval '1 hour' + (n % 97) * interval '1 minute',
                   timestamptz '2026-06-01' + n * interval '1 hour' + n * interval '13 minutes 7 seconds'
            FROM generate_series(1, 400) AS n""",
    )
    for metric in ("hang", "resolution"):
        fast, sorted_ = await _all_time_and_sorted(connection, metric)
        assert fast == sorted_
    assert (await _all_time_and_sorted(connection, "resolution"))[0]["count"] == len(durations) - 2 + 400

    # A recount from the tickets finds what the triggers kept.
    counts = 'SELECT metric, bin, "count" FROM "TicketDurationCount" WHERE "count" <> 0 ORDER BY 1, 2'
    kept = [tuple(row) for row in await postgres.fetch(db_url, counts)]
    await postgres.execute(db_url, "SELECT ticket_totals_rebuild()")
    assert [tuple(row) for row in await postgres.fetch(db_url, counts)] == kept
    assert await postgres.fetch(db_url, 'SELECT * FROM "TicketDurationPending"') == []

    await connection.rollback()  # its transaction's read lock would hold the TRUNCATE back
    await postgres.execute(db_url, 'TRUNCATE "Ticket" CASCADE')
    fast, sorted_ = await _all_time_and_sorted(connection, "hang")
    assert fast == sorted_ and fast["count"] == 0


async def test_kept_days_are_forgotten_exactly_when_a_ticket_change_touches_them(db_url):
    """Each series is read through "DailyFigures" (as the API does) and must equal a fresh computation."""
    from nephthys.database.engine import create_engine
    from tests.support import postgres

    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    first, last = date(2026, 3, 1), date(2026, 3, 20)
    ids = []
    for index in range(40):
        created = datetime(2026, 3, 1, tzinfo=NEW_YORK) + index * timedelta(hours=11, minutes=7)
        closed = created + (index % 5) * timedelta(hours=19) if index % 3 else None
        ids.append(
            await add_ticket(db_url, opened_by=author, created_at=created, status="CLOSED" if closed else "OPEN",
                             assigned_to=helper, assigned_at=created + (index % 4) * 7 * MIN,
                             closed_by=helper if closed else None, closed_at=closed)
        )  # fmt: skip
    engine = create_engine(db_url, pool_size=1)
    kept_days = 'SELECT count(*) AS n FROM "DailyFigures"'

    async def through_kept_days() -> list[dict]:
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                return await daily_stats(connection, first, last, NEW_YORK, remember=True)

    async def fresh() -> list[dict]:
        async with engine.connect() as connection:
            return await daily_stats(connection, first, last, NEW_YORK)

    try:
        assert await through_kept_days() == await fresh()
        assert (await postgres.fetch(db_url, kept_days))[0]["n"] == 20
        assert await through_kept_days() == await fresh()  # now read from the kept days
        changes = [
            f'UPDATE "Ticket" SET "lastMsgAt" = now() WHERE id = {ids[5]}',  # touches no day
            f'UPDATE "Ticket" SET "assignedAt" = "assignedAt" + interval \'3 minutes\' WHERE id = {ids[7]}',
            f'UPDATE "Ticket" SET status = \'OPEN\', "closedAt" = NULL WHERE id = {ids[4]}',  # reopened
            f"UPDATE \"Ticket\" SET status = 'CLOSED', \"closedAt\" = timestamptz '2026-03-18 12:00Z' "
            f"WHERE id = {ids[3]}",  # an old one closes
            f'UPDATE "Ticket" SET "closedAt" = "closedAt" - interval \'2 days\' WHERE id = {ids[10]}',
            f'UPDATE "Ticket" SET "createdAt" = "createdAt" + interval \'5 days\' WHERE id = {ids[1]}',
            f'DELETE FROM "Ticket" WHERE id = {ids[20]}',
        ]
        for change in changes:
            before = (await postgres.fetch(db_url, kept_days))[0]["n"]
            await postgres.execute(db_url, change)
            after = (await postgres.fetch(db_url, kept_days))[0]["n"]
            assert await through_kept_days() == await fresh(), change
            if change is changes[0]:
                assert after == before == 20  # nothing to forget
            else:
                assert after < before, change
        await add_ticket(db_url, opened_by=author, created_at=datetime(2026, 3, 9, 8, tzinfo=NEW_YORK))
        assert await through_kept_days() == await fresh()
        # A statement changing over a thousand tickets forgets every day from its earliest instant on.
        await postgres.execute(
            db_url,
            f"""INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "createdAt", "closedAt")
                SELECT 'q', 'd', 'CLOSED', 'bulk.' || n, {author},
                       timestamptz '2026-03-12 00:00Z' + n * interval '3 minutes',
                       timestamptz '2026-03-12 00:00Z' + n * interval '4 minutes'
                FROM generate_series(1, 1100) AS n""",
        )
        assert await through_kept_days() == await fresh()

        # A change that commits after a reader's snapshot: the reader's days are not kept.
        async with engine.connect() as connection:
            connection = await connection.execution_options(isolation_level="REPEATABLE READ")
            async with connection.begin():
                await postgres.execute(db_url, 'DELETE FROM "DailyFigures"')
                await connection.execute(text('SELECT 1 FROM "Ticket" LIMIT 1'))  # the snapshot
                await postgres.execute(db_url, f'UPDATE "Ticket" SET "closedAt" = now() WHERE id = {ids[0]}')
                await daily_stats(connection, first, last, NEW_YORK, remember=True)
        assert (await postgres.fetch(db_url, kept_days))[0]["n"] == 0
        assert await through_kept_days() == await fresh()
    finally:
        await engine.dispose()


async def test_days_before_any_ticket_are_zeros_without_a_query_and_equal_the_full_computation(
    db_url, connection
):
    """Issue 18: far days are computed, not stored; the ones before the data need no statement at all."""
    from nephthys.stats import daily

    author = await add_user(db_url, "UAUTHOR")
    # A closure stamped before any creation (imported data): the first instant any ticket has.
    await add_ticket(db_url, opened_by=author, created_at=datetime(2026, 3, 10, 15, tzinfo=UTC), status="CLOSED",
                     closed_at=datetime(2026, 3, 5, 9, 30, tzinfo=UTC))  # fmt: skip
    await add_ticket(db_url, opened_by=author, created_at=datetime(2026, 3, 7, 1, tzinfo=UTC))
    first, last = date(2026, 2, 20), date(2026, 3, 12)
    edges = local_day_edges(first, last, NEW_YORK)
    statements = []
    real = daily.days_from_hours  # what daily_stats computes the days it reads with (migration 0025)

    async def counted(executor, run_edges):
        statements.append((run_edges[0], len(run_edges) - 1))
        return await real(executor, run_edges)

    full = await daily._computed_days(connection, edges)  # one statement over every day, as before
    daily.days_from_hours = counted
    try:
        series = await daily_stats(connection, first, last, NEW_YORK)
        far = await daily_stats(connection, date(1500, 1, 1), date(1500, 12, 31), NEW_YORK)
    finally:
        daily.days_from_hours = real
    assert [(d["new_tickets"], d["closed_tickets"], d["unresolved_at_end"]) for d in series] == [
        (f[0], f[1], f[2]) for f in full
    ]
    assert series == await daily_stats(connection, first, last, NEW_YORK, remember=False)
    assert series == await daily_stats(connection, first, last, NEW_YORK, from_hours=False)
    assert [d["date"] for d in series][13:15] == ["2026-03-05", "2026-03-06"]
    assert series[12]["unresolved_at_end"] == 0 and series[13]["closed_tickets"] == 1  # 5 March, New York
    # Only the days from the one holding the first instant on were read from the database.
    assert statements == [(edges[13], len(edges) - 1 - 13)]
    assert len(far) == 365 and all(
        (d["new_tickets"], d["closed_tickets"], d["unresolved_at_end"]) == (0, 0, 0)
        and d["hang_time_minutes"] == {"p50": None, "p90": None, "p95": None}
        for d in far
    )


async def test_two_storers_with_overlapping_snapshots_never_pass_the_cap(db_url):
    """Issue 18: several instances share the kept days' cap; a storer whose snapshot missed another's
    stored days stores nothing, so neither can count the room the other took."""
    from nephthys.database.engine import create_engine
    from tests.support import postgres

    author = await add_user(db_url, "UAUTHOR")
    for day in range(1, 32, 3):
        await add_ticket(db_url, opened_by=author, created_at=datetime(2026, 1, day, 12, tzinfo=UTC))
    engine = create_engine(db_url, pool_size=2)
    first, last = date(2026, 1, 2), date(2026, 1, 31)
    try:
        async with engine.connect() as one, engine.connect() as two:
            one = await one.execution_options(isolation_level="REPEATABLE READ")
            two = await two.execution_options(isolation_level="REPEATABLE READ")
            async with one.begin(), two.begin():
                for connection in (one, two):  # both snapshots taken before either stores
                    await connection.execute(text('SELECT count(*) FROM "DailyFigures"'))
                kept_one = await daily_stats(one, first, last, NEW_YORK, remember=True, kept_days_limit=40)
                await one.commit()
                kept_two = await daily_stats(
                    two, first, last, ZoneInfo("Asia/Tokyo"), remember=True, kept_days_limit=40
                )
            async with engine.connect() as fresh:
                assert kept_one == await daily_stats(fresh, first, last, NEW_YORK)
                assert kept_two == await daily_stats(fresh, first, last, ZoneInfo("Asia/Tokyo"))
        rows = await postgres.fetch(db_url, 'SELECT "zone", count(*) AS n FROM "DailyFigures" GROUP BY 1')
        assert {row["zone"]: row["n"] for row in rows} == {"America/New_York": 30}
    finally:
        await engine.dispose()
