"""`nephthys jobs list|run` as an operator runs them: a real process, the service's settings, the fake Slack."""

from __future__ import annotations

import asyncio
import os
import sys
from datetime import timedelta

from tests.api.data import add_ticket, add_user, database_now
from tests.slack.conftest import ASKER
from tests.support import postgres
from tests.support.slack import BOT_TOKEN, BTS_CHANNEL, HELP_CHANNEL, SIGNING_SECRET, TICKET_CHANNEL


async def nephthys(*args: str, env: dict[str, str], cwd) -> tuple[int, str, str]:
    process = await asyncio.create_subprocess_exec(
        sys.executable, "-m", "nephthys", *args,
        env={"PATH": os.environ["PATH"], **env}, cwd=cwd,
        stdout=asyncio.subprocess.PIPE, stderr=asyncio.subprocess.PIPE,
    )  # fmt: skip
    stdout, stderr = await asyncio.wait_for(process.communicate(), 120)
    assert process.returncode is not None
    return process.returncode, stdout.decode(), stderr.decode()


async def test_jobs_list_and_run_with_dry_run_force_and_a_done_period(db_url, fake, tmp_path):
    env = {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake.base_url,
        "SLACK_HELP_CHANNEL": HELP_CHANNEL,
        "SLACK_TICKET_CHANNEL": TICKET_CHANNEL,
        "SLACK_BTS_CHANNEL": BTS_CHANNEL,
        "TIMEZONE": "Europe/London",
        "DAILY_SUMMARY_TIME": "07:00",
    }
    code, out, err = await nephthys("jobs", "list", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = {line.split(":")[0]: line for line in out.splitlines()}
    assert lines["daily-summary"].startswith(
        "daily-summary: on; daily at 07:00 Europe/London; last run: never"
    )
    assert "off (STALE_TICKET_DAYS is unset or 0)" in lines["stale-tickets"]
    assert "off (UNANSWERED_ALERT_MINUTES is unset)" in lines["unanswered-alerts"]
    assert "on; every 30 s" in lines["slack-repair"] and "tag-digests" in lines

    code, out, err = await nephthys(
        "jobs", "run", "daily-summary", "--date", "2026-10-25", "--dry-run", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "Daily summary for 2026-10-25" in out and "nothing posted" in out
    assert fake.calls_to("chat.postMessage") == []

    code, out, err = await nephthys(
        "jobs", "run", "daily-summary", "--date", "2026-10-25", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "daily-summary 2026-10-25: done: posted the summary of 2026-10-25" in out
    assert len(fake.calls_to("chat.postMessage", channel=BTS_CHANNEL)) == 1

    code, out, err = await nephthys(
        "jobs", "run", "daily-summary", "--date", "2026-10-25", env=env, cwd=tmp_path
    )
    assert code == 0 and "already done" in out
    assert len(fake.calls_to("chat.postMessage", channel=BTS_CHANNEL)) == 1

    code, out, err = await nephthys(
        "jobs", "run", "daily-summary", "--date", "2026-10-25", "--force", env=env, cwd=tmp_path
    )
    assert code == 0 and ": done" in out
    assert len(fake.calls_to("chat.postMessage", channel=BTS_CHANNEL)) == 2

    code, out, err = await nephthys("jobs", "list", env=env, cwd=tmp_path)
    assert "done (2026-10-25)" in out
    [run] = await postgres.fetch(db_url, 'SELECT * FROM "JobRun"')
    assert (run["job"], run["period"], run["outcome"]) == ("daily-summary", "2026-10-25", "done")

    code, out, err = await nephthys("jobs", "run", "no-such-job", env=env, cwd=tmp_path)
    assert code == 2 and "daily-summary" in err
    code, out, err = await nephthys("jobs", "run", "stale-tickets", env=env, cwd=tmp_path)
    assert code == 1 and "STALE_TICKET_DAYS" in err
    code, out, err = await nephthys("jobs", "run", "slack-repair", env=env, cwd=tmp_path)
    assert code == 0 and "slack-repair: done" in out


async def test_tags_digest_sets_and_clears_a_tags_digest(db_url, tmp_path):
    env = {"DATABASE_URL": db_url}
    await postgres.execute(db_url, """INSERT INTO "Tag" (name) VALUES ('billing')""")
    code, out, err = await nephthys(
        "tags", "digest", "billing", "--at", "14:00", "--days", "mon-fri", env=env, cwd=tmp_path
    )
    assert code == 0 and "billing: digest mon-fri at 14:00" in out, err
    [tag] = await postgres.fetch(db_url, """SELECT * FROM "Tag" WHERE name = 'billing'""")
    assert (tag["digestTime"], tag["digestDays"]) == ("14:00", "mon-fri")
    code, out, err = await nephthys("tags", "digest", "billing", "--off", env=env, cwd=tmp_path)
    assert code == 0
    [tag] = await postgres.fetch(db_url, """SELECT * FROM "Tag" WHERE name = 'billing'""")
    assert tag["digestTime"] is None and tag["digestDays"] is None
    code, out, err = await nephthys("tags", "digest", "nobody", "--at", "9:00", env=env, cwd=tmp_path)
    assert code == 1 and "no team tag called 'nobody'" in err


async def test_jobs_list_works_without_slack_and_says_why_each_job_is_off(db_url, tmp_path):
    """The README's defaults (no Slack settings, no channels): every job listed, the API's own on."""
    code, out, err = await nephthys("jobs", "list", env={"DATABASE_URL": db_url}, cwd=tmp_path)
    assert code == 0, err
    first, *rest = out.splitlines()
    assert first.startswith("using the database at postgresql://") and "(DATABASE_URL)" in first
    lines = {line.split(":")[0]: line for line in rest}
    assert set(lines) == {
        "daily-summary", "stale-tickets", "asker-follow-up", "tag-digests", "unanswered-alerts", "sla-watch",
        "memory-answers", "slack-repair", "slack-replay-events", "slack-prune-events", "slack-helper-sync", "ticket-json-upkeep",
        "memory-reindex", "sla-recompute",
    }  # fmt: skip
    slack_off = "off (needs Slack: SLACK_BOT_TOKEN and SLACK_SIGNING_SECRET are not set)"
    api_jobs = {"ticket-json-upkeep", "memory-reindex", "sla-recompute"}
    assert all(slack_off in line for name, line in lines.items() if name not in api_jobs)
    assert lines["memory-reindex"].startswith("memory-reindex: on; every 60 s until none is missing")
    assert lines["memory-answers"].startswith(f"memory-answers: {slack_off}; every 1 min: at most 20 threads")
    assert lines["ticket-json-upkeep"] == (
        "ticket-json-upkeep: on; every 1 min; last run: not recorded (interval job); "
        "next run: 5 s after start-up, then every 1 min"
    )
    assert lines["sla-recompute"] == (
        "sla-recompute: on; every 30 s while the SLA clocks follow another policy than the service's: "
        "recomputes them in batches of 1000 tickets, active tickets first; last run: not recorded (interval job); "
        "next run: 1 s after start-up, then every 30 s; now: no recompute pending"
    )
    assert "; every 6 h;" in lines["slack-helper-sync"] and "; every 1 h;" in lines["slack-prune-events"]
    assert "; every 2 min;" in lines["unanswered-alerts"] and "None" not in out


async def test_jobs_list_with_slack_on_and_no_help_channel_names_the_missing_setting(db_url, fake, tmp_path):
    env = {
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake.base_url,
        "UNANSWERED_ALERT_MINUTES": "30",
    }
    code, out, err = await nephthys("jobs", "list", env=env, cwd=tmp_path)
    assert code == 0, err
    lines = {line.split(":")[0]: line for line in out.splitlines()[1:]}
    assert "off (SLACK_HELP_CHANNEL is not set" in lines["slack-repair"]
    assert "every 2 min; alerts after 30 min without a helper" in lines["unanswered-alerts"]
    assert lines["ticket-json-upkeep"].startswith("ticket-json-upkeep: on;")


async def test_a_dry_run_needs_only_the_database(db_url, tmp_path):
    env = {"DATABASE_URL": db_url, "TIMEZONE": "Europe/London"}
    code, out, err = await nephthys(
        "jobs", "run", "daily-summary", "--date", "2026-10-25", "--dry-run", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "would post to the team channel (SLACK_BTS_CHANNEL is not set)" in out
    assert "Daily summary for 2026-10-25" in out
    code, out, err = await nephthys(
        "jobs",
        "run",
        "unanswered-alerts",
        "--dry-run",
        env={**env, "UNANSWERED_ALERT_MINUTES": "30"},
        cwd=tmp_path,
    )
    assert code == 0 and "would post nothing" in out, err
    # A job off by its own setting stays off, dry or not; a real run needs Slack.
    code, out, err = await nephthys("jobs", "run", "stale-tickets", "--dry-run", env=env, cwd=tmp_path)
    assert code == 1 and "stale-tickets is off: STALE_TICKET_DAYS is unset or 0" in err
    # On, its dry run lists the database's quiet tickets without asking Slack (which is off): those
    # waiting on their asker, never one waiting on the helpers.
    author, helper = await add_user(db_url, "UAUTHOR"), await add_user(db_url, "UHELPER", helper=True)
    long_ago = await database_now(db_url) - timedelta(days=10)
    quiet = await add_ticket(
        db_url, opened_by=author, created_at=long_ago, status="IN_PROGRESS", assigned_to=helper
    )
    unanswered = await add_ticket(db_url, opened_by=author, created_at=long_ago)
    for ticket, waiting_on in ((quiet, "ASKER"), (unanswered, "HELPERS")):
        await postgres.execute(
            db_url,
            """UPDATE "Ticket" SET "waitingOn" = CAST($2 AS "WaitingOn"), "waitingSince" = "createdAt"
               WHERE id = $1""",
            ticket,
            waiting_on,
        )
    code, out, err = await nephthys(
        "jobs", "run", "stale-tickets", "--dry-run", env={**env, "STALE_TICKET_DAYS": "3"}, cwd=tmp_path
    )
    assert code == 0, err
    assert "would close 1 tickets quiet for 3 days (not checked with Slack: Slack is off)" in out
    assert f"#{quiet} (quiet since" in out and f"#{unanswered} " not in out
    code, out, err = await nephthys("jobs", "run", "daily-summary", env=env, cwd=tmp_path)
    assert code == 1 and "daily-summary is off: needs Slack" in err and "--dry-run" in err
    assert await postgres.fetch(db_url, 'SELECT * FROM "JobRun"') == []


async def test_the_api_job_ticket_json_upkeep_runs_by_hand_without_slack(db_url, tmp_path):
    # Its prune is due (the last one an hour ago): running it by hand does it now.
    await postgres.execute(
        db_url, """UPDATE "TicketJsonChangeHorizon" SET "prunedAt" = now() - interval '1 hour'"""
    )
    code, out, err = await nephthys(
        "jobs", "run", "ticket-json-upkeep", env={"DATABASE_URL": db_url}, cwd=tmp_path
    )
    assert code == 0, err
    assert out.splitlines()[-1] == "ticket-json-upkeep: done"
    [horizon] = await postgres.fetch(
        db_url,
        """SELECT "prunedAt" > now() - interval '10 minutes' AS pruned FROM "TicketJsonChangeHorizon" """,
    )
    assert horizon["pruned"]


async def test_a_team_tag_made_on_the_command_line_gets_a_digest_tried_without_slack(db_url, tmp_path):
    env = {"DATABASE_URL": db_url}
    code, out, err = await nephthys("tags", "create", "  billing  ", env=env, cwd=tmp_path)
    assert code == 0, err
    assert out.splitlines()[-1].startswith("created the team tag 'billing'")
    code, out, err = await nephthys("tags", "create", "Billing", env=env, cwd=tmp_path)
    assert code == 1 and "a team tag called 'billing' exists" in err
    code, out, err = await nephthys("tags", "create", "x" * 76, env=env, cwd=tmp_path)
    assert code == 1 and "at most 75 characters" in err
    assert [row["name"] for row in await postgres.fetch(db_url, 'SELECT name FROM "Tag"')] == ["billing"]

    code, out, err = await nephthys(
        "tags", "digest", "billing", "--at", "14:00", "--days", "mon-fri", env=env, cwd=tmp_path
    )
    assert code == 0, err
    code, out, err = await nephthys(
        "jobs", "run", "tag-digests", "--date", "2026-10-26", "--dry-run", env=env, cwd=tmp_path
    )
    assert code == 0, err
    assert "tag-digests 2026-10-26/billing (dry run, nothing posted):" in out
    assert "billing: no open tickets, nothing sent" in out


async def test_an_unreachable_database_is_one_line_and_exit_1_for_the_jobs_and_tags_commands(tmp_path):
    from tests.support.server import free_port

    env = {"DATABASE_URL": f"postgresql://postgres@127.0.0.1:{free_port()}/nowhere"}
    for args in (["jobs", "list"], ["jobs", "run", "daily-summary", "--dry-run"], ["tags", "create", "x"]):
        code, out, err = await nephthys(*args, env=env, cwd=tmp_path)
        assert code == 1, (args, err)
        assert "Traceback" not in err
        assert err.strip().splitlines()[-1].startswith("nephthys: cannot reach the database at"), args


async def test_jobs_run_asker_follow_up_from_the_command_line(db_url, fake, tmp_path):
    """`nephthys jobs run asker-follow-up` as an operator runs it: the machine's clock, the fake Slack.

    The ticket's wait is dated by the database's clock, which the command must share: under faketime
    (the whole run faked, PostgreSQL included) the command gets the fake too.
    """
    faked_clock = {
        key: value
        for key, value in os.environ.items()
        if key in {"LD_PRELOAD", "DONT_FAKE_MONOTONIC"} or key.startswith("FAKETIME")
    }
    env = {
        **faked_clock,
        "DATABASE_URL": db_url,
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_BASE_URL": fake.base_url,
        "SLACK_HELP_CHANNEL": HELP_CHANNEL,
        "SLACK_TICKET_CHANNEL": TICKET_CHANNEL,
    }
    code, out, err = await nephthys("jobs", "list", env=env, cwd=tmp_path)
    assert code == 0, err
    [line] = [line for line in out.splitlines() if line.startswith("asker-follow-up:")]
    assert "asker-follow-up: on; every 5 min; nudges the asker after 48 h waiting on them" in line
    assert "closes 5 days after an unanswered nudge" in line

    # A ticket a helper answered three days ago (the database's clock), waiting on its asker since.
    [now] = await postgres.fetch(db_url, "SELECT now() AS now")
    answered_at = now["now"] - timedelta(days=3)
    question = fake.add_message(HELP_CHANNEL, user=ASKER, text="hello?", ts=f"{answered_at.timestamp():.6f}")
    [asker] = await postgres.fetch(
        db_url, """INSERT INTO "User" ("slackId") VALUES ($1) RETURNING id""", ASKER
    )
    [ticket] = await postgres.fetch(
        db_url,
        """INSERT INTO "Ticket" (title, description, "msgTs", "openedById", "createdAt", "waitingOn", "waitingSince")
           VALUES ('hello?', 'hello?', $1, $2, $3, 'ASKER', $3) RETURNING id""",
        question["ts"],
        asker["id"],
        answered_at,
    )
    code, out, err = await nephthys("jobs", "run", "asker-follow-up", "--dry-run", env=env, cwd=tmp_path)
    assert code == 0 and f"would nudge #{ticket['id']}" in out, err
    assert fake.calls_to("chat.postMessage") == []
    for _ in range(2):  # the second run finds it nudged
        code, out, err = await nephthys("jobs", "run", "asker-follow-up", env=env, cwd=tmp_path)
        assert code == 0 and out.splitlines()[-1] == "asker-follow-up: done", err
    [posted] = fake.calls_to("chat.postMessage", ok=True, channel=HELP_CHANNEL)
    assert (
        posted.args["thread_ts"] == question["ts"] and "Did this answer your question?" in posted.args["text"]
    )
    assert len(await postgres.fetch(db_url, """SELECT 1 FROM "TicketEvent" WHERE kind = 'NUDGED'""")) == 1
