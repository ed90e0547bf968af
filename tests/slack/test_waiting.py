"""Whom a ticket waits on, in Slack (issue 20, section 2): its backend message and the App Home.

Signed events in, the fake Slack's recorded calls out. Questions and replies carry Slack ts at
fixed instants in Europe/London (the desk's TIMEZONE here); the desk's clock is injected, so
the texts never depend on when the test runs.
"""

from __future__ import annotations

from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

from nephthys.slack import messages
from nephthys.slack.home import common
from nephthys.slack.home.common import View
from nephthys.transcripts import load_transcript
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2, STRANGER, TICKET_CHANNEL
from tests.support.slack import app_home_opened, block_actions, button, question

DEFAULT = load_transcript("default")
LONDON = ZoneInfo("Europe/London")
# A summer afternoon (BST, UTC+1), in the past whatever day the test runs.
DAY = datetime(2025, 7, 14, tzinfo=LONDON)
ON_THE_DAY = DAY.replace(hour=18)  # the desk's clock: the same day, later


def clock_on_the_day() -> datetime:
    return ON_THE_DAY


def when(hour: int, minute: int) -> datetime:
    return DAY.replace(hour=hour, minute=minute)


def ts_at(instant: datetime) -> str:
    """A Slack ts at ``instant`` (a quarter second past, as Slack's ts are never round)."""
    return f"{int(instant.timestamp())}.250000"


def since(instant: datetime, fallback: str) -> str:
    return f"<!date^{int(instant.timestamp())}^{{date_short_pretty}} at {{time}}|{fallback}>"


def helpers_since(instant: datetime, fallback: str) -> str:
    return DEFAULT.text("backend_waiting_on_helpers", since=since(instant, fallback))


def asker_since(instant: datetime, fallback: str) -> str:
    return DEFAULT.text("backend_waiting_on_asker", since=since(instant, fallback))


def waiting_line(blocks: list[dict]) -> str:
    """The backend message's line saying whom the ticket waits on."""
    [line] = [
        element["text"]
        for block in blocks
        if block["type"] == "context"
        for element in block["elements"]
        if "Waiting on" in element["text"]
    ]
    return line


def backend_updates(d) -> list:
    return d.slack.calls_to("chat.update", ok=True, channel=TICKET_CHANNEL)


async def ask_at(d, instant: datetime, user: str = ASKER) -> tuple[dict, dict]:
    asked = question(HELP_CHANNEL, user, "How do I ship my project?", ts=ts_at(instant))
    assert (await d.deliver.event(asked)).status_code == 200
    await d.settle()
    return asked, await d.ticket(asked["ts"])


async def reply_at(d, asked: dict, user: str, instant: datetime, text: str = "a reply") -> None:
    await d.reply(asked, user, text, ts=ts_at(instant))


# ---------------------------------------------------------------- the backend message


def test_the_wait_reads_in_each_readers_zone_with_the_desks_time_as_its_fallback():
    asked = when(14, 2)
    # Slack's token: each reader's zone and "today" / "yesterday" / "Mar 3" as they read it.
    assert messages.slack_date(asked, now=ON_THE_DAY, zone=LONDON) == since(asked, "14:02 BST")
    # Read on another day, the fallback names the date; in winter the zone is GMT.
    assert messages.slack_date(asked, now=ON_THE_DAY + timedelta(days=1), zone=LONDON) == since(
        asked, "2025-07-14 14:02 BST"
    )
    winter = datetime(2025, 1, 6, 9, 30, tzinfo=LONDON)
    assert messages.slack_date(winter, now=winter, zone=LONDON) == since(winter, "09:30 GMT")
    # The token holds the instant itself, whatever zone the desk is in.
    assert messages.slack_date(asked, now=ON_THE_DAY, zone=ZoneInfo("UTC")) == since(asked, "13:02 UTC")


async def test_the_backend_message_follows_whom_the_ticket_waits_on_and_nothing_else(desk, team):
    async with desk(clock=clock_on_the_day, timezone="Europe/London") as d:
        asked, ticket = await ask_at(d, when(14, 2))
        [posted] = d.posts(TICKET_CHANNEL)
        assert waiting_line(posted.args["blocks"]) == helpers_since(when(14, 2), "14:02 BST")
        assert backend_updates(d) == []

        # A helper's answer: it waits on the asker, said by one chat.update of the backend message.
        await reply_at(d, asked, HELPER, when(14, 10))
        [update] = backend_updates(d)
        assert update.args["ts"] == ticket["ticketTs"] == posted.response["ts"]
        assert waiting_line(update.args["blocks"]) == asker_since(when(14, 10), "14:10 BST")
        # The rest of the message is as it was: the question, its buttons, its tag controls.
        assert [b["type"] for b in update.args["blocks"]] == [b["type"] for b in posted.args["blocks"]]
        assert update.args["text"] == posted.args["text"]

        # Nothing that leaves the wait as it is calls Slack: someone else's message, the same
        # helper again, another helper taking the ticket over while it still waits on the asker.
        await reply_at(d, asked, STRANGER, when(14, 15))
        await reply_at(d, asked, HELPER, when(14, 20))
        await reply_at(d, asked, HELPER_2, when(14, 22))
        assert len(backend_updates(d)) == 1

        # The asker's reply: back to the helpers, since that reply.
        await reply_at(d, asked, ASKER, when(14, 30))
        assert len(backend_updates(d)) == 2
        assert waiting_line(backend_updates(d)[-1].args["blocks"]) == helpers_since(when(14, 30), "14:30 BST")
        # More from the asker moves nothing: the wait began at their first reply.
        await reply_at(d, asked, ASKER, when(14, 35))
        assert len(backend_updates(d)) == 2
        shown = d.slack.message(TICKET_CHANNEL, ticket["ticketTs"])
        assert shown is not None
        assert waiting_line(shown["blocks"]) == helpers_since(when(14, 30), "14:30 BST")

        # Closed: the backend message goes, with no update before it; reopened: a new one, waiting
        # on the helpers since the reopening.
        await reply_at(d, asked, HELPER, when(14, 40), text="?resolve")
        assert d.slack.was_deleted(TICKET_CHANNEL, ticket["ticketTs"])
        await reply_at(d, asked, ASKER, when(14, 50), text="?reopen")
        assert len(backend_updates(d)) == 2
        first, second = d.posts(TICKET_CHANNEL)
        assert waiting_line(second.args["blocks"]) == helpers_since(when(14, 50), "14:50 BST")
        assert (await d.ticket(asked["ts"]))["ticketTs"] == second.response["ts"]


