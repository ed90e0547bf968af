"""sla-watch over signed Slack requests and the fake Slack, with questions whose ts lies in the past and
the job's clock injected: a warning exactly once at the warning point and not before, a breach exactly
once, nothing moving at night, at the weekend or on a holiday, a clock paused while the ticket waits on
its asker, the strictest tag's target winning, the warning to the assignee (or the team channel), the
breach mentioning the assignee and the tag's subscribers, and two instances racing for one minute, or a
restart, posting once. `nephthys jobs run sla-watch` is tested in tests/sla/test_watch_command.py."""

from __future__ import annotations

import asyncio
from datetime import datetime

from nephthys.sla.due import clocks_due
from nephthys.tasks.sla_watch import SlaWatch
from tests.sla.test_clocks import SLA, Clock, ask, london
from tests.slack.conftest import ASKER, BTS_CHANNEL, HELP_CHANNEL, HELPER, HELPER_2, TICKET_CHANNEL

WARNING, BREACH = ":alarm_clock:", ":rotating_light:"
# Warnings at 80% of a target, so each warning point is a whole minute (sla-watch runs once a minute).
WATCHED = {**SLA, "sla_warn_at": 0.8}


def job(d, at: datetime) -> SlaWatch:
    return SlaWatch(d.service.ctx, clock=lambda: at, interval_seconds=0)


async def watch(d, *parts: int) -> str:
    done = await job(d, london(*parts)).run()
    await d.settle()
    return done


def sla_posts(d, channel: str, mark: str) -> list[str]:
    return [
        c.args["text"]
        for c in d.slack.calls_to("chat.postMessage", ok=True, channel=channel)
        if mark in c.args["text"]
    ]


async def sla_events(d, ticket_id: int) -> list[tuple]:
    rows = await d.fetch(
        """SELECT kind, "slaClock", "clockStartAt", at, "msgTs" FROM "TicketEvent"
           WHERE "ticketId" = $1 AND kind IN ('SLA_WARNED', 'SLA_BREACHED') ORDER BY id""",
        ticket_id,
    )
    return [(r["kind"], r["slaClock"], r["clockStartAt"], r["at"], r["msgTs"] is not None) for r in rows]


def link(asked: dict) -> str:
    return f"/archives/{HELP_CHANNEL}/p{asked['ts'].replace('.', '')}"


async def test_a_warning_and_a_breach_exactly_once_and_nothing_at_night_weekend_or_holiday(desk, team):
    at = Clock()
    async with desk(**WATCHED) as d:
        # Friday 17:45 before the bank holiday; nobody answers. First response: 30 support minutes
        # (warning at 24): 15 on Friday, then Tuesday 09:00-09:15.
        asked = await ask(d, at(2025, 5, 23, 17, 45))
        ticket = await d.ticket(asked["ts"])
        for instant in [(2025, 5, 23, 17, 59), (2025, 5, 23, 23, 0), (2025, 5, 24, 12, 0), (2025, 5, 25, 18, 0),
                        (2025, 5, 26, 12, 0), (2025, 5, 27, 9, 8, 59)]:  # fmt: skip
            assert await watch(d, *instant) == "warned 0, posted 0 breaches"
        assert sla_posts(d, BTS_CHANNEL, WARNING) == []

        # At the warning point: unassigned, untagged, so the team channel hears it, once.
        assert await watch(d, 2025, 5, 27, 9, 9) == "warned 1, posted 0 breaches"
        [warning] = sla_posts(d, BTS_CHANNEL, WARNING)
        assert warning.startswith(":alarm_clock: First response due in 6m of support time (target 30m): <")
        assert link(asked) in warning
        assert await watch(d, 2025, 5, 27, 9, 10) == "warned 0, posted 0 breaches"
        assert await watch(d, 2025, 5, 27, 9, 14) == "warned 0, posted 0 breaches"

        # At the target: the breach, once, in the team channel, linked to the thread.
        assert await watch(d, 2025, 5, 27, 9, 15) == "warned 0, posted 1 breaches"
        [breach] = sla_posts(d, BTS_CHANNEL, BREACH)
        assert (
            breach.startswith(":rotating_light: First response target of 30m missed: <")
            and link(asked) in breach
        )
        for instant in [(2025, 5, 27, 9, 16), (2025, 5, 27, 11, 0)]:
            assert await watch(d, *instant) == "warned 0, posted 0 breaches"
        assert len(sla_posts(d, BTS_CHANNEL, BREACH)) == 1 and len(sla_posts(d, BTS_CHANNEL, WARNING)) == 1

        # The resolution (240, warning at 192: Friday's 15 and Tuesday 09:00-11:57) warns in its turn.
        assert await watch(d, 2025, 5, 27, 11, 56) == "warned 0, posted 0 breaches"
        assert await watch(d, 2025, 5, 27, 11, 57) == "warned 1, posted 0 breaches"
        opened = london(2025, 5, 23, 17, 45)
        assert await sla_events(d, ticket["id"]) == [
            ("SLA_WARNED", "FIRST_RESPONSE", opened, london(2025, 5, 27, 9, 9), True),
            ("SLA_BREACHED", "FIRST_RESPONSE", opened, london(2025, 5, 27, 9, 15), True),
            ("SLA_WARNED", "RESOLUTION", opened, london(2025, 5, 27, 11, 57), True),
        ]

    # A restart (a new service on the same database): nothing is posted again (nothing is due: each
    # clock's warning and breach are on its timeline).
    async with desk(**WATCHED) as d:
        for instant in [(2025, 5, 27, 11, 57), (2025, 5, 27, 11, 58)]:
            assert await watch(d, *instant) == "warned 0, posted 0 breaches"
        assert len(sla_posts(d, BTS_CHANNEL, BREACH)) == 1 and len(sla_posts(d, BTS_CHANNEL, WARNING)) == 2


