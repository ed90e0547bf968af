"""Exactly once, whatever Slack does: redeliveries, forged requests, an unreachable database."""

from __future__ import annotations

import asyncio
import contextlib
import json
import time

import asyncpg
import httpx

from tests.conftest import make_app, make_settings
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, TICKET_CHANNEL, eventually
from tests.support import postgres
from tests.support.server import running
from tests.support.slack import SlackDelivery, event_callback, question, slack_settings


async def assert_one_complete_ticket(d, asked) -> dict:
    tickets = await d.fetch('SELECT * FROM "Ticket"')
    assert len(tickets) == 1
    [ticket] = tickets
    assert ticket["msgTs"] == asked["ts"] and ticket["ticketTs"] is not None
    assert len(d.posts(TICKET_CHANNEL)) == 1
    assert len(d.posts(HELP_CHANNEL, thread_ts=asked["ts"])) == 1
    assert len(d.slack.calls_to("reactions.add", ok=True)) == 1
    assert len(await d.bot_messages(ticket["id"])) == 2
    return ticket


async def test_a_redelivered_question_changes_nothing_and_posts_nothing_twice(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "how do I ship?")
        assert (await d.deliver.event(asked, event_id="Ev0REDELIV1")).status_code == 200
        await d.settle()
        ticket = await assert_one_complete_ticket(d, asked)
        for retry in (1, 2, 3):
            response = await d.deliver.redeliver(retry_num=retry)
            assert response.status_code == 200
        await d.settle()
        assert await d.ticket(asked["ts"]) == ticket
        await assert_one_complete_ticket(d, asked)
        [event] = await d.fetch('SELECT * FROM "SlackEvent"')
        assert event["eventId"] == "Ev0REDELIV1" and event["processedAt"] is not None


async def test_three_deliveries_at_once_make_one_ticket(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "how do I ship?")
        envelope = event_callback(asked, event_id="Ev0TRIPLE01")
        responses = await asyncio.gather(
            d.deliver.envelope(envelope),
            d.deliver.envelope(envelope, retry_num=1),
            d.deliver.envelope(envelope, retry_num=2),
        )
        assert [r.status_code for r in responses] == [200, 200, 200]
        await d.settle()
        await assert_one_complete_ticket(d, asked)


async def test_one_question_under_two_event_ids_is_still_one_ticket(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "how do I ship?")
        await asyncio.gather(
            d.deliver.event(asked, event_id="Ev0FIRST001"), d.deliver.event(asked, event_id="Ev0SECOND01")
        )
        await d.settle()
        await assert_one_complete_ticket(d, asked)


async def test_a_redelivered_reply_and_macro_act_once(desk, team):
    async with desk() as d:
        asked, _ = await d.ask()
        await d.reply(asked, HELPER, "?resolve")
        calls_before = len(d.slack.calls)
        for retry in (1, 2):
            assert (await d.deliver.redeliver(retry_num=retry)).status_code == 200
        await d.settle()
        assert d.slack.calls[calls_before:] == []


async def test_two_instances_share_the_deduplication(db_url, fake, team):
    settings = make_settings(database_url=db_url, **slack_settings(fake))
    first, second = make_app(settings), make_app(settings)
    async with running(first) as url_1, running(second) as url_2:
        async with (
            httpx.AsyncClient(base_url=url_1) as client_1,
            httpx.AsyncClient(base_url=url_2) as client_2,
        ):
            asked = question(HELP_CHANNEL, ASKER, "asked once, delivered to both instances")
            envelope = event_callback(asked, event_id="Ev0TWOINST1")
            responses = await asyncio.gather(
                SlackDelivery(client_1, fake=fake).envelope(envelope),
                SlackDelivery(client_2, fake=fake).envelope(envelope, retry_num=1),
            )
            assert [r.status_code for r in responses] == [200, 200]
            await first.state.slack.drain(20)
            await second.state.slack.drain(20)
    tickets = await postgres.fetch(db_url, 'SELECT * FROM "Ticket"')
    assert len(tickets) == 1
    assert len(fake.calls_to("chat.postMessage", ok=True, channel=TICKET_CHANNEL)) == 1
    assert len(fake.calls_to("chat.postMessage", ok=True, channel=HELP_CHANNEL)) == 1


