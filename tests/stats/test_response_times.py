"""Response times (nephthys/stats/response_times.py) over tickets driven through the lifecycle at explicit instants.

Every figure is checked against tests/support/response_times.py, which replays the logged
events with the Python support calendar and Python's statistics (nothing the service stored).
The desk keeps London hours, Mon-Fri 09:00-18:00, with the spring bank holiday 2025-05-26 off;
British Summer Time began on Sunday 2025-03-30, inside the weeks the tickets span.
"""

from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from nephthys.database.engine import create_engine, session_factory
from nephthys.stats.response_times import response_times
from nephthys.support_calendar import SupportCalendar, parse_holidays, parse_support_hours
from nephthys.tags import service as tags
from nephthys.tickets import lifecycle
from nephthys.tickets.support_minutes import install_calendar
from tests.support.postgres import fetch
from tests.support.response_times import approximately, expected_response_times

LONDON = ZoneInfo("Europe/London")
CALENDAR = SupportCalendar(LONDON, parse_support_hours("Mon-Fri 09:00-18:00"), parse_holidays("2025-05-26"))
ASKERS = [f"UASKER{n:04d}" for n in range(6)]
HELPERS = ["UHELPER001", "UHELPER002", "UHELPER003"]
MINUTE = timedelta(minutes=1)


@pytest.fixture
async def sessions(db_url):
    engine = create_engine(db_url)
    yield session_factory(engine)
    await engine.dispose()


def london(*parts: int) -> datetime:
    return datetime(*parts, tzinfo=LONDON).astimezone(UTC)


def ts_of(at: datetime, n: int) -> str:
    """A Slack ts for the instant (whole milliseconds), unique by ``n``."""
    return f"{int(at.timestamp())}.{at.microsecond // 1000:03d}{n:03d}"


class Desk:
    """Drives tickets through the lifecycle, each change at its own instant."""

    def __init__(self, sessions) -> None:
        self.sessions = sessions
        self.n = 0

    def ts(self, at: datetime) -> str:
        self.n += 1
        return ts_of(at, self.n)

    async def ask(self, asker: str, at: datetime) -> tuple[int, str]:
        msg_ts = self.ts(at)
        opened = await lifecycle.open_ticket(
            self.sessions, msg_ts=msg_ts, asker_slack_id=asker, description="How?", title="How?", at=at
        )
        assert opened is not None and opened.created
        return opened.ticket.id, msg_ts

    async def say(self, msg_ts: str, who: str, at: datetime) -> None:
        said = await lifecycle.record_reply(
            self.sessions, thread_ts=msg_ts, author_slack_id=who, ts=self.ts(at), at=at
        )
        assert said is not None

    async def close(self, ticket_id: int, who: str, at: datetime) -> None:
        change = await lifecycle.resolve_ticket(
            self.sessions, ticket_id=ticket_id, resolver_slack_id=who, at=at
        )
        assert change.outcome is lifecycle.Outcome.CHANGED

    async def reopen(self, ticket_id: int, who: str, at: datetime) -> None:
        change = await lifecycle.reopen_ticket(
            self.sessions, ticket_id=ticket_id, reopener_slack_id=who, at=at
        )
        assert change.outcome is lifecycle.Outcome.CHANGED

    async def tag(self, ticket_id: int, tag_ids: list[int], at: datetime) -> None:
        async with self.sessions.begin() as session:
            await tags.add_tags_to_ticket(
                session, ticket_id=ticket_id, tag_ids=tag_ids, added_by_slack_id=HELPERS[0], at=at
            )


async def a_month_of_tickets(sessions) -> dict[str, int]:
    """About thirty tickets from mid-March to May 2025, each told by a seeded random story."""
    await install_calendar(sessions, CALENDAR)
    for helper in HELPERS:
        await lifecycle.set_helper(sessions, slack_id=helper, helper=True)
    async with sessions.begin() as session:
        auth = await tags.create_tag(session, name="Auth")
        billing = await tags.create_tag(session, name="Billing")
    tag_ids = {"Auth": auth.id, "Billing": billing.id}  # type: ignore[union-attr]
    desk = Desk(sessions)
    story = random.Random(20)
    asked = london(2025, 3, 20, 8, 0)
    for number in range(30):
        asked += story.choice([37, 95, 240, 600, 1500, 2900]) * MINUTE
        asker = story.choice(ASKERS)
        ticket_id, msg_ts = await desk.ask(asker, asked)
        chosen = [name for name in tag_ids if story.random() < 0.4]
        if chosen:
            await desk.tag(ticket_id, [tag_ids[name] for name in chosen], asked + MINUTE)
        at = asked
        if number % 11 == 5:  # the asker gives up unanswered: resolved with no first response
            await desk.close(ticket_id, asker, at + 300 * MINUTE)
            continue
        if number % 13 == 7:  # still waiting for its first answer
            continue
        helper = story.choice(HELPERS)
        at += story.choice([3, 20, 90, 700, 2000, 4400]) * MINUTE
        await desk.say(msg_ts, helper, at)
        for _ in range(story.choice([0, 0, 1, 2])):  # the asker asks again; someone answers
            at += story.choice([5, 45, 800]) * MINUTE
            await desk.say(msg_ts, asker, at)
            if story.random() < 0.15:  # a second asker message does not restart the clock
                at += 7 * MINUTE
                await desk.say(msg_ts, asker, at)
            at += story.choice([2, 30, 200, 1500]) * MINUTE
            await desk.say(msg_ts, story.choice(HELPERS), at)
        ending = story.random()
        if ending < 0.6:
            at += story.choice([1, 15, 600]) * MINUTE
            await desk.close(ticket_id, story.choice([asker, helper]), at)
            if story.random() < 0.3:  # reopened, answered again, closed again
                at += story.choice([40, 1300]) * MINUTE
                await desk.reopen(ticket_id, asker, at)
                at += story.choice([10, 500]) * MINUTE
                await desk.say(msg_ts, helper, at)
                at += 5 * MINUTE
                await desk.close(ticket_id, helper, at)
        elif ending < 0.8:  # the asker has spoken last: a next response runs
            at += 25 * MINUTE
            await desk.say(msg_ts, asker, at)
    return tag_ids


