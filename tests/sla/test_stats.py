"""/api/stats/sla over tickets told through signed Slack requests at Slack's instants (London hours,
a bank holiday), equal to an independent computation from the logged events (tests/support/sla.py)
as a whole, per team tag and per helper; and ?sla=breached|at_risk on /api/tickets."""

from __future__ import annotations

from datetime import datetime

import pytest

from nephthys.sla.policy import SlaTargets
from tests.sla.test_clocks import CALENDAR, SLA, Clock, ask
from tests.slack.conftest import ASKER, HELPER, HELPER_2
from tests.support.sla import expected_sla

DEFAULT = SlaTargets(30, 60, 240)


def approximately(figures: dict) -> dict:
    return {
        clock: {
            key: (pytest.approx(value) if isinstance(value, float) else value)
            for key, value in values.items()
        }
        for clock, values in figures.items()
    }


async def tell_five_stories(d) -> None:
    at = Clock()
    await d.fetch(
        """INSERT INTO "Tag" (name, "slaFirstResponseMinutes") VALUES ('Billing', 10), ('Auth', NULL)"""
    )
    # Met: answered in 20, resolved after 20 support minutes.
    met = await ask(d, at(2025, 6, 2, 9, 0))
    await d.reply(met, HELPER, "Here", ts=at(2025, 6, 2, 9, 20))
    await d.reply(met, ASKER, "Thanks, one more thing", ts=at(2025, 6, 2, 9, 25))
    await d.reply(met, HELPER, "Sure", ts=at(2025, 6, 2, 9, 35))
    await d.reply(met, HELPER, "?resolve", ts=at(2025, 6, 2, 9, 40))
    # Billing's 10-minute first response missed (25); a next response of 90 missed, then one of 10
    # met (the ticket's next response stays breached); waiting on the asker, paused at 125.
    missed = await ask(d, at(2025, 6, 2, 9, 0))
    await d.reply(missed, HELPER_2, "?tag Billing, Auth", ts=at(2025, 6, 2, 9, 1))
    await d.reply(missed, HELPER_2, "Look here", ts=at(2025, 6, 2, 9, 25))
    await d.reply(missed, ASKER, "Not it", ts=at(2025, 6, 2, 10, 0))
    await d.reply(missed, HELPER_2, "This then", ts=at(2025, 6, 2, 11, 30))
    await d.reply(missed, ASKER, "Close", ts=at(2025, 6, 2, 12, 0))
    await d.reply(missed, HELPER_2, "Here", ts=at(2025, 6, 2, 12, 10))
    # Never answered: both clocks ran past their targets long ago.
    await ask(d, at(2025, 6, 3, 17, 30))
    # Answered in 5; the asker wrote again and nobody answered: the next response is breached.
    waiting = await ask(d, at(2025, 6, 4, 9, 0))
    await d.reply(waiting, HELPER, "?tag Auth", ts=at(2025, 6, 4, 9, 1))
    await d.reply(waiting, HELPER, "Try this", ts=at(2025, 6, 4, 9, 5))
    await d.reply(waiting, ASKER, "Still broken", ts=at(2025, 6, 4, 9, 10))
    # Resolved, reopened the next morning, answered in 30 and resolved again: a new resolution of 30.
    reopened = await ask(d, at(2025, 6, 5, 9, 0))
    await d.reply(reopened, HELPER_2, "Done", ts=at(2025, 6, 5, 9, 10))
    await d.reply(reopened, HELPER_2, "?resolve", ts=at(2025, 6, 5, 9, 15))
    await d.reply(reopened, HELPER_2, "?reopen", ts=at(2025, 6, 6, 10, 0))
    await d.reply(reopened, HELPER_2, "Sorry: this", ts=at(2025, 6, 6, 10, 30))
    await d.reply(reopened, HELPER_2, "?resolve", ts=at(2025, 6, 6, 10, 31))


async def sla_stats(d, **params) -> dict:
    response = await d.client.get("/api/stats/sla", params=params)
    assert response.status_code == 200, response.text
    return response.json()


