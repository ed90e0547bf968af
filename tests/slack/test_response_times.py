"""/api/stats/response_times over tickets told through signed Slack requests, at Slack's instants.

The desk keeps London hours (Mon-Fri 09:00-18:00) with the spring bank holiday, Monday
2025-05-26, off. Every figure the route answers is also computed in the test from the logged
events (tests/support/response_times.py: the Python support calendar and Python's statistics),
and the stories below are small enough to say their minutes by hand as well.
"""

from __future__ import annotations

from datetime import UTC, datetime
from zoneinfo import ZoneInfo

from nephthys.support_calendar import SupportCalendar, parse_holidays, parse_support_hours
from tests.slack.conftest import ASKER, HELP_CHANNEL, HELPER, HELPER_2
from tests.support.response_times import approximately, expected_response_times
from tests.support.slack import question

LONDON = ZoneInfo("Europe/London")
HOURS = "Mon-Fri 09:00-18:00"
HOLIDAYS = "2025-05-26"
CALENDAR = SupportCalendar(LONDON, parse_support_hours(HOURS), parse_holidays(HOLIDAYS))
# After the restart: no support hours, no holidays; every minute counts (in London, for the record).
ALWAYS = SupportCalendar(LONDON)
ROUTE = "/api/stats/response_times"


class Clock:
    """Slack ts for local London times, each one unique (the event log keeps one event per message)."""

    def __init__(self) -> None:
        self.n = 0

    def __call__(self, *parts: int) -> str:
        self.n += 1
        epoch = int(datetime(*parts, tzinfo=LONDON).astimezone(UTC).timestamp())
        return f"{epoch}.{self.n:06d}"


async def ask(d, ts: str) -> dict:
    asked = question(HELP_CHANNEL, ASKER, "How do I ship my project?", ts=ts)
    assert (await d.deliver.event(asked)).status_code == 200
    await d.settle()
    return asked


async def figures(d, **params) -> dict:
    response = await d.client.get(ROUTE, params=params)
    assert response.status_code == 200, response.text
    assert response.headers["content-type"] == "application/json" and response.headers["etag"]
    return response.json()


async def tell_three_stories(d) -> dict[str, dict]:
    at = Clock()
    await d.fetch("""INSERT INTO "Tag" (name) VALUES ('Auth'), ('Billing')""")

    # Asked on the Friday afternoon before the bank holiday, answered on Tuesday morning:
    # Fri 16:30-18:00 and Tue 09:00-09:15, 105 support minutes (the weekend and Monday are off).
    holiday = await ask(d, at(2025, 5, 23, 16, 30))
    await d.reply(holiday, HELPER, "?tag Auth", ts=at(2025, 5, 23, 16, 40))
    await d.reply(holiday, HELPER, "Here is how", ts=at(2025, 5, 27, 9, 15))
    # The asker asks again at 10:00; the other helper answers at 10:45: a next response of 45.
    await d.reply(holiday, ASKER, "And then?", ts=at(2025, 5, 27, 10, 0))
    await d.reply(holiday, HELPER_2, "Then this", ts=at(2025, 5, 27, 10, 45))
    await d.reply(holiday, HELPER_2, "?resolve", ts=at(2025, 5, 27, 11, 0))

    # Asked at 17:00 GMT on Friday 2025-03-28, answered at 09:30 BST on Monday, after the clocks
    # went forward on Sunday: 60 + 30 support minutes. (In UTC the Monday window would open at
    # 09:00Z, after the answer's 08:30Z.) The asker's follow-up is never answered: it runs.
    summer_time = await ask(d, at(2025, 3, 28, 17, 0))
    await d.reply(summer_time, HELPER, "Here is how", ts=at(2025, 3, 31, 9, 30))
    await d.reply(summer_time, ASKER, "It still fails", ts=at(2025, 3, 31, 10, 0))

    # Answered, asked again, closed, reopened the next morning, answered again, closed again.
    reopened = await ask(d, at(2025, 5, 27, 14, 0))
    await d.reply(reopened, HELPER_2, "?tag Auth, Billing", ts=at(2025, 5, 27, 14, 1))
    await d.reply(reopened, HELPER_2, "Try this", ts=at(2025, 5, 27, 14, 20))  # first response 20
    await d.reply(reopened, ASKER, "Did not work", ts=at(2025, 5, 27, 14, 30))
    await d.reply(reopened, HELPER, "Then this", ts=at(2025, 5, 27, 15, 0))  # next response 30
    await d.reply(reopened, HELPER, "?resolve", ts=at(2025, 5, 27, 15, 5))
    await d.reply(reopened, HELPER, "?reopen", ts=at(2025, 5, 28, 9, 30))
    await d.reply(reopened, HELPER_2, "Sorry: this", ts=at(2025, 5, 28, 10, 0))  # next response 30
    await d.reply(reopened, HELPER_2, "?resolve", ts=at(2025, 5, 28, 10, 10))
    # Its resolution: 14:00-14:20, 14:30-15:00 and Wednesday 09:30-10:00, 80 support minutes
    # (Tuesday 14:00 to Wednesday 10:10 is 310, less 25 waiting on the asker, less 205 closed).
    return {"holiday": holiday, "summer_time": summer_time, "reopened": reopened}


def measure(values: list[float]) -> dict:
    """count, mean and percentiles written out for the hand-checked lists below (at most three values)."""
    ordered = sorted(values)

    def at(fraction: float) -> float:
        rank = fraction * (len(ordered) - 1)
        low = int(rank)
        high = min(low + 1, len(ordered) - 1)
        return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)

    return {
        "count": len(ordered),
        "mean": sum(ordered) / len(ordered),
        "p50": at(0.5),
        "p90": at(0.9),
        "p95": at(0.95),
    }


