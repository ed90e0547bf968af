"""The team's memory as the lifecycle keeps it, and the look-ups over it, on a real PostgreSQL."""

from __future__ import annotations

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.memory import similar
from nephthys.tickets import lifecycle
from tests.support.postgres import fetch

HELPER = "UHELPER001"


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def resolved_ticket(sessions, n: int, question: str, answer: str, *, resolve: bool = True) -> int:
    await lifecycle.set_helper(sessions, slack_id=HELPER, helper=True)
    ts = f"{1_700_000_000 + n * 100}.000100"
    opened = await lifecycle.open_ticket(
        sessions, msg_ts=ts, asker_slack_id=f"UASKER{n:03}", description=question, title=question[:40]
    )
    await lifecycle.record_reply(
        sessions,
        thread_ts=ts,
        author_slack_id=HELPER,
        ts=f"{1_700_000_000 + n * 100 + 5}.000100",
        text=answer,
    )
    if resolve:
        await lifecycle.resolve_ticket(sessions, ticket_id=opened.ticket.id, resolver_slack_id=HELPER)
    return opened.ticket.id


async def test_the_lifecycle_keeps_the_question_the_answer_and_the_resolution(sessions, db_url):
    ticket_id = await resolved_ticket(sessions, 1, "Is the deadline extended?", "Yes, to August 31st.\nMore.")
    row = (await fetch(db_url, 'SELECT * FROM "TicketSearch" WHERE "ticketId" = $1', ticket_id))[0]
    assert row["questionTerms"] == ["deadl", "exten"]
    assert row["answer"] == "Yes, to August 31st.\nMore." and row["resolvedAt"] is not None
    assert "'augus':" in row["document"] and "'deadl':" in row["document"]

    # A reopen forgets the resolution; the next close restores it, with the latest answer.
    await lifecycle.reopen_ticket(sessions, ticket_id=ticket_id, reopener_slack_id=HELPER)
    row = (await fetch(db_url, 'SELECT * FROM "TicketSearch" WHERE "ticketId" = $1', ticket_id))[0]
    assert row["resolvedAt"] is None

    # The asker edits the question: its terms follow, the answer's stay.
    await lifecycle.update_description(
        sessions, msg_ts="1700000100.000100", description="Is the deadline moved?"
    )
    row = (await fetch(db_url, 'SELECT * FROM "TicketSearch" WHERE "ticketId" = $1', ticket_id))[0]
    assert "movin" not in row["questionTerms"] and "moved" in row["questionTerms"]
    assert "'augus':" in row["document"]


async def test_a_helper_message_after_the_close_is_not_the_answer(sessions, db_url):
    ticket_id = await resolved_ticket(sessions, 1, "Is the deadline extended?", "Yes, to August 31st.")
    await lifecycle.record_reply(
        sessions,
        thread_ts="1700000100.000100",
        author_slack_id=HELPER,
        ts="1700000190.000100",
        text="thanks!",
    )
    row = (await fetch(db_url, 'SELECT answer FROM "TicketSearch" WHERE "ticketId" = $1', ticket_id))[0]
    assert row["answer"] == "Yes, to August 31st."


async def test_a_rephrased_question_finds_its_original_and_an_unrelated_one_nothing(sessions):
    deadline = await resolved_ticket(sessions, 1, "Is the deadline extended?", "Yes, to August 31st.")
    await resolved_ticket(sessions, 2, "My payout has been pending for weeks", "Payouts go out on the 1st.")
    await resolved_ticket(sessions, 3, "Deadline for the shop orders?", "Orders close Friday.", resolve=False)

    found = await similar.similar_tickets(sessions, question="was the dedline extnded??")
    assert [past.id for past in found] == [deadline]
    assert found[0].closed_by_slack_id == HELPER and found[0].answer.startswith("Yes")
    assert await similar.similar_tickets(sessions, question="Where is the venue for the meetup?") == []
    # Its own ticket is never its own past.
    assert (
        await similar.similar_tickets(sessions, question="Is the deadline extended?", own_ticket_id=deadline)
        == []
    )


async def test_search_finds_every_ticket_with_all_its_words_first(sessions):
    deadline = await resolved_ticket(sessions, 1, "Is the deadline extended?", "Yes, to August 31st.")
    open_one = await resolved_ticket(
        sessions, 2, "Deadline for shop orders?", "Orders close Friday.", resolve=False
    )
    found = await similar.search_tickets(sessions, words="deadline august", limit=5)
    assert [past.id for past in found] == [deadline, open_one]
    assert await similar.search_tickets(sessions, words="🙏", limit=5) == []
