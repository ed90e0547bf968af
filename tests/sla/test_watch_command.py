"""`nephthys jobs list|run sla-watch` as an operator runs them: a real process, the service's settings,
the fake Slack, and a question asked long enough ago that its first response is breached now."""

from __future__ import annotations

import time

from tests.slack.conftest import ASKER, BTS_CHANNEL, HELP_CHANNEL, TICKET_CHANNEL
from tests.support.slack import BOT_TOKEN, SIGNING_SECRET, question
from tests.tasks.test_jobs_command import nephthys


async def test_jobs_run_sla_watch_posts_a_due_breach_once(desk, team, db_url, tmp_path):
    async with desk(sla_first_response_minutes=30) as d:
        # Asked two hours ago: the first response (30 minutes, every minute counting) is breached.
        asked = question(HELP_CHANNEL, ASKER, "Is anyone there?", ts=f"{int(time.time()) - 7200}.000100")
        assert (await d.deliver.event(asked)).status_code == 200
        await d.settle()
    env = {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": team.base_url,
        "SLACK_HELP_CHANNEL": HELP_CHANNEL,
        "SLACK_TICKET_CHANNEL": TICKET_CHANNEL,
        "SLACK_BTS_CHANNEL": BTS_CHANNEL,
        "SLA_FIRST_RESPONSE_MINUTES": "30",
    }
    code, out, err = await nephthys("jobs", "list", env=env, cwd=tmp_path)
    assert code == 0, err
    [listed] = [line for line in out.splitlines() if line.startswith("sla-watch:")]
    assert listed.startswith("sla-watch: on; every minute (checked every 30 s); warns at 75% of a target")

    code, out, err = await nephthys("jobs", "run", "sla-watch", "--dry-run", env=env, cwd=tmp_path)
    assert code == 0, err
    assert "would breach #1's first response" in out

    def breaches() -> list:
        return [
            c
            for c in team.calls_to("chat.postMessage", ok=True, channel=BTS_CHANNEL)
            if "target of 30m missed" in c.args["text"]
        ]

    for _ in range(2):  # the second run finds its minute watched, or nothing due: nothing twice
        code, out, err = await nephthys("jobs", "run", "sla-watch", env=env, cwd=tmp_path)
        assert code == 0 and "sla-watch: done" in out, err
        assert len(breaches()) == 1
    [event] = await d.fetch("""SELECT * FROM "TicketEvent" WHERE kind = 'SLA_BREACHED'""")
    assert event["slaClock"] == "FIRST_RESPONSE" and event["msgTs"] == breaches()[0].response["ts"]