async def figures(connection, **query):
    """The figures in one read-only transaction, as the API reads them."""
    async with connection.begin():
        return await response_times(connection, **query)


PERIODS = [
    (None, None),
    (london(2025, 3, 28), None),  # from before the clocks went forward
    (None, london(2025, 4, 20)),
    (london(2025, 4, 2, 12), london(2025, 5, 30)),  # the bank holiday weekend inside
]


async def test_every_figure_is_the_events_replayed_in_support_minutes(sessions, db_url, connection):
    # One story for every grouping and period (it takes the most time to tell).
    await a_month_of_tickets(sessions)
    spans = await fetch(db_url, 'SELECT DISTINCT kind::text AS kind FROM "TicketSpan"')
    assert {row["kind"] for row in spans} == {"FIRST_RESPONSE", "NEXT_RESPONSE", "RESOLUTION"}
    for by in ("none", "team_tag", "helper"):
        for since, until in PERIODS:
            answer = await figures(connection, since=since, until=until, by=by)
            expected = await expected_response_times(db_url, CALENDAR, since=since, until=until, by=by)
            assert approximately(answer, expected), (by, since, until, answer, expected)
        # The story gives each measure enough values for the percentiles to interpolate.
        whole = await figures(connection, by=by)
        assert all(
            whole[measure]["count"] >= 8 for measure in ("first_response", "next_response", "resolution")
        )
        if by != "none":
            assert len(whole["groups"]) >= 2

    # A period without tickets: counts of 0, every other figure null, no groups.
    empty = {"count": 0, "mean": None, "p50": None, "p90": None, "p95": None}
    nothing = london(2024, 1, 1)
    for by in ("none", "team_tag", "helper"):
        answer = await figures(connection, since=nothing, until=nothing + timedelta(days=1), by=by)
        assert answer == {
            "first_response": empty,
            "next_response": empty,
            "resolution": empty,
            **({"groups": []} if by != "none" else {}),
        }


async def test_a_group_lists_every_measure_with_zero_for_those_it_has_none_of(sessions, connection):
    await install_calendar(sessions, CALENDAR)
    await lifecycle.set_helper(sessions, slack_id=HELPERS[0], helper=True)
    desk = Desk(sessions)
    # Friday 16:30 before the bank holiday, answered Tuesday 09:15: 90 + 15 support minutes.
    ticket_id, msg_ts = await desk.ask(ASKERS[0], london(2025, 5, 23, 16, 30))
    await desk.say(msg_ts, HELPERS[0], london(2025, 5, 27, 9, 15))
    answer = await figures(connection, by="helper")
    [group] = answer["groups"]
    assert group["helper"]["slack_id"] == HELPERS[0]
    assert group["first_response"] == {"count": 1, "mean": 105.0, "p50": 105.0, "p90": 105.0, "p95": 105.0}
    assert group["next_response"]["count"] == 0 and group["resolution"]["count"] == 0
    assert group["next_response"]["p50"] is None
    assert answer["first_response"] == group["first_response"]
    # Closed by its asker: the resolution is the asker's closer's (the credit rule: the assignee).
    await desk.close(ticket_id, ASKERS[0], london(2025, 5, 27, 9, 30))
    answer = await figures(connection, by="helper")
    assert answer["resolution"] == {"count": 1, "mean": 105.0, "p50": 105.0, "p90": 105.0, "p95": 105.0}
    assert answer["groups"][0]["resolution"] == answer["resolution"]
    # An asker who closes their own unanswered question (Tuesday 10:00 to 10:30) is credited
    # with it, but is no helper: the resolution counts, in no helper's group.
    alone, _ = await desk.ask(ASKERS[1], london(2025, 5, 27, 10, 0))
    await desk.close(alone, ASKERS[1], london(2025, 5, 27, 10, 30))
    answer = await figures(connection, by="helper")
    assert answer["resolution"]["count"] == 2 and answer["resolution"]["p50"] == 67.5
    assert [group["helper"]["slack_id"] for group in answer["groups"]] == [HELPERS[0]]
    assert answer["groups"][0]["resolution"]["count"] == 1


async def test_by_must_be_one_of_the_groupings(connection):
    with pytest.raises(ValueError, match="by"):
        await figures(connection, by="tag")
