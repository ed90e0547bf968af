"""The hourly figures (migration 0025) give exactly the direct computations' answers, after every kind of change."""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

from sqlalchemy import text

from nephthys.stats import daily, feedback, hourly
from nephthys.stats.overview import window_stats
from tests.api.data import add_ticket, add_user
from tests.support import postgres

H = timedelta(hours=1)
ZONES = [
    ZoneInfo("UTC"),
    ZoneInfo("America/New_York"),  # 23- and 25-hour days
    ZoneInfo("Asia/Kolkata"),  # +05:30: every edge cuts an hour
    ZoneInfo("Australia/Lord_Howe"),  # +10:30/+11: a half-hour daylight-saving change
    ZoneInfo("Pacific/Chatham"),  # +12:45/+13:45
    ZoneInfo("Australia/Adelaide"),  # +10:30/+09:30: cut hours on both sides of its change on 5 April
    ZoneInfo("Asia/Kathmandu"),  # +05:45
]
TABLES = ('"TicketHourFigures"', '"TicketClosedByPeriod"', '"TicketHourDurations"', '"FeedbackByPeriod"')


def utc(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=UTC)


# Tickets over 2026-03-25 .. 2026-04-12 (Lord Howe and Chatham leave daylight saving on 5 April,
# New York joined it on 8 March), at odd instants, with every status and a few odd rows.
TICKETS_SQL = """
INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "assignedToId", "assignedAt",
                      "closedById", "closedAt", "createdAt", "lastMsgAt")
SELECT 'q', 'd', s.status::"TicketStatus", 'bulk.' || n, CAST(:author AS integer),
       CASE WHEN s.assigned THEN (ARRAY[CAST(:h1 AS integer), CAST(:h2 AS integer)])[1 + n % 2] END,
       CASE WHEN s.assigned THEN s.created + (n % 97) * interval '3 minutes 7.013 seconds' END,
       CASE WHEN s.status = 'CLOSED' THEN (ARRAY[CAST(:h1 AS integer), CAST(:h2 AS integer), CAST(:h3 AS integer)])[1 + n % 3] END,
       CASE WHEN s.status = 'CLOSED' THEN s.created + (n % 53) * interval '41 minutes 3.001 seconds' END,
       s.created, s.created
FROM generate_series(1, 600) AS n,
     LATERAL (SELECT timestamptz '2026-03-25 00:00Z' + n * interval '43 minutes 17.321 seconds' AS created,
                     (ARRAY['OPEN', 'IN_PROGRESS', 'CLOSED', 'CLOSED', 'CLOSED'])[1 + n % 5] AS status,
                     n % 5 <> 0 AS assigned) s
"""


async def _compare(connection, label: str) -> None:
    """Every figure both ways, for windows and days in every zone."""
    windows = [
        (utc(2026, 3, 20), utc(2026, 4, 20)),
        (utc(2026, 3, 27, 10, 17, 3), utc(2026, 4, 5, 13, 2, 59)),
        (utc(2026, 3, 27, 10, 17, 3), utc(2026, 3, 27, 10, 59, 3)),  # inside one hour
        (utc(2026, 3, 27, 10, 17, 3), utc(2026, 3, 27, 11, 0)),
        (utc(2026, 3, 27), utc(2026, 4, 2)),  # whole days
        (utc(1970, 1, 1), utc(2026, 4, 3, 7, 30)),  # open since
        (utc(2026, 4, 1, 0, 0, 0, 1000), utc(2026, 4, 1, 0, 0, 0, 1000)),  # empty
        (utc(2026, 3, 29, 23, 59), utc(2026, 5, 1, 0, 1)),
    ]
    for start, end in windows:
        assert await hourly.range_stats(connection, start, end) == await window_stats(
            connection, start, end
        ), (
            label,
            start,
            end,
        )
    for zone in ZONES:
        for first, last in [(date(2026, 3, 24), date(2026, 4, 14)), (date(2026, 4, 4), date(2026, 4, 6))]:
            edges = daily.local_day_edges(first, last, zone)
            direct = await daily._computed_days(connection, edges)
            fast = await hourly.days_from_hours(connection, edges)
            # The same floats, not merely close ones.
            assert fast == direct, (label, zone.key, first)