async def test_a_helpers_macro_answers_the_asker_and_a_late_helper_reply_lands_in_its_place(desk, team):
    async with desk(clock=clock_on_the_day, timezone="Europe/London") as d:
        asked, ticket = await ask_at(d, when(9, 0))
        # ?hii speaks for the helper: it waits on the asker (the macro never assigns the ticket).
        await reply_at(d, asked, HELPER, when(9, 5), text="?hii")
        [update] = backend_updates(d)
        assert waiting_line(update.args["blocks"]) == asker_since(when(9, 5), "09:05 BST")

        # The asker answers at 9:20; then a helper's reply written at 9:10 arrives late. In order,
        # the asker spoke last all along: the wait still began at 9:20, nothing to update.
        await reply_at(d, asked, ASKER, when(9, 20))
        assert waiting_line(backend_updates(d)[-1].args["blocks"]) == helpers_since(when(9, 20), "09:20 BST")
        await reply_at(d, asked, HELPER, when(9, 10))
        assert len(backend_updates(d)) == 2

        # A second question, answered by its asker at 10:10 before the helper's 10:05 answer
        # arrives: the late answer moves the start of the wait on the helpers to 10:10.
        other, other_ticket = await ask_at(d, when(10, 0), user=STRANGER)
        await reply_at(d, other, STRANGER, when(10, 10))
        assert [u.args["ts"] for u in backend_updates(d)].count(other_ticket["ticketTs"]) == 0
        await reply_at(d, other, HELPER, when(10, 5))
        [late] = [u for u in backend_updates(d) if u.args["ts"] == other_ticket["ticketTs"]]
        assert waiting_line(late.args["blocks"]) == helpers_since(when(10, 10), "10:10 BST")

        # ?faq answers and closes: the backend message is deleted, never updated first.
        updates = len(backend_updates(d))
        await reply_at(d, asked, HELPER, when(11, 0), text="?faq")
        assert (await d.ticket(asked["ts"]))["status"] == "CLOSED"
        assert d.slack.was_deleted(TICKET_CHANNEL, ticket["ticketTs"])
        assert len(backend_updates(d)) == updates


# ---------------------------------------------------------------- the App Home


async def test_assigned_to_me_lists_the_tickets_waiting_on_the_viewer_first_longest_wait_first(desk, team):
    async with desk(clock=clock_on_the_day, timezone="Europe/London") as d:
        # (asked, [(who, when)…]) → waiting on, since
        a, _ = await ask_at(d, when(8, 0))
        await reply_at(d, a, HELPER, when(11, 0))  # the asker, since 11:00
        b, _ = await ask_at(d, when(8, 10))
        await reply_at(d, b, HELPER, when(8, 20))
        await reply_at(d, b, ASKER, when(10, 0))  # the helpers, since 10:00
        c, _ = await ask_at(d, when(8, 30))
        await reply_at(d, c, HELPER, when(8, 40))
        await reply_at(d, c, ASKER, when(9, 0))  # the helpers, since 9:00
        await reply_at(d, c, STRANGER, when(12, 0))  # changes nothing
        e, _ = await ask_at(d, when(8, 50))
        await reply_at(d, e, HELPER, when(9, 30))  # the asker, since 9:30
        ids = {
            name: (await d.ticket(asked["ts"]))["id"]
            for name, asked in zip("abce", (a, b, c, e), strict=True)
        }

        response = await d.deliver.event(app_home_opened(HELPER))
        assert response.status_code == 200
        await d.settle()
        payload = block_actions(
            HELPER,
            button(f"{common.VIEW_BUTTON}:{View.ASSIGNED.value}", value=View.ASSIGNED.value),
            view=d.slack.views_published[HELPER],
        )
        assert (await d.deliver.action(payload)).status_code == 200
        await d.settle()
        listed = [
            block for block in d.slack.views_published[HELPER]["blocks"]
            if str(block.get("block_id", "")).startswith("assigned:")
        ]  # fmt: skip
        # Waiting on the viewer first (c since 9:00, b since 10:00), then on the asker (e since
        # 9:30, a since 11:00): not the order they were asked in.
        assert [block["block_id"] for block in listed] == [f"assigned:{ids[n]}" for n in "cbea"]
        waiting_on_you = DEFAULT.text("app_home_last_spoke_asker")
        assert [waiting_on_you in block["text"]["text"] for block in listed] == [True, True, False, False]
        assert all(
            DEFAULT.text("app_home_last_spoke_helper") in block["text"]["text"] for block in listed[2:]
        )
