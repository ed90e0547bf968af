"""The ticket lifecycle against a real PostgreSQL, including concurrent changes to one ticket."""

from __future__ import annotations

import asyncio

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.database.models import TicketStatus, UserType
from nephthys.tickets import lifecycle
from nephthys.tickets.lifecycle import Outcome
from tests.support.postgres import execute, fetch


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def open_question(sessions, msg_ts="1700000000.000100", asker="UASKER001"):
    return await lifecycle.open_ticket(
        sessions, msg_ts=msg_ts, asker_slack_id=asker, description="How do I ship?", title="How do I ship?"
    )


async def ticket_row(db_url, ticket_id):
    rows = await fetch(db_url, 'SELECT * FROM "Ticket" WHERE id = $1', ticket_id)
    return rows[0] if rows else None


async def slack_id_of(db_url, user_id):
    if user_id is None:
        return None
    return (await fetch(db_url, 'SELECT "slackId" FROM "User" WHERE id = $1', user_id))[0]["slackId"]


async def test_open_ticket_is_created_once_and_counts_earlier_tickets(sessions, db_url):
    first = await open_question(sessions, "1700000000.000100")
    again = await open_question(sessions, "1700000000.000100")
    second = await open_question(sessions, "1700000000.000200")

    assert first.created and not again.created
    assert again.ticket.id == first.ticket.id
    assert (first.previous_tickets, second.previous_tickets) == (0, 1)
    row = await ticket_row(db_url, first.ticket.id)
    assert row["status"] == "OPEN" and row["ticketTs"] is None and row["lastMsgBy"] == "AUTHOR"
    assert (await fetch(db_url, 'SELECT count(*) AS n FROM "Ticket"'))[0]["n"] == 2


async def test_helper_reply_assigns_and_assigned_at_is_set_once(sessions, db_url):
    opened = await open_question(sessions)
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    await lifecycle.set_helper(sessions, slack_id="UHELPER02", helper=True)

    other = await lifecycle.record_reply(
        sessions, thread_ts=opened.ticket.msg_ts, author_slack_id="UOTHER001"
    )
    assert other.by is UserType.OTHER and not other.assigned
    first = await lifecycle.record_reply(
        sessions, thread_ts=opened.ticket.msg_ts, author_slack_id="UHELPER01"
    )
    assert first.by is UserType.HELPER and first.assigned
    assigned_at = (await ticket_row(db_url, opened.ticket.id))["assignedAt"]
    await lifecycle.record_reply(sessions, thread_ts=opened.ticket.msg_ts, author_slack_id="UHELPER02")
    asker = await lifecycle.record_reply(
        sessions, thread_ts=opened.ticket.msg_ts, author_slack_id="UASKER001"
    )

    row = await ticket_row(db_url, opened.ticket.id)
    assert asker.by is UserType.AUTHOR and row["lastMsgBy"] == "AUTHOR"
    assert row["status"] == "IN_PROGRESS"
    assert await slack_id_of(db_url, row["assignedToId"]) == "UHELPER02"
    assert row["assignedAt"] == assigned_at
    assert await lifecycle.record_reply(sessions, thread_ts="1.2", author_slack_id="UHELPER01") is None


async def test_resolve_by_asker_credits_the_assigned_helper_and_twice_changes_nothing(sessions, db_url):
    opened = await open_question(sessions)
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    await lifecycle.record_reply(sessions, thread_ts=opened.ticket.msg_ts, author_slack_id="UHELPER01")

    stranger = await lifecycle.resolve_ticket(
        sessions, ticket_id=opened.ticket.id, resolver_slack_id="USTRANGE1"
    )
    assert stranger.outcome is Outcome.NOT_ALLOWED
    resolved = await lifecycle.resolve_ticket(
        sessions, ticket_id=opened.ticket.id, resolver_slack_id="UASKER001"
    )
    assert resolved.changed and resolved.ticket.closed_by_slack_id == "UHELPER01"
    closed = await ticket_row(db_url, opened.ticket.id)
    again = await lifecycle.resolve_ticket(
        sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER01"
    )
    assert again.outcome is Outcome.UNCHANGED
    assert await ticket_row(db_url, opened.ticket.id) == closed
    assert closed["status"] == "CLOSED" and closed["closedAt"] is not None