async def _rebuilt_equals_kept(db_url: str) -> None:
    """What the triggers kept equals a recount from "Ticket" (zero rows aside)."""
    queries = {
        '"TicketHourFigures"': """SELECT * FROM "TicketHourFigures" WHERE
            ("createdOpen", "createdInProgress", "createdClosed", "createdClosedDated", "hangCount", "hangSumMs",
             "hangUnresolvedCount", "hangUnresolvedSumMs", "resolutionCount", "resolutionSumMs", "closedAny",
             "closedNowClosed", "closedNowClosedRated", "assignedInProgress")
            <> (0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0) ORDER BY 1""",
        '"TicketClosedByPeriod"': 'SELECT * FROM "TicketClosedByPeriod" WHERE "count" <> 0 ORDER BY 1, 2, 3',
        '"FeedbackByPeriod"': 'SELECT * FROM "FeedbackByPeriod" WHERE "count" <> 0 ORDER BY 1, 2, 3, 4',
        '"TicketHourDurations"': """SELECT * FROM "TicketHourDurations"
            WHERE length("hangMs") + length("resolutionMs") > 0 ORDER BY 1""",
    }
    kept = {table: [tuple(r) for r in await postgres.fetch(db_url, sql)] for table, sql in queries.items()}
    await postgres.execute(db_url, 'SELECT "ticket_figures_rebuild"()')
    rebuilt = {table: [tuple(r) for r in await postgres.fetch(db_url, sql)] for table, sql in queries.items()}
    for table in queries:
        assert kept[table] == rebuilt[table], (table, set(kept[table]) ^ set(rebuilt[table]))