async def test_response_times_in_support_hours_from_slack_events(desk, team):
    settings = {"timezone": "Europe/London", "support_hours": parse_support_hours(HOURS),
                "support_holidays": parse_holidays(HOLIDAYS)}  # fmt: skip
    async with desk(**settings) as d:
        await tell_three_stories(d)
        users = {
            row["slackId"]: {"id": row["id"], "slack_id": row["slackId"], "username": row["username"]}
            for row in await d.fetch('SELECT id, "slackId", username FROM "User"')
        }
        closers = {row["closedById"] for row in await d.fetch('SELECT "closedById" FROM "Ticket"')}
        assert closers == {users[HELPER_2]["id"], None}  # the two closed tickets' last closer

        whole = await figures(d)
        assert (whole["since"], whole["until"], whole["by"]) == (None, None, "none")
        # By hand: first responses 105, 90, 20; next responses 45, 30, 30; resolutions 150, 80.
        by_hand = {
            "first_response": measure([105, 90, 20]),
            "next_response": measure([45, 30, 30]),
            "resolution": measure([150, 80]),
        }
        assert approximately({k: whole[k] for k in by_hand}, by_hand)
        assert approximately(
            {k: v for k, v in whole.items() if k not in ("since", "until", "by")},
            await expected_response_times(d.db_url, CALENDAR),
        )

        # Tickets created in May only (the summer-time story was asked in March); either alias.
        may = await figures(d, since="2025-05-01", before="2025-06-01T00:00:00+01:00")
        assert (may["since"], may["until"]) == (
            "2025-05-01T00:00:00.000+00:00",
            "2025-05-31T23:00:00.000+00:00",
        )
        assert may["first_response"]["count"] == 2 and may["first_response"]["p50"] == 62.5
        assert approximately(
            {k: v for k, v in may.items() if k not in ("since", "until", "by")},
            await expected_response_times(
                d.db_url,
                CALENDAR,
                since=datetime(2025, 5, 1, tzinfo=UTC),
                until=datetime(2025, 5, 31, 23, tzinfo=UTC),
            ),
        )

        # Per team tag: the holiday story is Auth's; the reopened one Auth's and Billing's.
        tags = await figures(d, by="team_tag")
        assert [group["team_tag"] for group in tags["groups"]] == ["Auth", "Billing"]
        auth, billing = tags["groups"]
        assert approximately(auth["first_response"], measure([105, 20]))
        assert approximately(billing["resolution"], measure([80]))
        assert approximately(
            {k: v for k, v in tags.items() if k not in ("since", "until", "by")},
            await expected_response_times(d.db_url, CALENDAR, by="team_tag"),
        )

        # Per helper: first and next responses by who answered; resolutions by the closer.
        helpers = await figures(d, by="helper")
        assert [group["helper"] for group in helpers["groups"]] == [users[HELPER], users[HELPER_2]]
        one, two = helpers["groups"]
        assert approximately(one["first_response"], measure([105, 90]))
        assert approximately(one["next_response"], measure([30]))
        assert one["resolution"]["count"] == 0 and one["resolution"]["mean"] is None
        assert approximately(two["next_response"], measure([45, 30]))
        assert approximately(two["resolution"], measure([150, 80]))
        assert approximately(
            {k: v for k, v in helpers.items() if k not in ("since", "until", "by")},
            await expected_response_times(d.db_url, CALENDAR, by="helper"),
        )

        # The same answer again is a 304 on its ETag, for every grouping.
        for params in ({}, {"by": "team_tag"}, {"by": "helper"}):
            first = await d.client.get(ROUTE, params=params)
            again = await d.client.get(ROUTE, params=params, headers={"If-None-Match": first.headers["etag"]})
            assert again.status_code == 304 and again.headers["etag"] == first.headers["etag"]
        etag = (await d.client.get(ROUTE)).headers["etag"]

    # Restarted with another calendar: every minute counts now. The service recounts at start-up,
    # and its first answer is history under the new calendar.
    async with desk(timezone="Europe/London") as d:
        changed = await d.client.get(ROUTE, headers={"If-None-Match": etag})
        assert changed.status_code == 200 and changed.headers["etag"] != etag
        answer = changed.json()
        for by in ("none", "team_tag", "helper"):
            if by != "none":
                answer = await figures(d, by=by)
            assert approximately(
                {k: v for k, v in answer.items() if k not in ("since", "until", "by")},
                await expected_response_times(d.db_url, ALWAYS, by=by),
            )
        # Friday 17:00 GMT to Monday 09:30 BST is 64.5 hours on the wall clock but 63.5 elapsed (the
        # clocks went forward): the middle of the first responses 20, 3810 and 5325 (Friday 16:30
        # to Tuesday 09:15, the bank holiday counting now).
        first = (await figures(d))["first_response"]
        assert approximately(first, measure([20, 63.5 * 60, (3 * 24 + 16.75) * 60]))


async def test_bad_parameters_are_400s_that_name_them(desk, team):
    async with desk() as d:
        for params, named in (
            ({"by": "tag"}, "by"),
            ({"by": "HELPER"}, "by"),
            ({"since": "2025-05-02", "until": "2025-05-01"}, "since"),
            ({"since": "yesterday"}, "since"),
            ({"until": "2025-13-01"}, "until"),
        ):
            response = await d.client.get(ROUTE, params=params)
            assert response.status_code == 400, params
            assert response.json()["error"].startswith(f"{named}:"), response.json()
        blank = await d.client.get(ROUTE, params={"by": "", "since": ""})
        assert blank.status_code == 200 and blank.json()["by"] == "none"