async def test_resolve_by_asker_of_unassigned_ticket_closes_it_as_the_asker(sessions, db_url):
    opened = await open_question(sessions)
    resolved = await lifecycle.resolve_ticket(
        sessions, ticket_id=opened.ticket.id, resolver_slack_id="UASKER001"
    )
    assert resolved.changed and resolved.ticket.closed_by_slack_id == "UASKER001"


async def test_reopen_clears_closure_and_backend_message(sessions, db_url):
    opened = await open_question(sessions)
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    assert await lifecycle.record_backend_message(
        sessions, ticket_id=opened.ticket.id, channel_id="C0TICKETS1", ts="1700000001.000100"
    )
    not_closed = await lifecycle.reopen_ticket(
        sessions, ticket_id=opened.ticket.id, reopener_slack_id="UHELPER01"
    )
    assert not_closed.outcome is Outcome.UNCHANGED
    await lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER01")
    reopened = await lifecycle.reopen_ticket(
        sessions, ticket_id=opened.ticket.id, reopener_slack_id="UHELPER01"
    )

    assert reopened.changed and reopened.previous_ticket_ts == "1700000001.000100"
    row = await ticket_row(db_url, opened.ticket.id)
    assert row["status"] == "OPEN" and row["closedById"] is None and row["closedAt"] is None
    assert row["ticketTs"] is None and row["reopenedAt"] is not None
    assert await slack_id_of(db_url, row["reopenedById"]) == "UHELPER01"


async def test_backend_message_is_set_once(sessions, db_url):
    opened = await open_question(sessions)
    first = await lifecycle.record_backend_message(
        sessions, ticket_id=opened.ticket.id, channel_id="C0TICKETS1", ts="1700000001.000100"
    )
    second = await lifecycle.record_backend_message(
        sessions, ticket_id=opened.ticket.id, channel_id="C0TICKETS1", ts="1700000001.000200"
    )
    assert (first, second) == (True, False)
    assert (await ticket_row(db_url, opened.ticket.id))["ticketTs"] == "1700000001.000100"


async def test_recording_the_same_backend_message_again_is_not_a_surplus(sessions, db_url):
    """A record retried after its first attempt committed (the answer lost with the connection)."""
    opened = await open_question(sessions)
    args = {"ticket_id": opened.ticket.id, "channel_id": "C0TICKETS1", "ts": "1700000001.000100"}
    assert await lifecycle.record_backend_message(sessions, **args)
    assert await lifecycle.record_backend_message(sessions, **args)
    assert (await ticket_row(db_url, opened.ticket.id))["ticketTs"] == "1700000001.000100"
    rows = await fetch(db_url, 'SELECT ts FROM "BotMessage" WHERE "ticketId" = $1', opened.ticket.id)
    assert [row["ts"] for row in rows] == ["1700000001.000100"]


async def test_delete_ticket_returns_its_bot_messages(sessions, db_url):
    opened = await open_question(sessions)
    await lifecycle.record_backend_message(
        sessions, ticket_id=opened.ticket.id, channel_id="C0TICKETS1", ts="1700000001.000100"
    )
    await lifecycle.record_bot_message(
        sessions, ticket_id=opened.ticket.id, channel_id="C0HELP0001", ts="1700000000.000300"
    )
    deleted = await lifecycle.delete_ticket(sessions, msg_ts=opened.ticket.msg_ts)
    assert [(m.channel_id, m.ts) for m in deleted.bot_messages] == [
        ("C0TICKETS1", "1700000001.000100"),
        ("C0HELP0001", "1700000000.000300"),
    ]
    assert await ticket_row(db_url, opened.ticket.id) is None
    assert (await fetch(db_url, 'SELECT count(*) AS n FROM "BotMessage"'))[0]["n"] == 0
    assert await lifecycle.delete_ticket(sessions, msg_ts=opened.ticket.msg_ts) is None
    assert not await lifecycle.record_bot_message(
        sessions, ticket_id=opened.ticket.id, channel_id="C0HELP0001", ts="1700000000.000400"
    )


