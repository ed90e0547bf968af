"""The dashboard's queue (issue 20, section 2): only tickets waiting on the helpers, longest wait first.

Tickets are made by the lifecycle itself (opened, answered, answered by a macro, closed, reopened,
at Slack's instants), so their waits are the ones the timeline keeps; the queue and its count
are read with ``unanswered_queue`` at a fixed ``now``, and every figure is worked out here.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.stats.overview import MessageLinks, oldest_unanswered_ticket
from nephthys.stats.unanswered import unanswered_queue
from nephthys.tickets import lifecycle
from tests.api.data import add_user

NOW = datetime(2026, 3, 10, 12, 0, tzinfo=UTC)
LINKS = MessageLinks("https://hackclub.slack.com", "C0HELP0001")
ASKER, OTHER_ASKER, HELPER, STRANGER = "UASKER001", "UASKER002", "UHELPER01", "USTRANGE1"


def at(minutes_before_now: float) -> datetime:
    return NOW - timedelta(minutes=minutes_before_now)


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


async def ask(sessions, n: int, minutes_before_now: float, asker: str = ASKER) -> tuple[int, str]:
    msg_ts = f"1700000000.{n:06d}"
    opened = await lifecycle.open_ticket(
        sessions,
        msg_ts=msg_ts,
        asker_slack_id=asker,
        description=f"question {n}",
        title=f"Question {n}",
        at=at(minutes_before_now),
    )
    assert opened is not None
    return opened.ticket.id, msg_ts


async def say(sessions, msg_ts: str, who: str, minutes_before_now: float) -> None:
    ts = f"1700000001.{int(minutes_before_now * 10):06d}"
    await lifecycle.record_reply(
        sessions, thread_ts=msg_ts, author_slack_id=who, ts=ts, at=at(minutes_before_now)
    )


async def test_the_queue_counts_only_tickets_waiting_on_the_helpers(sessions, db_url, connection):
    await add_user(db_url, HELPER, helper=True)
    # Answered by a helper's macro (?hii): waiting on the asker, though still OPEN and the asker's
    # question the last message, which is all stats_v2's oldest unanswered ticket looks at
    # (its lastMsgAt, the time it was stored, is the earliest: it is stored first).
    macro, _ = await ask(sessions, 4, 600, asker=OTHER_ASKER)
    recorded = await lifecycle.record_helper_macro(
        sessions, ticket_id=macro, helper_slack_id=HELPER, ts="1700000002.000001", at=at(590)
    )
    assert recorded.logged and recorded.waiting_changed
    # Asked 300 minutes ago; nobody but a stranger answered: waiting on the helpers since it was asked.
    unanswered, unanswered_ts = await ask(sessions, 1, 300)
    await say(sessions, unanswered_ts, STRANGER, 290)
    # Asked 400 minutes ago and answered, then the asker spoke again 100 minutes ago (and again
    # at 50, which moves nothing): in progress, waiting on the helpers since 100 minutes ago.
    came_back, came_back_ts = await ask(sessions, 2, 400)
    await say(sessions, came_back_ts, HELPER, 390)
    await say(sessions, came_back_ts, ASKER, 100)
    await say(sessions, came_back_ts, ASKER, 50)
    # Answered: waiting on the asker.
    answered, answered_ts = await ask(sessions, 3, 500)
    await say(sessions, answered_ts, HELPER, 480)
    # Closed: waiting on nobody.
    closed, _ = await ask(sessions, 5, 700)
    await lifecycle.resolve_ticket(sessions, ticket_id=closed, resolver_slack_id=HELPER, at=at(650))
    # Closed, then reopened 30 minutes ago: waiting on the helpers since the reopening.
    reopened, reopened_ts = await ask(sessions, 6, 800)
    await say(sessions, reopened_ts, HELPER, 790)
    await lifecycle.resolve_ticket(sessions, ticket_id=reopened, resolver_slack_id=HELPER, at=at(780))
    await lifecycle.reopen_ticket(sessions, ticket_id=reopened, reopener_slack_id=ASKER, at=at(30))

    queue = await unanswered_queue(connection, NOW, LINKS, limit=50, with_descriptions=True)
    assert queue["total"] == 3
    assert [(t["id"], t["waiting_minutes"]) for t in queue["tickets"]] == [
        (unanswered, 300),
        (came_back, 100),
        (reopened, 30),
    ]
    first = queue["tickets"][0]
    assert first["waiting_since"] == first["created_at"] == at(300).isoformat(timespec="milliseconds")
    assert first["link"] == "https://hackclub.slack.com/archives/C0HELP0001/p1700000000000001"
    assert first["title"] == "Question 1" and first["description"] == "question 1"
    assert queue["tickets"][1]["waiting_since"] == at(100).isoformat(timespec="milliseconds")

    # The first page alone still counts them all.
    page = await unanswered_queue(connection, NOW, LINKS, limit=1, with_descriptions=True)
    assert page["total"] == 3 and [t["id"] for t in page["tickets"]] == [unanswered]

    # /api/stats_v2 keeps its own definition: its oldest unanswered ticket is the one a macro
    # answered, which the queue leaves out (docs/api.md says so).
    oldest = await oldest_unanswered_ticket(connection, NOW, LINKS)
    assert oldest is not None and oldest["id"] == macro
    assert answered not in [t["id"] for t in queue["tickets"]]


async def test_an_answer_takes_a_ticket_out_of_the_queue_and_the_askers_reply_puts_it_back(
    sessions, db_url, connection
):
    await add_user(db_url, HELPER, helper=True)
    ticket, msg_ts = await ask(sessions, 1, 60)
    assert (await unanswered_queue(connection, NOW, LINKS, limit=5, with_descriptions=False))["total"] == 1
    await say(sessions, msg_ts, HELPER, 40)
    assert await unanswered_queue(connection, NOW, LINKS, limit=5, with_descriptions=False) == {
        "total": 0,
        "tickets": [],
    }
    await say(sessions, msg_ts, ASKER, 20)
    queue = await unanswered_queue(connection, NOW, LINKS, limit=5, with_descriptions=False)
    assert [(t["id"], t["waiting_minutes"]) for t in queue["tickets"]] == [(ticket, 20)]
    assert queue["tickets"][0]["title"] is None  # a first-words title, without descriptions