async def test_paused_while_waiting_on_the_asker_strictest_tag_and_who_hears(desk, team):
    at = Clock()
    async with desk(**WATCHED) as d:
        await d.fetch(
            """INSERT INTO "Tag" (name, "slaNextResponseMinutes") VALUES ('Billing', 20), ('Auth', 45)"""
        )
        # Monday 09:00, answered at 09:10 (assigned to HELPER): the resolution pauses with 10 minutes.
        asked = await ask(d, at(2025, 6, 2, 9, 0))
        ticket = await d.ticket(asked["ts"])
        await d.reply(asked, HELPER, "Try this", ts=at(2025, 6, 2, 9, 10))
        await d.fetch(
            """INSERT INTO "User" ("slackId") VALUES ('U0HELPER02') ON CONFLICT ("slackId") DO NOTHING"""
        )
        await d.fetch(
            """INSERT INTO user_tag_subscriptions ("userId", "tagId")
               SELECT u.id, t.id FROM "User" u, "Tag" t WHERE u."slackId" = 'U0HELPER02' AND t.name = 'Billing'"""
        )
        # Waiting on the asker all afternoon and overnight: the resolution would have warned at 12:10
        # (180 of 240) and breached at 13:10 had it run; paused, nothing moves.
        for instant in [
            (2025, 6, 2, 12, 10),
            (2025, 6, 2, 13, 10),
            (2025, 6, 2, 17, 59),
            (2025, 6, 3, 8, 59),
        ]:
            assert await watch(d, *instant) == "warned 0, posted 0 breaches"

        # The asker writes Tuesday 09:00; tagged Billing (next response 20) and Auth (45): the strictest wins.
        await d.reply(asked, ASKER, "It still fails", ts=at(2025, 6, 3, 9, 0))
        await d.reply(asked, HELPER, "?tag Billing, Auth", ts=at(2025, 6, 3, 9, 1))
        assert await watch(d, 2025, 6, 3, 9, 15) == "warned 0, posted 0 breaches"
        # 16 of 20 minutes: the assignee hears it in a DM; the team channel does not.
        assert await watch(d, 2025, 6, 3, 9, 16) == "warned 1, posted 0 breaches"
        [dm] = sla_posts(d, HELPER, WARNING)
        assert dm.startswith(":alarm_clock: Next response due in 4m of support time (target 20m): <")
        assert sla_posts(d, BTS_CHANNEL, WARNING) == [] and sla_posts(d, HELPER_2, WARNING) == []
        # At 20 minutes the breach, mentioning the assignee and Billing's subscriber.
        assert await watch(d, 2025, 6, 3, 9, 20) == "warned 0, posted 1 breaches"
        [breach] = sla_posts(d, BTS_CHANNEL, BREACH)
        assert breach.startswith(":rotating_light: Next response target of 20m missed: <")
        assert breach.endswith(f"<@{HELPER}> <@{HELPER_2}>") and link(asked) in breach

        # The resolution ran again from 09:00 with 10 minutes taken: it warns at 09:00 + 182 = 12:02.
        assert await watch(d, 2025, 6, 3, 12, 1) == "warned 0, posted 0 breaches"
        assert await watch(d, 2025, 6, 3, 12, 2) == "warned 1, posted 0 breaches"
        kinds = [(kind, clock) for kind, clock, *_ in await sla_events(d, ticket["id"])]
        assert kinds == [
            ("SLA_WARNED", "NEXT_RESPONSE"),
            ("SLA_BREACHED", "NEXT_RESPONSE"),
            ("SLA_WARNED", "RESOLUTION"),
        ]