async def test_sync_helpers_makes_exactly_the_members_helpers(sessions, db_url):
    await lifecycle.set_helper(sessions, slack_id="UGONE0001", helper=True)
    await lifecycle.upsert_user(sessions, slack_id="UASKER001", username="asker")
    added, removed = await lifecycle.sync_helpers(sessions, member_ids={"UHELPER01", "UASKER001"})
    assert (added, removed) == (2, 1)
    rows = await fetch(db_url, 'SELECT "slackId", helper, username FROM "User" ORDER BY "slackId"')
    assert [(r["slackId"], r["helper"], r["username"]) for r in rows] == [
        ("UASKER001", True, "asker"),
        ("UGONE0001", False, None),
        ("UHELPER01", True, None),
    ]


# ---------------------------------------------------------------- races


async def test_concurrent_opens_of_one_question_make_one_ticket(sessions, db_url):
    results = await asyncio.gather(*(open_question(sessions) for _ in range(8)))
    assert sum(result.created for result in results) == 1
    assert len({result.ticket.id for result in results}) == 1


async def test_open_ticket_whose_ticket_is_deleted_before_it_is_read_back_is_none(sessions, db_url):
    # Another worker's ticket for the question makes this insert do nothing, and the
    # question (its ticket with it) is deleted before this worker reads that ticket back.
    # A trigger that drops the insert stands for both, between the two statements.
    await execute(
        db_url,
        """CREATE FUNCTION test_ticket_taken_and_deleted() RETURNS trigger LANGUAGE plpgsql
               AS $$ BEGIN RETURN NULL; END $$;
           CREATE TRIGGER test_ticket_taken_and_deleted BEFORE INSERT ON "Ticket"
               FOR EACH ROW EXECUTE FUNCTION test_ticket_taken_and_deleted();""",
    )
    try:
        opened = await open_question(sessions)
    finally:
        await execute(
            db_url,
            """DROP TRIGGER test_ticket_taken_and_deleted ON "Ticket";
               DROP FUNCTION test_ticket_taken_and_deleted();""",
        )
    assert opened is None
    assert (await fetch(db_url, 'SELECT count(*) AS n FROM "Ticket"'))[0]["n"] == 0


async def test_two_helpers_replying_at_once_leave_one_consistent_assignment(sessions, db_url):
    for _ in range(5):
        await fetch(db_url, 'TRUNCATE "Ticket", "User" RESTART IDENTITY CASCADE')
        opened = await open_question(sessions)
        helpers = [f"UHELPER0{n}" for n in range(1, 5)]
        for helper in helpers:
            await lifecycle.set_helper(sessions, slack_id=helper, helper=True)
        replies = await asyncio.gather(
            *(
                lifecycle.record_reply(sessions, thread_ts=opened.ticket.msg_ts, author_slack_id=helper)
                for helper in helpers
            )
        )
        row = await ticket_row(db_url, opened.ticket.id)
        assert row["status"] == "IN_PROGRESS" and row["assignedAt"] is not None
        assigned = await slack_id_of(db_url, row["assignedToId"])
        # The row lock orders the replies: each one saw itself take the ticket, and
        # the one that committed last holds it, with the first assignment's time.
        assert assigned in helpers
        assert sorted(reply.ticket.assigned_to_slack_id for reply in replies) == helpers
        assert row["assignedAt"] <= row["lastMsgAt"]


async def test_two_resolves_at_once_close_once(sessions, db_url):
    opened = await open_question(sessions)
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    await lifecycle.set_helper(sessions, slack_id="UHELPER02", helper=True)
    results = await asyncio.gather(
        lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER01"),
        lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER02"),
        lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id="UASKER001"),
    )
    winners = [result for result in results if result.changed]
    assert len(winners) == 1
    assert all(result.outcome is Outcome.UNCHANGED for result in results if not result.changed)
    row = await ticket_row(db_url, opened.ticket.id)
    assert row["status"] == "CLOSED"
    assert await slack_id_of(db_url, row["closedById"]) == winners[0].ticket.closed_by_slack_id