async def test_windows_and_days_equal_the_direct_computation_after_every_change(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    h1, h2, h3 = [await add_user(db_url, f"UHELPER{i}", helper=True) for i in (1, 2, 3)]
    await connection.execute(text(TICKETS_SQL), {"author": author, "h1": h1, "h2": h2, "h3": h3})
    await connection.commit()
    # Odd rows: closed before created, closed without a closedAt, a closure stamped in the future.
    odd = [
        await add_ticket(db_url, opened_by=author, created_at=utc(2026, 4, 2, 10, 30), status="CLOSED",
                         closed_by=h1, closed_at=utc(2026, 4, 1, 22, 15)),
        await add_ticket(db_url, opened_by=author, created_at=utc(2026, 4, 3, 9, 5), status="CLOSED",
                         closed_by=None, closed_at=None),
        await add_ticket(db_url, opened_by=author, created_at=utc(2026, 4, 3, 9, 6), status="CLOSED",
                         closed_by=h2, closed_at=utc(2027, 1, 1)),
    ]  # fmt: skip
    await _compare(connection, "loaded")
    await _rebuilt_equals_kept(db_url)

    ids = [r["id"] for r in await postgres.fetch(db_url, 'SELECT id FROM "Ticket" ORDER BY id')]
    changes = [
        f'UPDATE "Ticket" SET "lastMsgAt" = now() WHERE id = {ids[5]}',  # moves no figure
        # assigned, then closed by a helper (as the lifecycle does)
        f"""UPDATE "Ticket" SET status = 'IN_PROGRESS', "assignedToId" = {h1},
            "assignedAt" = "createdAt" + interval '17 minutes' WHERE id = {ids[0]}""",
        f"""UPDATE "Ticket" SET status = 'CLOSED', "closedById" = {h2},
            "closedAt" = "createdAt" + interval '2 hours 3 minutes' WHERE id = {ids[0]}""",
        # reopened: the closure cleared, the assignment kept
        f"""UPDATE "Ticket" SET status = 'OPEN', "closedAt" = NULL, "closedById" = NULL,
            "reopenedById" = {author} WHERE id = {ids[2]}""",
        f'DELETE FROM "Ticket" WHERE id = {ids[20]}',
        f'UPDATE "Ticket" SET "createdAt" = "createdAt" + interval \'3 days 30 minutes\' WHERE id = {ids[30]}',
        f'UPDATE "Ticket" SET "closedAt" = "closedAt" - interval \'1 day\' WHERE id = {odd[0]}',
        # many tickets in one statement, some to the same duration twice
        """UPDATE "Ticket" SET "assignedAt" = "createdAt" + interval '5 minutes'
           WHERE id % 7 = 0 AND "assignedAt" IS NOT NULL""",
        'DELETE FROM "Ticket" WHERE id % 11 = 0',
    ]
    for change in changes:
        await postgres.execute(db_url, change)
        await _compare(connection, change)
    await add_ticket(db_url, opened_by=author, created_at=utc(2026, 4, 5, 12, 0, 0, 1000), status="IN_PROGRESS",
                     assigned_to=h3, assigned_at=utc(2026, 4, 5, 12, 30))  # fmt: skip
    await _compare(connection, "inserted")
    await _rebuilt_equals_kept(db_url)


async def test_a_transaction_of_several_statements_and_a_rollback(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    helper = await add_user(db_url, "UHELPER", helper=True)
    created = utc(2026, 4, 4, 12, 10)
    ticket = await add_ticket(db_url, opened_by=author, created_at=created)
    await postgres.execute(
        db_url,
        f"""BEGIN;
        UPDATE "Ticket" SET status = 'IN_PROGRESS', "assignedToId" = {helper}, "assignedAt" = '2026-04-04 12:20Z'
            WHERE id = {ticket};
        UPDATE "Ticket" SET status = 'CLOSED', "closedById" = {helper}, "closedAt" = '2026-04-04 13:20Z'
            WHERE id = {ticket};
        COMMIT;""",
    )
    await postgres.execute(
        db_url,
        f"""BEGIN; UPDATE "Ticket" SET "closedAt" = '2026-04-09 13:20Z' WHERE id = {ticket}; ROLLBACK;""",
    )
    await _compare(connection, "two statements, one rolled back")
    await _rebuilt_equals_kept(db_url)


async def test_truncate_empties_the_hourly_figures(db_url):
    author = await add_user(db_url, "UAUTHOR")
    await add_ticket(db_url, opened_by=author, created_at=utc(2026, 4, 4, 12, 10))
    await postgres.execute(db_url, 'TRUNCATE "Ticket" CASCADE')
    for table in TABLES:
        assert (await postgres.fetch(db_url, f"SELECT count(*) AS n FROM {table}"))[0]["n"] == 0


def test_a_tiling_covers_the_hours_exactly_with_the_longest_periods():
    start, end = utc(2025, 12, 30, 5), utc(2026, 4, 2, 7)
    ranges = hourly.tiling(start, end)
    assert len(ranges) <= 5
    covered = sorted((low, high) for _, low, high in ranges)
    assert covered[0][0] == start and covered[-1][1] == end
    assert all(a[1] == b[0] for a, b in zip(covered, covered[1:], strict=False))
    for seconds, low, high in ranges:
        period = timedelta(seconds=seconds)
        assert (low - hourly.EPOCH) % period == timedelta(0) and (high - low) % period == timedelta(0)
    assert hourly.tiling(utc(2026, 1, 1, 5), utc(2026, 1, 1, 9)) == [
        (3600, utc(2026, 1, 1, 5), utc(2026, 1, 1, 9))
    ]


FEEDBACK_WINDOWS = [
    (None, None),
    (utc(2026, 3, 28, 10, 17, 3), None),
    (None, utc(2026, 4, 3, 7, 30)),
    (utc(2026, 3, 27, 10, 17, 3), utc(2026, 4, 5, 13, 2, 59)),
    (utc(2026, 3, 30, 10, 17, 3), utc(2026, 3, 30, 10, 58)),
    (utc(2026, 3, 1), utc(2026, 5, 1)),
]


async def _compare_feedback(connection, helpers: list[str], label: str) -> None:
    for since, until in FEEDBACK_WINDOWS:
        fast = await feedback.feedback_stats(connection, since=since, until=until)
        direct = await feedback.direct_feedback_stats(connection, since=since, until=until)
        assert fast == direct, (label, since, until)
        for slack_id in helpers:
            assert await feedback.helper_ratings(
                connection, slack_id=slack_id, since=since, until=until
            ) == await feedback.direct_helper_ratings(
                connection, slack_id=slack_id, since=since, until=until
            ), (
                label,
                slack_id,
                since,
                until,
            )


async def test_feedback_sums_equal_the_direct_computation_after_every_change(connection, db_url):
    author = await add_user(db_url, "UAUTHOR")
    other = await add_user(db_url, "UOTHER")
    h1, h2, h3 = [await add_user(db_url, f"UHELPER{i}", helper=True) for i in (1, 2, 3)]
    helpers = ["UHELPER1", "UHELPER2", "UHELPER3", "UNOBODY"]
    await connection.execute(text(TICKETS_SQL), {"author": author, "h1": h1, "h2": h2, "h3": h3})
    await connection.commit()
    # Two askers rate some tickets (closed ones, and a few open ones: reopened after rating).
    await postgres.execute(
        db_url,
        f"""INSERT INTO "Feedback" ("ticketId", "createdById", rating, "createdAt")
            SELECT t.id, u.id, (ARRAY['NOT_GOOD', 'OKAY', 'GREAT'])[1 + (t.id + u.id) % 3]::"FeedbackRating",
                   coalesce(t."closedAt", t."createdAt") + (t.id % 5) * interval '13 minutes 1.5 seconds'
            FROM "Ticket" t, "User" u
            WHERE u.id IN ({author}, {other}) AND (t.id + u.id) % 3 <> 0 AND t.id % 4 <> 0""",
    )
    await _compare_feedback(connection, helpers, "loaded")
    await _rebuilt_equals_kept(db_url)
    closed = [
        r["id"]
        for r in await postgres.fetch(
            db_url, """SELECT id FROM "Ticket" WHERE status = 'CLOSED' ORDER BY id"""
        )
    ]
    unrated = [
        r["id"]
        for r in await postgres.fetch(
            db_url,
            """SELECT id FROM "Ticket" t WHERE status = 'CLOSED'
        AND NOT EXISTS (SELECT 1 FROM "Feedback" f WHERE f."ticketId" = t.id) ORDER BY id""",
        )
    ]
    changes = [
        # a closed ticket's first rating, then a replaced one (a later submission takes its own time)
        f"""INSERT INTO "Feedback" ("ticketId", "createdById", rating, "createdAt")
            VALUES ({unrated[0]}, {author}, 'GREAT', '2026-04-02 10:00:00.123Z')""",
        f"""UPDATE "Feedback" SET rating = 'NOT_GOOD', "createdAt" = '2026-04-06 11:30Z'
            WHERE "ticketId" = {unrated[0]}""",
        # reopened: its feedback counts for nobody; closed again by another helper
        f"""UPDATE "Ticket" SET status = 'OPEN', "closedAt" = NULL, "closedById" = NULL WHERE id = {closed[3]}""",
        f"""UPDATE "Ticket" SET status = 'CLOSED', "closedById" = {h3}, "closedAt" = '2026-04-07 09:15Z'
            WHERE id = {closed[3]}""",
        f'UPDATE "Ticket" SET "closedById" = {h1} WHERE id = {closed[4]}',
        f'DELETE FROM "Feedback" WHERE "ticketId" = {closed[5]}',  # its last rating gone
        f'DELETE FROM "Feedback" WHERE "ticketId" = {closed[6]} AND "createdById" = {author}',
        f'DELETE FROM "Ticket" WHERE id = {closed[7]}',  # its feedback goes with it
        'DELETE FROM "Ticket" WHERE id % 13 = 0',
        f'UPDATE "Ticket" SET "closedAt" = "closedAt" + interval \'2 days 10 minutes\' WHERE id = {closed[8]}',
    ]
    for change in changes:
        await postgres.execute(db_url, change)
        await _compare_feedback(connection, helpers, change)
    await _rebuilt_equals_kept(db_url)
    await connection.commit()  # TRUNCATE waits for every open transaction that read "Feedback"
    await postgres.execute(db_url, 'TRUNCATE "Feedback"')
    await _compare_feedback(connection, helpers, "no feedback")
    await _rebuilt_equals_kept(db_url)