async def test_forged_stale_and_replayed_requests_get_401_and_write_nothing(desk, team):
    async with desk() as d:
        body = json.dumps(event_callback(question(HELP_CHANNEL, ASKER, "forged"))).encode()
        wrong_secret = await d.deliver.post(body, content_type="application/json", secret="not-the-secret")
        stale = await d.deliver.post(
            body, content_type="application/json", timestamp=int(time.time()) - 6 * 60
        )
        # A signature captured from one body, replayed with another.
        genuine = SlackDelivery(d.client).post
        other_body = json.dumps(event_callback(question(HELP_CHANNEL, ASKER, "replayed"))).encode()
        from tests.support.slack import signed_headers

        captured = signed_headers(body, d.deliver.signing_secret)
        replayed = await d.client.post(
            "/slack/events", content=other_body, headers={**captured, "Content-Type": "application/json"}
        )
        unsigned = await d.client.post(
            "/slack/events", content=body, headers={"Content-Type": "application/json"}
        )
        assert genuine is not None
        assert [r.status_code for r in (wrong_secret, stale, replayed, unsigned)] == [401, 401, 401, 401]
        await d.settle()
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []
        assert await d.fetch('SELECT * FROM "Ticket"') == []
        assert d.posts(HELP_CHANNEL) == [] and d.posts(TICKET_CHANNEL) == []


async def test_url_verification_is_answered(desk, team):
    async with desk() as d:
        response = await d.deliver.url_verification("the-challenge")
        assert response.status_code == 200 and response.json() == {"challenge": "the-challenge"}


@contextlib.asynccontextmanager
async def database_unreachable(db_url: str):
    """No new connections to the test database, and the open ones are cut (as when PostgreSQL goes away)."""
    name = postgres.database_name(db_url)
    server = postgres.with_database(db_url, "postgres")
    await postgres.execute(server, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
    await postgres.execute(
        server,
        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid()",
        name,
    )
    try:
        yield
    finally:
        await postgres.execute(server, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')


async def test_an_unreachable_database_gets_a_non_2xx_and_the_redelivery_works(desk, team, db_url):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "asked while the database is down")
        async with database_unreachable(db_url):
            response = await d.deliver.event(asked, event_id="Ev0DBDOWN01")
            assert response.status_code >= 500
            await d.settle()
        # Nothing was half-written and nothing was posted.
        assert await d.fetch('SELECT * FROM "SlackEvent"') == []
        assert await d.fetch('SELECT * FROM "Ticket"') == []
        assert d.posts(HELP_CHANNEL) == [] and d.posts(TICKET_CHANNEL) == []

        # Slack redelivers; the database is back.
        assert (await d.deliver.redeliver(retry_num=1, retry_reason="http_error")).status_code == 200
        await d.settle()
        await assert_one_complete_ticket(d, asked)


async def test_the_database_dropping_out_after_the_acknowledgement_is_survived(desk, team, db_url, caplog):
    name = postgres.database_name(db_url)
    server = postgres.with_database(db_url, "postgres")
    async with desk() as d:
        # Hold the ticket table, so the acknowledged question waits inside the database...
        locker = await asyncpg.connect(db_url)
        transaction = locker.transaction()
        await transaction.start()
        try:
            await locker.execute('LOCK TABLE "Ticket" IN ACCESS EXCLUSIVE MODE')
            asked = question(HELP_CHANNEL, ASKER, "asked just before the database went away")
            assert (await d.deliver.event(asked, event_id="Ev0DROPOUT1")).status_code == 200

            async def service_waits_on_the_lock() -> bool:
                rows = await postgres.fetch(
                    server,
                    "SELECT 1 FROM pg_stat_activity WHERE datname = $1 AND wait_event_type = 'Lock'",
                    name,
                )
                return bool(rows)

            await eventually(service_waits_on_the_lock)
            # ...then the database goes away: its connections are cut and new ones refused.
            await postgres.execute(server, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS false')
            await postgres.execute(
                server,
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1 AND pid <> $2",
                name,
                locker.get_server_pid(),
            )

            async def a_retry_is_pending() -> bool:
                return any("database unavailable" in record.getMessage() for record in caplog.records)

            await eventually(a_retry_is_pending)
        finally:
            # Whatever happened, the database comes back and the lock is released.
            await postgres.execute(server, f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS true')
            await transaction.rollback()
            await locker.close()
        # The database is back: the acknowledged question becomes its ticket, once.
        await d.settle()
        await assert_one_complete_ticket(d, asked)
        [event] = await d.fetch('SELECT * FROM "SlackEvent"')
        assert event["processedAt"] is not None