async def test_resolve_while_a_helper_replies_ends_closed(sessions, db_url):
    for _ in range(5):
        await fetch(db_url, 'TRUNCATE "Ticket", "User" RESTART IDENTITY CASCADE')
        opened = await open_question(sessions)
        await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
        await lifecycle.set_helper(sessions, slack_id="UHELPER02", helper=True)
        reply, resolve = await asyncio.gather(
            lifecycle.record_reply(sessions, thread_ts=opened.ticket.msg_ts, author_slack_id="UHELPER02"),
            lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER01"),
        )
        row = await ticket_row(db_url, opened.ticket.id)
        # Whatever the order, a resolved ticket stays closed: a later reply never reopens it.
        assert resolve.changed and row["status"] == TicketStatus.CLOSED.value
        # Credit: the reply that came first assigned HELPER02 and made the thread active, so
        # the resolve credits HELPER02; a reply after the resolve leaves it unassigned (HELPER01).
        replied_first = row["assignedToId"] is not None
        assert await slack_id_of(db_url, row["closedById"]) == ("UHELPER02" if replied_first else "UHELPER01")
        assert row["closedAt"] is not None


# ---------------------------------------------------------------- issue 9: credit, closures, deletions, feedback


async def test_credit_goes_to_the_assignee_of_an_active_thread_and_to_the_resolver_otherwise(
    sessions, db_url
):
    from datetime import timedelta

    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    await lifecycle.set_helper(sessions, slack_id="UHELPER02", helper=True)
    active = await open_question(sessions, "1700000000.000100")
    await lifecycle.record_reply(sessions, thread_ts=active.ticket.msg_ts, author_slack_id="UHELPER01")
    change = await lifecycle.resolve_ticket(
        sessions, ticket_id=active.ticket.id, resolver_slack_id="UHELPER02"
    )
    assert change.changed and change.actor_is_helper
    assert change.found_ticket.closed_by_slack_id == "UHELPER01"

    quiet = await open_question(sessions, "1700000000.000200")
    await lifecycle.record_reply(sessions, thread_ts=quiet.ticket.msg_ts, author_slack_id="UHELPER01")
    change = await lifecycle.resolve_ticket(
        sessions, ticket_id=quiet.ticket.id, resolver_slack_id="UHELPER02", credit_window=timedelta(0)
    )
    assert change.found_ticket.closed_by_slack_id == "UHELPER02"


async def test_reopen_acts_only_on_the_closure_it_names(sessions):
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    opened = await open_question(sessions)
    first = await lifecycle.resolve_ticket(
        sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER01"
    )
    first_closure = lifecycle.closure_key(first.found_ticket.closed_at)
    await lifecycle.reopen_ticket(sessions, ticket_id=opened.ticket.id, reopener_slack_id="UASKER001")
    second = await lifecycle.resolve_ticket(
        sessions, ticket_id=opened.ticket.id, resolver_slack_id="UHELPER01"
    )

    stale = await lifecycle.reopen_ticket(
        sessions, ticket_id=opened.ticket.id, reopener_slack_id="UASKER001", closure=first_closure
    )
    assert stale.outcome is Outcome.OUT_OF_DATE and stale.found_ticket.status is TicketStatus.CLOSED
    current = await lifecycle.reopen_ticket(
        sessions,
        ticket_id=opened.ticket.id,
        reopener_slack_id="UASKER001",
        closure=lifecycle.closure_key(second.found_ticket.closed_at),
    )
    assert current.changed


