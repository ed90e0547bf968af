"""Each ticket's SLA clocks over signed Slack requests at Slack's instants (questions in the past):
due instants in support time (the night, the weekend and a bank holiday skipped), the first
response met, a next response started by the asker, the resolution paused while the ticket waits
on its asker, the strictest tag's targets while the tag is on, and a reopen's new clocks."""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nephthys.database.models import SlaState, TicketSpanKind
from nephthys.sla.clocks import StoredClock, clock_view
from nephthys.support_calendar import SupportCalendar, parse_holidays, parse_support_hours
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, TICKET_CHANNEL
from tests.support import postgres
from tests.support.slack import question

LONDON = ZoneInfo("Europe/London")
HOURS, HOLIDAYS = "Mon-Fri 09:00-18:00", "2025-05-26"
CALENDAR = SupportCalendar(LONDON, parse_support_hours(HOURS), parse_holidays(HOLIDAYS))
SLA = dict(
    timezone="Europe/London",
    support_hours=parse_support_hours(HOURS),
    support_holidays=parse_holidays(HOLIDAYS),
    sla_first_response_minutes=30,
    sla_next_response_minutes=60,
    sla_resolution_minutes=240,
)


class Clock:
    """Slack ts for local London times, each one unique (the event log keeps one event per message)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, *parts: int) -> str:
        self.n += 1
        epoch = int(datetime(*parts, tzinfo=LONDON).astimezone(UTC).timestamp())
        return f"{epoch}.{self.n:06d}"


def london(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON).astimezone(UTC)


async def ask(d, ts: str) -> dict:
    asked = question(HELP_CHANNEL, ASKER, "How do I ship my project?", ts=ts)
    assert (await d.deliver.event(asked)).status_code == 200
    await d.settle()
    return asked


async def clocks_of(d, asked: dict) -> dict[str, dict]:
    rows = await d.fetch(
        """SELECT c.* FROM "TicketSlaClock" c JOIN "Ticket" t ON t.id = c."ticketId" WHERE t."msgTs" = $1""",
        asked["ts"],
    )
    return {row["kind"]: dict(row) for row in rows}


def summary(row: dict) -> tuple:
    return (row["state"], row["targetMinutes"], row["minutes"], row["dueAt"], row["warnAt"])


async def test_clocks_follow_the_calendar_the_waits_and_the_strictest_tag(desk, team):
    at = Clock()
    async with desk(**SLA) as d:
        await d.fetch(
            """INSERT INTO "Tag" (name, "slaFirstResponseMinutes", "slaNextResponseMinutes", "slaResolutionMinutes")
               VALUES ('Billing', 10, 20, 100), ('Auth', NULL, 45, NULL)"""
        )
        # Friday 17:45 before the bank holiday: 15 support minutes on Friday, none until Tuesday 09:00.
        asked = await ask(d, at(2025, 5, 23, 17, 45))
        clocks = await clocks_of(d, asked)
        assert set(clocks) == {"FIRST_RESPONSE", "RESOLUTION"}  # no next response before a helper spoke
        assert summary(clocks["FIRST_RESPONSE"]) == (
            "RUNNING",
            30,
            0.0,
            london(2025, 5, 27, 9, 15),
            london(2025, 5, 27, 9, 7, 30),
        )
        assert summary(clocks["RESOLUTION"]) == (
            "RUNNING",
            240,
            0.0,
            london(2025, 5, 27, 12, 45),
            london(2025, 5, 27, 11, 45),
        )
        # The watcher's next work on each is its warning.
        assert clocks["FIRST_RESPONSE"]["actionAt"] == london(2025, 5, 27, 9, 7, 30)

        # Answered at 09:10 on Tuesday: 25 support minutes, met; the resolution pauses (waiting on the asker).
        await d.reply(asked, HELPER, "Here is how", ts=at(2025, 5, 27, 9, 10))
        clocks = await clocks_of(d, asked)
        assert summary(clocks["FIRST_RESPONSE"]) == ("MET", 30, 25.0, None, None)
        assert summary(clocks["RESOLUTION"]) == ("PAUSED", 240, 25.0, None, None)
        assert clocks["RESOLUTION"]["actionAt"] is None and clocks["FIRST_RESPONSE"]["actionAt"] is None

        # The asker writes again at 10:00: a next response runs, and the resolution again.
        await d.reply(asked, ASKER, "It still fails", ts=at(2025, 5, 27, 10, 0))
        clocks = await clocks_of(d, asked)
        assert summary(clocks["NEXT_RESPONSE"]) == (
            "RUNNING",
            60,
            0.0,
            london(2025, 5, 27, 11, 0),
            london(2025, 5, 27, 10, 45),
        )
        assert summary(clocks["RESOLUTION"]) == (
            "RUNNING",
            240,
            25.0,
            london(2025, 5, 27, 13, 35),
            london(2025, 5, 27, 12, 35),
        )

        # Tagged Billing and Auth: per clock the strictest of the tags' own targets, the default elsewhere.
        await d.reply(asked, HELPER, "?tag Billing, Auth", ts=at(2025, 5, 27, 10, 5))
        clocks = await clocks_of(d, asked)
        assert summary(clocks["NEXT_RESPONSE"])[:4] == ("RUNNING", 20, 0.0, london(2025, 5, 27, 10, 20))
        assert summary(clocks["RESOLUTION"])[:4] == ("RUNNING", 100, 25.0, london(2025, 5, 27, 11, 15))
        assert clocks["FIRST_RESPONSE"]["targetMinutes"] == 10  # 25 > 10: breached, now it is known
        assert clocks["FIRST_RESPONSE"]["state"] == "BREACHED"
        # Billing off again: Auth's 45 for the next response, the default for the rest.
        await d.reply(asked, HELPER, "?tag -Billing", ts=at(2025, 5, 27, 10, 6))
        clocks = await clocks_of(d, asked)
        assert summary(clocks["NEXT_RESPONSE"])[:4] == ("RUNNING", 45, 0.0, london(2025, 5, 27, 10, 45))
        assert summary(clocks["RESOLUTION"])[:4] == ("RUNNING", 240, 25.0, london(2025, 5, 27, 13, 35))
        assert summary(clocks["FIRST_RESPONSE"])[:3] == ("MET", 30, 25.0)

        # Answered at 10:30 (next response 30, met); resolved at 10:40 while waiting on the asker:
        # the resolution took 25 + 30 = 55 support minutes.
        await d.reply(asked, HELPER, "Then this", ts=at(2025, 5, 27, 10, 30))
        await d.reply(asked, HELPER, "?resolve", ts=at(2025, 5, 27, 10, 40))
        clocks = await clocks_of(d, asked)
        assert summary(clocks["NEXT_RESPONSE"])[:3] == ("MET", 45, 30.0)
        assert summary(clocks["RESOLUTION"]) == ("MET", 240, 55.0, None, None)

        # Reopened at 17:30: a new resolution clock (and, a helper having spoken, a next response),
        # 30 minutes on Tuesday and the rest from Wednesday 09:00.
        await d.reply(asked, HELPER, "?reopen", ts=at(2025, 5, 27, 17, 30))
        clocks = await clocks_of(d, asked)
        assert clocks["RESOLUTION"]["startAt"] == london(2025, 5, 27, 17, 30)
        assert summary(clocks["RESOLUTION"]) == (
            "RUNNING",
            240,
            0.0,
            london(2025, 5, 28, 12, 30),
            london(2025, 5, 28, 11, 30),
        )
        assert summary(clocks["NEXT_RESPONSE"])[:4] == ("RUNNING", 45, 0.0, london(2025, 5, 28, 9, 15))


def stored(**fields) -> StoredClock:
    base = dict(
        kind=TicketSpanKind.FIRST_RESPONSE,
        target_minutes=30,
        start_at=london(2025, 5, 23, 17, 45),
        state=SlaState.RUNNING,
        minutes=0.0,
        running_since=london(2025, 5, 23, 17, 45),
        due_at=london(2025, 5, 27, 9, 15),
        warn_at=london(2025, 5, 27, 9, 7, 30),
    )
    return StoredClock(**{**base, **fields})


def test_a_clock_shown_at_an_instant_counts_support_minutes_left():
    clock = stored()
    # Over the weekend and the bank holiday nothing moves: 15 minutes left from Friday 18:00 to Tuesday 09:00.
    for instant in (london(2025, 5, 23, 18, 0), london(2025, 5, 25, 12, 0), london(2025, 5, 26, 12, 0)):
        view = clock_view(clock, instant, CALENDAR)
        assert (view.state, view.minutes_left, view.at_risk) == ("running", 15.0, False)
    assert clock_view(clock, london(2025, 5, 27, 9, 7, 29), CALENDAR).at_risk is False
    view = clock_view(clock, london(2025, 5, 27, 9, 7, 30), CALENDAR)
    assert (view.state, view.minutes_left, view.at_risk) == ("running", 7.5, True)
    view = clock_view(clock, london(2025, 5, 27, 9, 20), CALENDAR)
    assert (view.state, view.minutes_left, view.at_risk) == ("breached", -5.0, False)
    assert view.as_json() == {
        "target_minutes": 30,
        "state": "breached",
        "due_at": "2025-05-27T08:15:00.000+00:00",
        "minutes_left": -5.0,
    }
    paused = clock_view(
        stored(state=SlaState.PAUSED, minutes=12.5, running_since=None, due_at=None),
        london(2025, 5, 27, 9, 20),
        CALENDAR,
    )
    assert (paused.state, paused.due_at, paused.minutes_left) == ("paused", None, 17.5)
    met = clock_view(
        stored(state=SlaState.MET, minutes=25.0, running_since=None, due_at=None),
        london(2025, 5, 28),
        CALENDAR,
    )
    assert (met.state, met.minutes_left) == ("met", None)


async def test_a_database_dropping_out_at_the_first_clocks_leaves_no_ticket_without_them(desk, team):
    # The ticket and its first clocks are one transaction. Here the database drops out (a
    # connection-failure error, as a restart gives) the first time clocks are stored: had the
    # ticket been committed on its own, the question's retry would find it and store no clocks,
    # and sla-watch would never warn about it.
    at = Clock()
    async with desk(**SLA) as d:
        await postgres.execute(
            d.db_url,
            """CREATE SEQUENCE test_clock_inserts;
               CREATE FUNCTION test_clocks_drop_once() RETURNS trigger LANGUAGE plpgsql AS $$
               BEGIN
                   IF nextval('test_clock_inserts') = 1 THEN  -- a sequence: not undone by the rollback
                       RAISE EXCEPTION 'terminating connection' USING ERRCODE = '57P01';
                   END IF;
                   RETURN NEW;
               END $$;
               CREATE TRIGGER test_clocks_drop_once BEFORE INSERT ON "TicketSlaClock"
                   FOR EACH ROW EXECUTE FUNCTION test_clocks_drop_once();""",
        )
        try:
            asked = await ask(d, at(2025, 5, 27, 10, 0))
            await d.settle()
            [inserts] = await d.fetch("SELECT last_value FROM test_clock_inserts")
            assert inserts["last_value"] >= 2  # it failed once, then was stored
        finally:
            await postgres.execute(
                d.db_url,
                """DROP TRIGGER test_clocks_drop_once ON "TicketSlaClock";
                   DROP FUNCTION test_clocks_drop_once(); DROP SEQUENCE test_clock_inserts;""",
            )
        assert len(await d.fetch('SELECT * FROM "Ticket"')) == 1
        clocks = await clocks_of(d, asked)
        assert {kind: row["state"] for kind, row in clocks.items()} == {
            "FIRST_RESPONSE": "RUNNING",
            "RESOLUTION": "RUNNING",
        }
        assert len(d.posts(TICKET_CHANNEL)) == 1
