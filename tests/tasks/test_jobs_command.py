"""`nephthys jobs list|run` as an operator runs them: a real process, the service's settings, the fake Slack."""

from __future__ import annotations

import asyncio
import os
import sys

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