async def test_a_deleted_question_keeps_its_ticket_only_when_someone_else_wrote(sessions, db_url):
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    lonely = await open_question(sessions, "1700000000.000100")
    gone = await lifecycle.question_deleted(sessions, msg_ts=lonely.ticket.msg_ts, others_wrote=False)
    assert isinstance(gone, lifecycle.DeletedTicket) and await ticket_row(db_url, lonely.ticket.id) is None

    answered = await open_question(sessions, "1700000000.000200")
    await lifecycle.record_reply(sessions, thread_ts=answered.ticket.msg_ts, author_slack_id="UHELPER01")
    kept = await lifecycle.question_deleted(sessions, msg_ts=answered.ticket.msg_ts, others_wrote=False)
    assert isinstance(kept, lifecycle.KeptTicket) and kept.newly_marked and kept.ticket.question_deleted
    again = await lifecycle.question_deleted(sessions, msg_ts=answered.ticket.msg_ts, others_wrote=False)
    assert isinstance(again, lifecycle.KeptTicket) and not again.newly_marked

    witnessed = await open_question(sessions, "1700000000.000300")
    kept = await lifecycle.question_deleted(sessions, msg_ts=witnessed.ticket.msg_ts, others_wrote=True)
    assert isinstance(kept, lifecycle.KeptTicket)
    row = await ticket_row(db_url, witnessed.ticket.id)
    assert row["status"] == "OPEN" and row["questionDeletedAt"] is not None


async def test_feedback_is_one_row_per_ticket_and_asker_and_goes_with_the_ticket(sessions, db_url):
    from nephthys.database.models import FeedbackRating
    from nephthys.tickets import feedback

    opened = await open_question(sessions)
    stored = await feedback.record_feedback(
        sessions,
        ticket_id=opened.ticket.id,
        asker_slack_id="UASKER001",
        rating=FeedbackRating.OKAY,
        comment=" ",
    )
    assert stored.outcome is Outcome.CHANGED
    await feedback.record_feedback(
        sessions,
        ticket_id=opened.ticket.id,
        asker_slack_id="UASKER001",
        rating=FeedbackRating.GREAT,
        comment="ok",
    )
    rows = await fetch(db_url, 'SELECT rating, text FROM "Feedback"')
    assert [(r["rating"], r["text"]) for r in rows] == [("GREAT", "ok")]
    someone = await feedback.record_feedback(
        sessions,
        ticket_id=opened.ticket.id,
        asker_slack_id="UOTHER001",
        rating=FeedbackRating.GREAT,
        comment=None,
    )
    assert someone.outcome is Outcome.NOT_ALLOWED
    with pytest.raises(ValueError):
        await feedback.record_feedback(
            sessions,
            ticket_id=opened.ticket.id,
            asker_slack_id="UASKER001",
            rating=FeedbackRating.GREAT,
            comment="x" * (feedback.COMMENT_MAX_CHARS + 1),
        )
    await lifecycle.delete_ticket(sessions, msg_ts=opened.ticket.msg_ts)
    assert await fetch(db_url, 'SELECT * FROM "Feedback"') == []
    missing = await feedback.record_feedback(
        sessions,
        ticket_id=opened.ticket.id,
        asker_slack_id="UASKER001",
        rating=FeedbackRating.GREAT,
        comment=None,
    )
    assert missing.outcome is Outcome.NOT_FOUND


# ---------------------------------------------------------------- the timeline (issue 20, section 1)

EVENTS_SQL = """SELECT e.kind::text AS kind, e.at, u."slackId" AS actor, e."msgTs"
                FROM "TicketEvent" e LEFT JOIN "User" u ON u.id = e."actorId"
                WHERE e."ticketId" = $1 ORDER BY e.at, e.id"""


