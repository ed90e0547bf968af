"""A delivery acknowledged by an instance that died before doing its work is replayed, once.

Slack does not redeliver an event it got a 2xx for, so the claim in "SlackEvent" keeps
the event and the replay job finishes it on whichever instance runs the job.
"""

from __future__ import annotations

import json
from datetime import timedelta

from tests.slack.conftest import ASKER, HEARTBEAT_CHANNEL, HELP_CHANNEL, TICKET_CHANNEL
from tests.slack.test_exactly_once import assert_one_complete_ticket
from tests.support.slack import message_changed, question

NOW = timedelta(0)


async def claim_left_by_a_dead_instance(d, event_id: str, event: dict, *, age: timedelta) -> None:
    """What an instance leaves behind when it dies right after acknowledging: a claim, no work."""
    await d.fetch(
        """INSERT INTO "SlackEvent" ("eventId", "receivedAt", "payload")
           VALUES ($1, now() - $2::interval, $3::jsonb)""",
        event_id,
        age,
        json.dumps(event),
    )


async def test_an_acknowledged_question_whose_instance_died_becomes_its_ticket(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "asked just before the instance died")
        d.slack.add_message(HELP_CHANNEL, user=ASKER, text=asked["text"], ts=asked["ts"])
        await claim_left_by_a_dead_instance(d, "Ev0DIED0001", asked, age=timedelta(minutes=10))

        assert await d.service.replay_unfinished_events() == ["Ev0DIED0001"]
        await d.settle()
        await assert_one_complete_ticket(d, asked)
        [delivery] = await d.fetch('SELECT * FROM "SlackEvent" WHERE "eventId" = $1', "Ev0DIED0001")
        assert delivery["processedAt"] is not None

        # Done once: the next replay and a late redelivery from Slack change and post nothing.
        calls_before = len(d.slack.calls)
        assert await d.service.replay_unfinished_events(after=NOW) == []
        response = await d.deliver.event(asked, event_id="Ev0DIED0001", retry_num=1)
        assert response.status_code == 200
        await d.settle()
        assert d.slack.calls[calls_before:] == []
        await assert_one_complete_ticket(d, asked)


async def test_a_claim_still_being_worked_on_is_not_replayed(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "asked a moment ago")
        await claim_left_by_a_dead_instance(d, "Ev0YOUNG001", asked, age=timedelta(seconds=10))
        assert await d.service.replay_unfinished_events() == []
        assert await d.fetch('SELECT * FROM "Ticket"') == []
        assert d.posts(TICKET_CHANNEL) == []


async def test_every_delivery_taken_keeps_its_event_for_the_replay(desk, team):
    async with desk() as d:
        asked = question(HELP_CHANNEL, ASKER, "kept with its claim")
        assert (await d.deliver.event(asked, event_id="Ev0KEPT0001")).status_code == 200
        await d.settle()
        [delivery] = await d.fetch('SELECT "payload"::text AS payload FROM "SlackEvent"')
        assert json.loads(delivery["payload"]) == asked


async def test_an_event_whose_work_failed_for_good_is_reported_and_not_replayed(desk, team):
    async with desk() as d:
        asked, ticket = await d.ask("how do I ship")
        d.slack.fail("chat.update", error="invalid_blocks", times=None)
        edit = message_changed(asked, "how do I ship to itch.io?")
        assert (await d.deliver.event(edit, event_id="Ev0EDITFAIL")).status_code == 200
        await d.settle()
        [alert] = [c for c in d.posts(HEARTBEAT_CHANNEL) if "could not be handled" in c.args["text"]]
        assert "invalid_blocks" in alert.args["text"]
        # Trying again would fail the same way: the delivery is done with, not replayed every few minutes.
        assert await d.service.replay_unfinished_events(after=NOW) == []
        [delivery] = await d.fetch('SELECT * FROM "SlackEvent" WHERE "eventId" = $1', "Ev0EDITFAIL")
        assert delivery["processedAt"] is not None