async def test_stats_sla_equals_an_independent_computation(desk, team):
    async with desk(**SLA) as d:
        await tell_five_stories(d)
        answer = await sla_stats(d, since="2025-06-01", until="2025-07-01")
        now = datetime.fromisoformat(answer["now"])
        [expected] = (await expected_sla(d.db_url, CALENDAR, DEFAULT, now)).values()
        assert {clock: answer[clock] for clock in expected} == approximately(expected)
        # The stories by hand: five first responses (met in 20, 5 and 10; Billing's 25 of 10 and the
        # unanswered one breached), four next responses, five resolutions.
        assert answer["first_response"] | {"p50": None, "p90": None} == {
            "with_target": 5, "met": 3, "breached": 2, "running": 0, "compliance": 0.6, "p50": None, "p90": None,
        }  # fmt: skip
        assert [answer["next_response"][k] for k in ("with_target", "met", "breached", "running")] == [
            4,
            2,
            2,
            0,
        ]
        assert [answer["resolution"][k] for k in ("with_target", "met", "breached", "running")] == [
            5,
            2,
            2,
            1,
        ]

        for by in ("team_tag", "helper"):
            answer = await sla_stats(d, since="2025-06-01", until="2025-07-01", by=by)
            expected = await expected_sla(
                d.db_url, CALENDAR, DEFAULT, datetime.fromisoformat(answer["now"]), by=by
            )
            got = {
                (group["team_tag"] if by == "team_tag" else group["helper"]["slack_id"]): {
                    clock: group[clock] for clock in ("first_response", "next_response", "resolution")
                }
                for group in answer["groups"]
            }
            assert set(got) == set(expected)
            for key, figures in expected.items():
                for clock in ("first_response", "next_response", "resolution"):
                    if clock in figures:
                        assert got[key][clock] == approximately({clock: figures[clock]})[clock], (
                            by,
                            key,
                            clock,
                        )
                    else:
                        assert got[key][clock]["with_target"] == 0

        # A period with no tickets, and bad parameters.
        empty = await sla_stats(d, since="2024-01-01", until="2024-02-01")
        assert empty["first_response"] == {
            "with_target": 0, "met": 0, "breached": 0, "running": 0, "compliance": None, "p50": None, "p90": None,
        }  # fmt: skip
        for params in (
            {"by": "asker"},
            {"since": "2025-07-01", "until": "2025-06-01"},
            {"since": "yesterday"},
        ):
            response = await d.client.get("/api/stats/sla", params=params)
            assert response.status_code == 400 and "error" in response.json()


async def test_tickets_breached_or_at_risk_now(desk, team):
    async with desk(**SLA) as d:
        await tell_five_stories(d)
        breached = await d.client.get("/api/tickets", params={"sla": "breached"})
        assert breached.status_code == 200, breached.text
        # Every story but the first breached something (the reopened one: its first response? no: 10).
        objects = breached.json()
        assert len(objects) == 3
        assert all(any(c and c["state"] == "breached" for c in t["sla"].values()) for t in objects)
        assert list(objects[0])[-1] == "sla"  # after every stored member
        # A page at a time, with the usual Link to the next.
        first = await d.client.get("/api/tickets", params={"sla": "breached", "limit": 2})
        assert [t["id"] for t in first.json()] == [t["id"] for t in objects[:2]]
        link = first.headers["link"].split(";")[0].strip("<>")
        rest = await d.client.get(link)
        assert [t["id"] for t in rest.json()] == [objects[2]["id"]] and "link" not in rest.headers
        # Nothing runs in 2026 that has not breached: nobody is at risk.
        at_risk = await d.client.get("/api/tickets", params={"sla": "at_risk", "status": "open"})
        assert at_risk.status_code == 200 and at_risk.json() == []
        bad = await d.client.get("/api/tickets", params={"sla": "late"})
        assert bad.status_code == 400 and "sla" in bad.json()["error"]