async def test_every_change_writes_its_events_at_the_instant_it_is_given(sessions, db_url):
    from datetime import UTC, datetime, timedelta

    asked = datetime(2026, 3, 6, 16, 55, tzinfo=UTC)
    minute = timedelta(minutes=1)
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    opened = await lifecycle.open_ticket(
        sessions, msg_ts="1772816100.000000", asker_slack_id="UASKER001", description="d", title="t", at=asked
    )
    assert opened is not None
    ticket_id = opened.ticket.id
    reply = dict(thread_ts="1772816100.000000", author_slack_id="UHELPER01", ts="1772816160.000000")
    first = await lifecycle.record_reply(sessions, **reply, at=asked + minute)
    # The same message again (replayed work): nothing is logged nor applied a second time.
    again = await lifecycle.record_reply(sessions, **reply, at=asked + minute)
    assert first is not None and first.assigned and again is not None and not again.assigned
    closed = await lifecycle.resolve_ticket(
        sessions, ticket_id=ticket_id, resolver_slack_id="UASKER001", at=asked + 2 * minute
    )
    assert closed.found_ticket.closed_at == asked + 2 * minute
    reopened = await lifecycle.reopen_ticket(
        sessions, ticket_id=ticket_id, reopener_slack_id="UHELPER01", at=asked + 3 * minute, msg_ts="9.1"
    )
    assert reopened.changed
    # The helper answers again: it waits on the asker, which a job may close.
    answered = await lifecycle.record_reply(
        sessions, thread_ts="1772816100.000000", author_slack_id="UHELPER01", ts="1772816310.000000",
        at=asked + 3.5 * minute,
    )  # fmt: skip
    assert answered is not None
    # The stale job's close: no Slack instant, the job's clock, by the bot. (lastMsgAt is when a
    # reply was applied, by the database's clock: set it back into this test's time.)
    await execute(db_url, 'UPDATE "Ticket" SET "lastMsgAt" = $1', asked + minute)
    quiet = await lifecycle.close_quiet_ticket(
        sessions, ticket_id=ticket_id, quiet_since=asked + 4 * minute, at=asked + 5 * minute
    )
    assert quiet.changed
    row = await ticket_row(db_url, ticket_id)
    assert (row["createdAt"], row["assignedAt"], row["reopenedAt"], row["closedAt"]) == (
        asked,
        asked + minute,
        asked + 3 * minute,
        asked + 5 * minute,
    )
    assert [tuple(r.values()) for r in await fetch(db_url, EVENTS_SQL, ticket_id)] == [
        ("OPENED", asked, "UASKER001", "1772816100.000000"),
        ("HELPER_MESSAGE", asked + minute, "UHELPER01", "1772816160.000000"),
        ("ASSIGNED", asked + minute, "UHELPER01", "1772816160.000000"),
        ("CLOSED", asked + 2 * minute, "UASKER001", None),  # who acted; the credit is the assignee's
        ("REOPENED", asked + 3 * minute, "UHELPER01", "9.1"),
        ("HELPER_MESSAGE", asked + 3.5 * minute, "UHELPER01", "1772816310.000000"),
        ("CLOSED", asked + 5 * minute, None, None),
    ]
    assert await slack_id_of(db_url, row["closedById"]) == "UHELPER01"


async def test_without_an_instant_the_database_clock_dates_the_change(sessions, db_url):
    opened = await open_question(sessions)
    row = await ticket_row(db_url, opened.ticket.id)
    [event] = await fetch(db_url, EVENTS_SQL, opened.ticket.id)
    assert event["kind"] == "OPENED" and event["at"] == row["createdAt"]
    [now] = await fetch(db_url, "SELECT now() AS now")
    assert row["createdAt"] <= now["now"]


async def test_a_replayed_macro_message_does_not_close_or_reopen_a_second_time(sessions, db_url):
    opened = await open_question(sessions)
    ticket_id = opened.ticket.id
    resolve = dict(ticket_id=ticket_id, resolver_slack_id="UASKER001", msg_ts="1700000100.000100")
    assert (await lifecycle.resolve_ticket(sessions, **resolve)).changed
    reopen = dict(ticket_id=ticket_id, reopener_slack_id="UASKER001", msg_ts="1700000200.000100")
    assert (await lifecycle.reopen_ticket(sessions, **reopen)).changed
    # The ?resolve message handled again (an instance died before marking it done): the reopen stands.
    assert (await lifecycle.resolve_ticket(sessions, **resolve)).outcome is Outcome.UNCHANGED
    assert (await ticket_row(db_url, ticket_id))["status"] == "OPEN"
    assert (
        await lifecycle.resolve_ticket(sessions, ticket_id=ticket_id, resolver_slack_id="UASKER001")
    ).changed
    assert (await lifecycle.reopen_ticket(sessions, **reopen)).outcome is Outcome.UNCHANGED
    assert (await ticket_row(db_url, ticket_id))["status"] == "CLOSED"
    kinds = [row["kind"] for row in await fetch(db_url, EVENTS_SQL, ticket_id)]
    assert kinds == ["OPENED", "CLOSED", "REOPENED", "CLOSED"]


