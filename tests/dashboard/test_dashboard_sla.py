"""The dashboard's SLA sections in a real Chromium (issue 21 §3): the last 7 days' compliance per clock,
equal to /api/stats/sla's and to the clocks written below, and the tickets breached or at risk now,
linked to their threads, breached first (/api/sla/attention, nephthys/stats/sla.py)."""

from __future__ import annotations

import re

from tests.api.data import add_ticket, add_user, database_now
from tests.dashboard.test_dashboard_browser import (
    DAY,
    HELP_CHANNEL,
    HOUR,
    MINUTE,
    dashboard,
    loaded,
    thread_link,
)
from tests.support import postgres

SLA_SECTIONS = ["sla", "attention"]

CLOCK = """INSERT INTO "TicketSlaClock" ("ticketId", kind, "ticketCreatedAt", "targetMinutes", "startAt", state,
               minutes, "runningSince", "dueAt", "warnAt")
           SELECT $1, $2::"TicketSpanKind", t."createdAt", $3, t."createdAt", $4::"SlaState", $5, $6, $7, $8
           FROM "Ticket" t WHERE t.id = $1"""


async def seed_clocks(url: str) -> dict[str, int]:
    """Tickets and their clocks as the lifecycle would have left them (written after the service's
    start, which recomputes every clock from the timeline when its policy is new)."""
    now = await database_now(url)
    asker = await add_user(url, "UASKER")
    helper = await add_user(url, "UHELPER", helper=True)

    async def ticket(created, **fields) -> int:
        return await add_ticket(url, opened_by=asker, created_at=created, **fields)

    def closed(created) -> dict:
        return dict(status="CLOSED", assigned_to=helper, assigned_at=created + 5 * MINUTE, closed_by=helper,
                    closed_at=created + HOUR, last_msg_by="HELPER")  # fmt: skip

    ids = {
        "overdue": await ticket(now - 2 * DAY, title="Overdue question", msg_ts="1700000002.000100"),
        "at risk": await ticket(now - 30 * MINUTE, title="Nearly due question", msg_ts="1700000002.000200"),
        "missed": await ticket(now - 3 * DAY, **closed(now - 3 * DAY)),
        "met": await ticket(now - 4 * DAY, **closed(now - 4 * DAY)),
        "running": await ticket(now - DAY, status="IN_PROGRESS", assigned_to=helper, last_msg_by="HELPER"),
        "old": await ticket(now - 20 * DAY, **closed(now - 20 * DAY)),  # before the 7 days
    }
    clocks = [
        # Due 30 minutes ago and still running: breached.
        (ids["overdue"], "FIRST_RESPONSE", 60, "RUNNING", 0.0, now - 2 * DAY, now - 30 * MINUTE, now - 45 * MINUTE),
        (ids["overdue"], "RESOLUTION", 480, "RUNNING", 0.0, now - 2 * DAY, now + 4 * HOUR, now + 2 * HOUR),
        # Past its warning point, due in 30 minutes: at risk.
        (ids["at risk"], "FIRST_RESPONSE", 60, "RUNNING", 0.0, now - 30 * MINUTE, now + 30 * MINUTE, now - 15 * MINUTE),
        (ids["missed"], "FIRST_RESPONSE", 60, "MET", 5.0, None, None, None),
        (ids["missed"], "RESOLUTION", 30, "BREACHED", 60.0, None, None, None),
        (ids["met"], "FIRST_RESPONSE", 60, "MET", 5.0, None, None, None),
        (ids["met"], "RESOLUTION", 480, "MET", 60.0, None, None, None),
        (ids["running"], "FIRST_RESPONSE", 60, "MET", 10.0, None, None, None),
        (ids["running"], "RESOLUTION", 480, "RUNNING", 30.0, now - DAY, now + 6 * HOUR, now + 4 * HOUR),
        (ids["old"], "FIRST_RESPONSE", 60, "BREACHED", 90.0, None, None, None),
    ]  # fmt: skip
    for clock in clocks:
        await postgres.execute(url, CLOCK, *clock)
    return ids