async def test_instances_racing_for_a_minute_or_for_a_clock_post_once(desk, team):
    at = Clock()
    async with desk(**WATCHED) as d:
        asked = await ask(d, at(2025, 6, 2, 9, 0))
        ticket = await d.ticket(asked["ts"])
        # Two instances' runs of the same minute: one does the work, the other finds it taken.
        results = await asyncio.gather(*(job(d, london(2025, 6, 2, 9, 24)).run() for _ in range(2)))
        await d.settle()
        # (the other found the minute taken, or, reading after the first logged it, nothing due)
        done, other = sorted(results, key=lambda result: result != "warned 1, posted 0 breaches")
        assert done == "warned 1, posted 0 breaches"
        assert other in {"minute 08:24 UTC already watched", "warned 0, posted 0 breaches"}
        assert len(sla_posts(d, BTS_CHANNEL, WARNING)) == 1
        # A slow run overlapping the next minute's (the minute claims taken; their work at once): each
        # clock still posts once, whichever logs it first.
        first, second = london(2025, 6, 2, 9, 30, 10), london(2025, 6, 2, 9, 31, 20)

        async def work_of(at: datetime) -> str:
            due = await clocks_due(d.service.ctx.sessions, now=at, limit=40)
            return await job(d, at)._watch(at, due)

        results = await asyncio.gather(work_of(first), work_of(second))
        await d.settle()
        assert sorted(results) == ["warned 0, posted 0 breaches", "warned 0, posted 1 breaches"]
        assert len(sla_posts(d, BTS_CHANNEL, WARNING)) == 1 and len(sla_posts(d, BTS_CHANNEL, BREACH)) == 1
        assert [kind for kind, *_ in await sla_events(d, ticket["id"])] == ["SLA_WARNED", "SLA_BREACHED"]


def sla_line(d, ticket_ts: str) -> str | None:
    message = d.slack.message(TICKET_CHANNEL, ticket_ts)
    return next((b["elements"][0]["text"] for b in message["blocks"] if b.get("block_id") == "sla"), None)


async def test_the_backend_message_shows_the_tightest_clock_when_its_state_changes(desk, team):
    at, now = Clock(), [london(2025, 6, 2, 9, 0, 30)]
    async with desk(clock=lambda: now[0], **WATCHED) as d:
        asked = await ask(d, at(2025, 6, 2, 9, 0))
        ticket = await d.ticket(asked["ts"])
        # Posted with the first response (30) the tightest of the two running clocks.
        assert sla_line(d, ticket["ticketTs"]) == ":alarm_clock: First response due in 30m of support time"
        # Not rewritten every minute: the warning at 09:24 leaves it as it was...
        now[0] = london(2025, 6, 2, 9, 24)
        assert await watch(d, 2025, 6, 2, 9, 24) == "warned 1, posted 0 breaches"
        assert sla_line(d, ticket["ticketTs"]) == ":alarm_clock: First response due in 30m of support time"
        # ...the breach, a change of state, rewrites it.
        now[0] = london(2025, 6, 2, 9, 30)
        assert await watch(d, 2025, 6, 2, 9, 30) == "warned 0, posted 1 breaches"
        assert sla_line(d, ticket["ticketTs"]) == ":rotating_light: First response target missed"
        # Answered at 09:40: waiting on the asker, the resolution is paused with 200 of 240 left.
        now[0] = london(2025, 6, 2, 9, 40)
        await d.reply(asked, HELPER, "Here you go", ts=at(2025, 6, 2, 9, 40))
        assert sla_line(d, ticket["ticketTs"]) == (
            ":double_vertical_bar: Resolution paused with 3h 20m of support time left (waiting on the asker)"
        )


async def test_one_run_coalesces_its_posts_per_recipient(desk, team):
    at = Clock()
    async with desk(**WATCHED) as d:
        # Two questions nobody answered, asked together: one run warns of both in one team-channel
        # message (no assignee, no tags), and a later one breaches both in one message.
        first = await ask(d, at(2025, 6, 2, 9, 0))
        second = await ask(d, at(2025, 6, 2, 9, 0))
        assert await watch(d, 2025, 6, 2, 9, 24) == "warned 2, posted 0 breaches"
        [warnings] = sla_posts(d, BTS_CHANNEL, WARNING)
        assert warnings.count(":alarm_clock:") == 2 and link(first) in warnings and link(second) in warnings
        assert await watch(d, 2025, 6, 2, 9, 30) == "warned 0, posted 2 breaches"
        [breaches] = sla_posts(d, BTS_CHANNEL, BREACH)
        assert breaches.count(":rotating_light:") == 2
        # Each event knows the message that carried it.
        for asked in (first, second):
            ticket = await d.ticket(asked["ts"])
            assert [has_message for *_, has_message in await sla_events(d, ticket["id"])] == [True, True]
