"""Team tags and question tags against a real PostgreSQL."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.stats.question_tags import question_tag_counts
from nephthys.tags import service
from nephthys.tags.service import NameProblem, NameRejected
from tests.support import postgres
from tests.tags.helpers import add_ticket, add_user


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url, pool_size=4)
    yield session_factory(engine)
    await engine.dispose()


async def create_tag(sessions, name):
    async with sessions.begin() as session:
        return await service.create_tag(session, name=name)


async def test_tag_names_are_trimmed_limited_and_unique_regardless_of_case(sessions):
    auth = await create_tag(sessions, "  Auth \t team ")
    assert auth.name == "Auth team"
    assert await create_tag(sessions, "auth TEAM") == NameRejected(NameProblem.TAKEN, "Auth team")
    assert await create_tag(sessions, "   ") == NameRejected(NameProblem.EMPTY, "")
    too_long = await create_tag(sessions, "x" * 76)
    assert isinstance(too_long, NameRejected) and too_long.problem is NameProblem.TOO_LONG
    assert too_long.max_length == 75
    assert (await create_tag(sessions, "y" * 75)).name == "y" * 75
    async with sessions() as session:
        assert [tag.name for tag in await service.list_tags(session)] == ["Auth team", "y" * 75]


async def test_two_helpers_creating_the_same_name_at_once_make_one_tag(sessions, db_url):
    results = await asyncio.gather(
        *(create_tag(sessions, name) for name in ["Fulfillment", "FULFILLMENT"] * 4)
    )
    created = [result for result in results if not isinstance(result, NameRejected)]
    assert len(created) == 1
    rows = await postgres.fetch(db_url, 'SELECT name FROM "Tag"')
    assert len(rows) == 1


async def test_adding_a_tag_notifies_its_subscribers_once_except_the_tagger(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    alice = await add_user(db_url, "UALICE")
    bob = await add_user(db_url, "UBOB")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100")
    auth = await create_tag(sessions, "Auth")
    billing = await create_tag(sessions, "Billing")
    async with sessions.begin() as session:
        assert await service.subscribe(session, user_id=alice, tag_id=auth.id) is True
        assert await service.subscribe(session, user_id=alice, tag_id=auth.id) is False
        assert await service.subscribe(session, user_id=bob, tag_id=auth.id) is True
        assert await service.subscribe(session, user_id=bob, tag_id=billing.id) is True

    async with sessions.begin() as session:
        changed = await service.add_tags_to_ticket(
            session, ticket_id=ticket, tag_ids=[auth.id, billing.id], added_by_slack_id="UBOB"
        )
    assert [tag.name for tag in changed.added] == ["Auth", "Billing"]
    assert [(n.slack_id, n.tag.name) for n in changed.notifications] == [("UALICE", "Auth")]

    async with sessions.begin() as session:
        again = await service.add_tags_to_ticket(
            session, ticket_id=ticket, tag_ids=[auth.id], added_by_slack_id=None
        )
    assert again.added == () and again.notifications == () and not again.changed

    async with sessions() as session:
        assert [tag.name for tag in await service.tags_on_ticket(session, ticket_id=ticket)] == [
            "Auth",
            "Billing",
        ]
        assert await service.tagged_open_tickets_for_subscriber(session, user_id=alice) == [ticket]


async def test_concurrent_adds_of_one_tag_notify_once(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    alice = await add_user(db_url, "UALICE")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100")
    auth = await create_tag(sessions, "Auth")
    async with sessions.begin() as session:
        await service.subscribe(session, user_id=alice, tag_id=auth.id)

    async def add(tagger):
        async with sessions.begin() as session:
            return await service.add_tags_to_ticket(
                session, ticket_id=ticket, tag_ids=[auth.id], added_by_slack_id=tagger
            )

    results = await asyncio.gather(*(add(f"UHELPER{n}") for n in range(6)))
    assert sum(len(result.notifications) for result in results) == 1


async def test_closed_tickets_notify_no_one(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    alice = await add_user(db_url, "UALICE")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100", status="CLOSED")
    auth = await create_tag(sessions, "Auth")
    async with sessions.begin() as session:
        await service.subscribe(session, user_id=alice, tag_id=auth.id)
        changed = await service.add_tags_to_ticket(
            session, ticket_id=ticket, tag_ids=[auth.id], added_by_slack_id=None
        )
    assert [tag.name for tag in changed.added] == ["Auth"] and changed.notifications == ()


async def test_set_ticket_tags_adds_and_removes_to_match_the_selection(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    alice = await add_user(db_url, "UALICE")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100")
    auth, billing, infra = [await create_tag(sessions, name) for name in ["Auth", "Billing", "Infra"]]
    async with sessions.begin() as session:
        await service.subscribe(session, user_id=alice, tag_id=infra.id)
        first = await service.set_ticket_tags(
            session, ticket_id=ticket, tag_ids=[auth.id, billing.id], set_by_slack_id="UBOB"
        )
    assert [t.name for t in first.added] == ["Auth", "Billing"] and first.removed == ()
    async with sessions.begin() as session:
        second = await service.set_ticket_tags(
            session, ticket_id=ticket, tag_ids=[billing.id, infra.id, 999_999], set_by_slack_id="UBOB"
        )
    assert [t.name for t in second.added] == ["Infra"]
    assert [t.name for t in second.removed] == ["Auth"]
    assert [n.slack_id for n in second.notifications] == ["UALICE"]
    async with sessions.begin() as session:
        removed = await service.remove_tags_from_ticket(
            session, ticket_id=ticket, tag_ids=[billing.id, auth.id]
        )
    assert [t.name for t in removed.removed] == ["Billing"]
    rows = await postgres.fetch(db_url, 'SELECT "tagId" FROM tags_on_tickets')
    assert [row["tagId"] for row in rows] == [infra.id]


async def test_tags_named_finds_any_case_and_reports_unknown(sessions):
    await create_tag(sessions, "Auth")
    await create_tag(sessions, "Billing")
    async with sessions() as session:
        found, unknown = await service.tags_named(session, names=["auth", "BILLING", "nope"])
    assert [t.name for t in found] == ["Auth", "Billing"] and unknown == ["nope"]


async def test_unsubscribe(sessions, db_url):
    alice = await add_user(db_url, "UALICE")
    auth = await create_tag(sessions, "Auth")
    async with sessions.begin() as session:
        await service.subscribe(session, user_id=alice, tag_id=auth.id)
        assert await service.subscribed_tag_ids(session, user_id=alice) == {auth.id}
        assert await service.unsubscribe(session, user_id=alice, tag_id=auth.id) is True
        assert await service.unsubscribe(session, user_id=alice, tag_id=auth.id) is False
        assert await service.subscribed_tag_ids(session, user_id=alice) == set()
        assert await service.subscribe(session, user_id=alice, tag_id=123456) is False


async def test_question_tags_one_per_ticket_filtered_options_and_counts(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    async with sessions.begin() as session:
        payout = await service.create_question_tag(session, label="What's the payout range?")
        shipping = await service.create_question_tag(session, label="When does my order ship?")
        percent = await service.create_question_tag(session, label="Is 100% refund possible?")
        clash = await service.create_question_tag(session, label="what's the PAYOUT range?")
    assert clash == NameRejected(NameProblem.TAKEN, "What's the payout range?")

    async with sessions() as session:
        assert [t.name for t in await service.question_tag_options(session, typed="PAY")] == [payout.name]
        assert [t.name for t in await service.question_tag_options(session, typed="%")] == [percent.name]
        assert [t.name for t in await service.question_tag_options(session, typed="_")] == []
        assert len(await service.question_tag_options(session, typed="")) == 3

    january = datetime(2026, 1, 10, tzinfo=UTC)
    february = datetime(2026, 2, 10, tzinfo=UTC)
    tickets = [
        await add_ticket(db_url, opened_by=asker, msg_ts=f"17000000{n:02d}.000100", created_at=when)
        for n, when in enumerate([january, january, january, february])
    ]
    async with sessions.begin() as session:
        assert await service.set_question_tag(session, ticket_id=tickets[0], question_tag_id=payout.id)
        assert not await service.set_question_tag(session, ticket_id=tickets[0], question_tag_id=payout.id)
        assert await service.set_question_tag(session, ticket_id=tickets[0], question_tag_id=shipping.id)
        assert await service.set_question_tag(session, ticket_id=tickets[1], question_tag_id=shipping.id)
        assert await service.set_question_tag(session, ticket_id=tickets[2], question_tag_id=payout.id)
        assert await service.set_question_tag(session, ticket_id=tickets[3], question_tag_id=payout.id)
        assert not await service.set_question_tag(session, ticket_id=tickets[3], question_tag_id=424242)
        assert (await service.question_tag_of_ticket(session, ticket_id=tickets[0])).name == shipping.name

    async with sessions() as session:
        everything = await question_tag_counts(session)
        in_january = await question_tag_counts(
            session, since=datetime(2026, 1, 1, tzinfo=UTC), until=datetime(2026, 2, 1, tzinfo=UTC)
        )
    assert [(row.label, row.count) for row in everything] == [
        ("What's the payout range?", 2),
        ("When does my order ship?", 2),
        ("Is 100% refund possible?", 0),
    ]
    assert [(row.label, row.count) for row in in_january] == [
        ("When does my order ship?", 2),
        ("What's the payout range?", 1),
        ("Is 100% refund possible?", 0),
    ]


async def test_tags_added_and_removed_are_on_the_timeline_once_each_with_who_and_when(sessions, db_url):
    asker = await add_user(db_url, "UASKER", helper=False)
    await add_user(db_url, "UBOB")
    ticket = await add_ticket(db_url, opened_by=asker, msg_ts="1700000000.000100")
    auth, billing = [await create_tag(sessions, name) for name in ["Auth", "Billing"]]
    added_at, set_at = datetime(2026, 3, 2, 9, tzinfo=UTC), datetime(2026, 3, 2, 10, tzinfo=UTC)
    for _ in range(2):  # the second add changes nothing, so it logs nothing
        async with sessions.begin() as session:
            await service.add_tags_to_ticket(
                session,
                ticket_id=ticket,
                tag_ids=[auth.id, billing.id],
                added_by_slack_id="UBOB",
                at=added_at,
            )
    async with sessions.begin() as session:
        await service.set_ticket_tags(
            session, ticket_id=ticket, tag_ids=[auth.id], set_by_slack_id="UBOB", at=set_at
        )
    async with sessions.begin() as session:  # by nobody known: the bot
        await service.remove_tags_from_ticket(session, ticket_id=ticket, tag_ids=[auth.id])
    rows = await postgres.fetch(
        db_url,
        """SELECT e.kind::text AS kind, e.at, u."slackId" AS actor FROM "TicketEvent" e
           LEFT JOIN "User" u ON u.id = e."actorId" WHERE e."ticketId" = $1 ORDER BY e.id""",
        ticket,
    )
    assert [tuple(row.values()) for row in rows][:3] == [
        ("TAG_ADDED", added_at, "UBOB"),
        ("TAG_ADDED", added_at, "UBOB"),
        ("TAG_REMOVED", set_at, "UBOB"),
    ]
    assert [(row["kind"], row["actor"]) for row in rows[3:]] == [("TAG_REMOVED", None)]
