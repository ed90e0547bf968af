"""The trigger-kept totals stay equal to a recount, and a remembered stats_v2 is reused only while exact."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from nephthys.stats.memo import RenderedStatsV2, StatsV2Memo
from nephthys.stats.overview import MessageLinks, stats_v2_raw
from tests.api.data import add_ticket, add_user
from tests.support import postgres

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LINKS = MessageLinks("https://hackclub.slack.com", "C0HELP0001")

TOTALS = 'SELECT * FROM "TicketTotals"'
PER_USER = 'SELECT "userId", "count" FROM "UserClosedCount" WHERE "count" <> 0 ORDER BY "userId"'


async def snapshot(url: str) -> tuple[dict, list]:
    totals = dict((await postgres.fetch(url, TOTALS))[0])
    totals.pop("version")
    return totals, [tuple(row) for row in await postgres.fetch(url, PER_USER)]


async def recount(url: str) -> tuple[dict, list]:
    await postgres.execute(url, "SELECT ticket_totals_rebuild()")
    return await snapshot(url)


async def version(url: str) -> int:
    return (await postgres.fetch(url, 'SELECT "version" FROM "TicketTotals"'))[0]["version"]


async def test_totals_follow_inserts_updates_deletes_and_truncate(db_url):
    helper = await add_user(db_url, "UHELPER", helper=True)
    author = await add_user(db_url, "UAUTHOR")
    # A bulk insert in one statement, as a loader would.
    await postgres.execute(
        db_url,
        """INSERT INTO "Ticket" (title, description, status, "msgTs", "openedById", "assignedToId",
               "assignedAt", "closedById", "closedAt", "createdAt")
           SELECT 't', 'd', (ARRAY['OPEN','IN_PROGRESS','CLOSED'])[1 + g % 3]::"TicketStatus", 'ts' || g, $2,
                  CASE WHEN g % 3 > 0 THEN $1::int END,
                  CASE WHEN g % 3 > 0 THEN $3::timestamptz + make_interval(mins => g) END,
                  CASE WHEN g % 3 = 2 THEN $1::int END,
                  CASE WHEN g % 3 = 2 THEN $3::timestamptz + make_interval(mins => 2 * g) END,
                  $3::timestamptz
           FROM generate_series(1, 300) g""",
        helper,
        author,
        NOW,
    )
    totals, per_user = await snapshot(db_url)
    assert totals["open"] == 100 and totals["inProgress"] == 100 and totals["closed"] == 100
    assert per_user == [(helper, 100)]
    assert (totals, per_user) == await recount(db_url)

    before = await version(db_url)
    # Reopen some (closure cleared), delete some, close some: each in one statement.
    await postgres.execute(
        db_url,
        """UPDATE "Ticket" SET status = 'OPEN', "closedAt" = NULL, "closedById" = NULL, "reopenedById" = $1
           WHERE id % 7 = 0 AND status = 'CLOSED'""",
        author,
    )
    await postgres.execute(db_url, 'DELETE FROM "Ticket" WHERE id % 11 = 0')
    await postgres.execute(
        db_url,
        """UPDATE "Ticket" SET status = 'CLOSED', "closedById" = $1, "closedAt" = "createdAt" + interval '1 day'
           WHERE status = 'IN_PROGRESS' AND id % 5 = 0""",
        author,
    )
    after = await snapshot(db_url)
    assert await version(db_url) > before
    assert after == await recount(db_url)
    assert dict(after[1])[author] > 0  # the author closed some of their own: counted per user

    # Deleting a user sets closedById to null (ON DELETE SET NULL): their count goes with it.
    await postgres.execute(
        db_url, 'UPDATE "Ticket" SET "openedById" = $1 WHERE "openedById" = $2', helper, author
    )
    await postgres.execute(db_url, 'DELETE FROM "User" WHERE id = $1', author)
    assert await snapshot(db_url) == await recount(db_url)

    await postgres.execute(db_url, 'TRUNCATE "Ticket" CASCADE')
    totals, per_user = await snapshot(db_url)
    assert set(totals.values()) == {1, 0}  # id 1, every total 0
    assert per_user == []


async def test_a_users_change_is_a_new_version(db_url):
    helper = await add_user(db_url, "UHELPER", helper=True)
    before = await version(db_url)
    await postgres.execute(db_url, 'UPDATE "User" SET helper = false WHERE id = $1', helper)
    assert await version(db_url) > before


async def test_the_memo_is_used_only_for_the_same_version_before_the_next_crossing(db_url, connection):
    author = await add_user(db_url, "UAUTHOR")
    # Leaves past_24h for past_24h_previous 5 minutes after NOW: the first crossing.
    await add_ticket(db_url, opened_by=author, created_at=NOW - timedelta(days=1) + timedelta(minutes=5))
    # Crosses later: 7-day edge in 2 hours.
    await add_ticket(db_url, opened_by=author, created_at=NOW - timedelta(days=7) + timedelta(hours=2))
    raw = await stats_v2_raw(connection, NOW)
    crossing = NOW + timedelta(minutes=5)
    assert raw.valid_until == crossing

    memo = StatsV2Memo()
    memo.remember(RenderedStatsV2.of(raw, LINKS))
    just_before = crossing - timedelta(microseconds=1)
    assert memo.lookup(raw.version, NOW) is not None
    assert memo.lookup(raw.version, just_before) is not None
    assert memo.lookup(raw.version, crossing) is None
    assert memo.lookup(raw.version, NOW - timedelta(microseconds=1)) is None  # before it was computed
    assert memo.lookup(raw.version + 1, NOW) is None

    # What the memo would serve just before the crossing is what a fresh computation says then...
    assert (await stats_v2_raw(connection, just_before)).document == raw.document
    # ...and right after it, the ticket has moved to the previous 24 hours.
    moved = (await stats_v2_raw(connection, crossing + timedelta(microseconds=1))).document
    assert moved["past_24h"]["new_tickets_total"] == 0
    assert moved["past_24h_previous"]["new_tickets_total"] == 1
    assert raw.document["past_24h"]["new_tickets_total"] == 1


async def test_a_rendered_memo_fills_in_the_age_for_each_request(db_url, connection):
    import orjson

    author = await add_user(db_url, "UAUTHOR")
    await add_ticket(db_url, opened_by=author, created_at=NOW - timedelta(minutes=30))
    rendered = RenderedStatsV2.of(await stats_v2_raw(connection, NOW), LINKS)
    later = orjson.loads(rendered.at(NOW + timedelta(minutes=15)))
    assert later["all_time"]["oldest_unanswered_ticket"]["age_minutes"] == 45.0
    assert later["past_24h"]["new_tickets_still_open"] == 1


async def test_totals_change_at_commit_so_writers_in_opposite_orders_do_not_deadlock(db_url):
    import asyncio

    import asyncpg

    author = await add_user(db_url, "UAUTHOR")
    first = await add_ticket(db_url, opened_by=author, created_at=NOW)
    second = await add_ticket(db_url, opened_by=author, created_at=NOW)
    close = """UPDATE "Ticket" SET status = 'CLOSED', "closedAt" = $2, "closedById" = $3 WHERE id = $1"""
    one, two = await asyncpg.connect(db_url), await asyncpg.connect(db_url)
    try:
        one_tx, two_tx = one.transaction(), two.transaction()
        await one_tx.start()
        await two_tx.start()
        await one.execute(close, first, NOW, author)
        await two.execute(close, second, NOW, author)  # with totals locked per statement, this would wait
        # the first transaction now needs the second's ticket: it waits for the second to commit
        waiting = asyncio.create_task(one.execute(close, second, NOW, author))
        await asyncio.sleep(0.2)
        assert not waiting.done()
        totals_now = (await postgres.fetch(db_url, TOTALS))[0]
        assert totals_now["closed"] == 0  # nothing committed yet, nothing counted
        await two_tx.commit()
        await asyncio.wait_for(waiting, 10)
        await one_tx.commit()
    finally:
        await one.close()
        await two.close()
    totals, per_user = await snapshot(db_url)
    assert totals["closed"] == 2 and totals["open"] == 0
    assert per_user == [(author, 2)]
    assert (totals, per_user) == await recount(db_url)
    assert await postgres.fetch(db_url, 'SELECT * FROM "TicketTotalsPending"') == []


async def test_a_rolled_back_change_leaves_the_totals_alone(db_url):
    import asyncpg

    author = await add_user(db_url, "UAUTHOR")
    await add_ticket(db_url, opened_by=author, created_at=NOW)
    before, before_version = await snapshot(db_url), await version(db_url)
    connection = await asyncpg.connect(db_url)
    try:
        transaction = connection.transaction()
        await transaction.start()
        await connection.execute('DELETE FROM "Ticket"')
        await transaction.rollback()
    finally:
        await connection.close()
    assert await snapshot(db_url) == before
    assert await version(db_url) == before_version


async def test_a_user_upsert_that_changes_nothing_leaves_the_version_alone(db_url):
    await add_user(db_url, "UHELPER", helper=True)
    before = await version(db_url)
    await postgres.execute(
        db_url,
        """INSERT INTO "User" ("slackId", helper) VALUES ('UHELPER', true)
           ON CONFLICT ("slackId") DO UPDATE SET helper = EXCLUDED.helper""",
    )
    await add_user(db_url, "UNEWCOMER")  # a new user has closed nothing: no leaderboard changes
    assert await version(db_url) == before


def test_the_aggregate_memo_is_bounded_in_answers_and_bytes_least_recently_used_first():
    """Issue 18: keyed by what clients ask for, so bounded in entries and in bytes."""
    from nephthys.stats.memo import AnswerMemo, RememberedAnswer

    memo = AnswerMemo(size=10, max_bytes=2_000)
    answers = {n: RememberedAnswer(7, b"x" * (100 + n % 5 * 50), f'"{n}"') for n in range(200)}
    for n, answer in answers.items():
        memo.remember(("daily", n), answer)
        assert memo.entries() <= 10 and memo.bytes <= 2_000
        assert memo.lookup(("daily", n), 7) is answer  # exactly what was remembered
    kept = [n for n in answers if memo.lookup(("daily", n), 7) is not None]
    assert kept == list(range(200 - len(kept), 200)) and memo.bytes == sum(len(answers[n].body) for n in kept)
    memo.lookup(("daily", kept[0]), 7)  # used: now the most recent
    memo.remember(("daily", "new"), RememberedAnswer(7, b"y" * 100, '"new"'))
    assert memo.lookup(("daily", kept[0]), 7) is not None and memo.lookup(("daily", kept[1]), 7) is None
    memo.remember(("daily", "huge"), RememberedAnswer(7, b"z" * 600, '"huge"'))  # over a quarter: not kept
    assert memo.lookup(("daily", "huge"), 7) is None and memo.bytes <= 2_000


def test_the_home_figures_memo_is_bounded_least_recently_used_first():
    """Issue 18: its keys include each helper's Slack id."""
    from nephthys.stats.home import HomeFiguresMemo

    memo = HomeFiguresMemo(size=3)
    now = datetime(2026, 1, 1, tzinfo=UTC)
    for n in range(50):
        memo.remember(("own", f"U{n}"), version=1, fingerprint=None, now=now, valid_until=None, value=n)
        assert memo.entries() <= 3
    assert [memo.lookup(("own", f"U{n}"), version=1, fingerprint=None, now=now) is None for n in (46, 47, 48, 49)] == [
        True, False, False, False
    ]  # fmt: skip
    assert memo.lookup(("own", "U49"), version=1, fingerprint=None, now=now).value == 49