SPANS_SQL = """SELECT s.kind::text AS kind, s."startAt", s."endAt", u."slackId" AS actor, s.minutes
               FROM "TicketSpan" s LEFT JOIN "User" u ON u.id = s."actorId"
               WHERE s."ticketId" = $1 ORDER BY s.kind, s."startAt\""""


async def test_the_wait_and_the_spans_follow_the_messages_in_the_order_slack_dates_them(sessions, db_url):
    """A helper's answer delivered after the asker's later follow-up still came first: the ticket
    waits on the helpers, as if both had arrived in order (nephthys/tickets/timeline.py)."""
    from datetime import UTC, datetime, timedelta

    asked = datetime(2026, 3, 6, 16, 55, tzinfo=UTC)
    minute = timedelta(minutes=1)
    await lifecycle.set_helper(sessions, slack_id="UHELPER01", helper=True)
    opened = await lifecycle.open_ticket(
        sessions, msg_ts="1772816100.000000", asker_slack_id="UASKER001", description="d", title="t", at=asked
    )
    assert opened is not None
    ticket_id = opened.ticket.id
    row = await ticket_row(db_url, ticket_id)
    assert (row["waitingOn"], row["waitingSince"]) == ("HELPERS", asked)
    thread = "1772816100.000000"
    # The asker's follow-up at +7 arrives first; the helper's answer at +5 is delivered late.
    await lifecycle.record_reply(
        sessions, thread_ts=thread, author_slack_id="UASKER001", ts="7.0", at=asked + 7 * minute
    )
    row = await ticket_row(db_url, ticket_id)
    assert (row["waitingOn"], row["waitingSince"]) == ("HELPERS", asked)
    # Still unanswered: no first response yet, not 0 minutes (the "always" calendar's function
    # makes 0 of a running span's null end).
    assert (row["firstResponseMinutes"], row["resolutionMinutes"]) == (None, None)
    assert {span["minutes"] for span in await fetch(db_url, SPANS_SQL, ticket_id)} == {None}
    await lifecycle.record_reply(
        sessions, thread_ts=thread, author_slack_id="UHELPER01", ts="5.0", at=asked + 5 * minute
    )
    row = await ticket_row(db_url, ticket_id)
    assert (row["waitingOn"], row["waitingSince"], row["firstResponseMinutes"]) == (
        "HELPERS",
        asked + 7 * minute,
        5.0,
    )
    # Someone else's message changes nothing; the helper's next answer makes it wait on the asker.
    await lifecycle.record_reply(
        sessions, thread_ts=thread, author_slack_id="UOTHER001", ts="8.0", at=asked + 8 * minute
    )
    await lifecycle.record_reply(
        sessions, thread_ts=thread, author_slack_id="UHELPER01", ts="9.0", at=asked + 9 * minute
    )
    row = await ticket_row(db_url, ticket_id)
    assert (row["waitingOn"], row["waitingSince"]) == ("ASKER", asked + 9 * minute)
    await lifecycle.resolve_ticket(
        sessions, ticket_id=ticket_id, resolver_slack_id="UASKER001", at=asked + 20 * minute
    )
    row = await ticket_row(db_url, ticket_id)
    # Resolution: the 5 minutes to the first answer and the 2 the follow-up waited; not the asker's turns.
    assert (row["waitingOn"], row["waitingSince"], row["resolutionMinutes"]) == (None, None, 7.0)
    assert [tuple(r.values()) for r in await fetch(db_url, SPANS_SQL, ticket_id)] == [
        ("FIRST_RESPONSE", asked, asked + 5 * minute, "UHELPER01", 5.0),
        ("NEXT_RESPONSE", asked + 7 * minute, asked + 9 * minute, "UHELPER01", 2.0),
        ("RESOLUTION", asked, asked + 5 * minute, "UHELPER01", 5.0),  # credited to the closer
        ("RESOLUTION", asked + 7 * minute, asked + 9 * minute, "UHELPER01", 2.0),
    ]