async def test_the_dashboard_shows_the_weeks_compliance_and_what_is_breached_or_at_risk(
    serve, db_url, browser
):
    async with serve(slack_help_channel=HELP_CHANNEL) as client:
        ids = await seed_clocks(db_url)
        base_url = str(client.base_url).rstrip("/")
        async with dashboard(browser, base_url) as watched:
            await loaded(watched)
            page = watched.page
            await page.wait_for_function(
                "ids => ids.every(id => document.getElementById(id).dataset.renders)", arg=SLA_SECTIONS
            )
            # Compliance: the API's figures for the tickets asked in the last 7 days, and those of the
            # clocks above (the 20-day-old ticket is outside): first response 3 met of 4 decided (the
            # overdue one breached, the at-risk one running); resolution 1 met, 1 missed, 2 running.
            figures = await watched.api_json("/api/stats/sla")
            fr, nr, rs = (figures[clock] for clock in ("first_response", "next_response", "resolution"))
            assert (fr["with_target"], fr["met"], fr["breached"], fr["running"]) == (5, 3, 1, 1)
            assert (rs["with_target"], rs["met"], rs["breached"], rs["running"]) == (4, 1, 1, 2)
            assert nr["with_target"] == 0
            shown = {
                clock: (
                    await page.inner_text(f'#sla-figures [data-clock="{clock}"] .compliance'),
                    await page.inner_text(f'#sla-figures [data-clock="{clock}"] .change'),
                )
                for clock in ("first_response", "next_response", "resolution")
            }
            assert shown == {
                "first_response": ("75%", "3 met, 1 missed, 1 running"),
                "next_response": ("–", "no target"),
                "resolution": ("50%", "1 met, 1 missed, 2 running"),
            }

            # Breached or at risk now: the overdue ticket first, then the one at risk, each linked.
            attention = await watched.api_json("/api/sla/attention")
            assert (attention["breached"], attention["at_risk"]) == (1, 1)
            assert await page.inner_text("#attention-note") == "1 breached, 1 at risk."
            items = await page.query_selector_all("#attention-list li")
            assert len(items) == 2
            overdue, at_risk = [await item.inner_text() for item in items]
            assert re.fullmatch(r"breached\s+Overdue question first response over by (30|31) min", overdue), (
                overdue
            )
            assert re.fullmatch(
                r"at risk\s+Nearly due question first response due in (29|30) min", at_risk
            ), at_risk
            links = [await item.eval_on_selector("a", "a => a.href") for item in items]
            assert links == [thread_link("1700000002.000100"), thread_link("1700000002.000200")]
            assert [ticket["id"] for ticket in attention["tickets"]] == [ids["overdue"], ids["at risk"]]
            assert watched.blocked == [] and watched.console_errors == []

            # The same sections fit a phone's width.
            await page.set_viewport_size({"width": 360, "height": 800})
            assert await page.evaluate("document.documentElement.scrollWidth") <= 360


async def test_attention_without_targets_says_so_and_answers_304_while_nothing_changes(serve, db_url):
    async with serve(slack_help_channel=HELP_CHANNEL) as client:
        first = await client.get("/api/sla/attention")
        assert first.status_code == 200 and first.json() == {"breached": 0, "at_risk": 0, "tickets": []}
        again = await client.get("/api/sla/attention", headers={"If-None-Match": first.headers["etag"]})
        assert again.status_code == 304
        figures = await client.get("/api/stats/sla")
        same = await client.get("/api/stats/sla", headers={"If-None-Match": figures.headers["etag"]})
        assert same.status_code == 304  # its "now" moved, its figures did not
        bad = await client.get("/api/sla/attention", params={"limit": "0"})
        assert bad.status_code == 400
