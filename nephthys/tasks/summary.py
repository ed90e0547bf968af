"""The daily summary (``daily-summary``): yesterday's figures in the team channel, with a 14-day chart.

The period is the local date the summary covers; it runs at DAILY_SUMMARY_TIME on
the day after. The text is posted first; the chart goes into its thread by Slack's
external upload flow, and a failed upload is said once in the heartbeat channel.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from nephthys.slack.context import NO_TEAM_CHANNEL
from nephthys.slack.flows import describe
from nephthys.slack.mentions import neutralise_mentions
from nephthys.stats import MessageLinks
from nephthys.stats.summary import CHART_DAYS, DailySummary, daily_summary
from nephthys.tasks.chart import draw_chart_apart
from nephthys.tasks.runner import Occurrence, PeriodicJob
from nephthys.tasks.schedule import DailyAt
from nephthys.tasks.service_job import ServiceJob
from nephthys.transcripts import Transcript

log = logging.getLogger(__name__)

NAME = "daily-summary"


def slack_date(instant: datetime | None, fallback: str = "?") -> str:
    """Slack's date formatting (each reader sees their own time zone), with a plain fallback."""
    if instant is None:
        return fallback
    return f"<!date^{int(instant.timestamp())}^{{date_short}}|{instant:%Y-%m-%d}>"


def duration(minutes: float | None, transcript: Transcript) -> str:
    if minutes is None:
        return transcript.text("summary_no_value")
    total = round(minutes)
    if total < 60:
        return f"{total}m"
    hours, rest = divmod(total, 60)
    if hours < 48:
        return f"{hours}h {rest:02d}m"
    days, hours = divmod(hours, 24)
    return f"{days}d {hours}h"


def change(now: float | None, before: float | None, *, minutes: bool = False) -> str:
    """``(+3)``, ``(−2)``, ``(±0)`` against the day before; empty when either side has no value."""
    if now is None or before is None:
        return ""
    delta = now - before
    shown = round(delta)
    if shown == 0:
        return "(±0)"
    unit = "m" if minutes else ""
    return f"(+{shown}{unit})" if shown > 0 else f"(−{-shown}{unit})"


def summary_blocks(
    summary: DailySummary, transcript: Transcript, links: MessageLinks, *, waiting_days: int
) -> tuple[str, list[dict]]:
    """The summary's fallback text and Block Kit (every text from the transcript)."""
    day, before = summary.figures, summary.previous

    def section(text: str) -> dict:
        return {"type": "section", "text": {"type": "mrkdwn", "text": text}}

    header = transcript.text("summary_header", date=summary.day.isoformat())
    lines = [
        transcript.text(
            "summary_new_tickets",
            count=str(day["new_tickets_total"]),
            change=change(day["new_tickets_total"], before["new_tickets_total"]),
            closed=str(day["new_tickets_now_closed"]),
            in_progress=str(day["new_tickets_in_progress"]),
            still_open=str(day["new_tickets_still_open"]),
        ),
        transcript.text(
            "summary_closed",
            count=str(day["closed_today"]),
            change=change(day["closed_today"], before["closed_today"]),
        ),
        transcript.text(
            "summary_assigned",
            count=str(day["assigned_today_in_progress"]),
            change=change(day["assigned_today_in_progress"], before["assigned_today_in_progress"]),
        ),
        transcript.text(
            "summary_hang_time",
            duration=duration(day["mean_hang_time_minutes_all"], transcript),
            change=change(
                day["mean_hang_time_minutes_all"], before["mean_hang_time_minutes_all"], minutes=True
            ),
        ),
        transcript.text(
            "summary_resolution_time",
            duration=duration(day["mean_resolution_time_minutes"], transcript),
            change=change(
                day["mean_resolution_time_minutes"], before["mean_resolution_time_minutes"], minutes=True
            ),
        ),
        transcript.text(
            "summary_first_response",
            duration=duration(summary.first_response_p50, transcript),
            change=change(summary.first_response_p50, summary.previous_first_response_p50, minutes=True),
        ),
    ]
    for clock, figures in summary.sla.items():
        compliance = figures["compliance"]
        lines.append(
            transcript.text(
                "summary_sla_compliance",
                clock=transcript.text(f"sla_clock_{clock}"),
                compliance=transcript.text("summary_no_value") if compliance is None else f"{compliance:.0%}",
                met=str(figures["met"]),
                breached=str(figures["breached"]),
                running=str(figures["running"]),
            )
        )
    if summary.top_helpers:
        helpers = ", ".join(f"<@{h['slack_id']}> ({h['count']})" for h in summary.top_helpers)
        lines.append(transcript.text("summary_top_helpers", helpers=helpers))
    else:
        lines.append(transcript.text("summary_no_helpers"))

    if summary.waiting:
        waiting = [transcript.text("summary_worth_a_look", days=str(waiting_days))]
        for ticket in summary.waiting:
            title = neutralise_mentions(ticket.title).replace("|", "¦").replace(">", "›") or "(untitled)"
            waiting.append(
                transcript.text(
                    "summary_worth_a_look_item",
                    link=links.question(ticket.msg_ts),
                    title=title,
                    tags=" ".join(f"`{neutralise_mentions(tag)}`" for tag in ticket.tags),
                    created=slack_date(ticket.created_at),
                    last_reply=slack_date(ticket.last_msg_at),
                )
            )
        more = summary.waiting_total - len(summary.waiting)
        if more > 0:
            waiting.append(transcript.text("summary_worth_a_look_more", count=str(more)))
        waiting_text = "\n".join(waiting)
    else:
        waiting_text = transcript.text("summary_nothing_waiting", days=str(waiting_days))

    breaches: list[str] = []
    if summary.breaches:
        breaches.append(transcript.text("summary_sla_breaches", count=str(summary.breaches_total)))
        for breach in summary.breaches:
            title = neutralise_mentions(breach.title).replace("|", "¦").replace(">", "›") or "(untitled)"
            breaches.append(
                transcript.text(
                    "summary_sla_breach_item",
                    link=links.question(breach.msg_ts),
                    title=title,
                    clock=transcript.text(f"sla_clock_{breach.clock}"),
                )
            )
        if summary.breaches_total > len(summary.breaches):
            more = summary.breaches_total - len(summary.breaches)
            breaches.append(transcript.text("summary_worth_a_look_more", count=str(more)))

    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": header[:150], "emoji": True}},
        section("\n".join(lines)),
        *([section("\n".join(breaches))] if breaches else []),
        {"type": "divider"},
        section(waiting_text),
    ]
    text = "\n".join([header, *lines, *breaches, waiting_text])
    return text, blocks


@dataclass
class DailySummaryJob(ServiceJob):
    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.ctx.settings.timezone)

    @property
    def schedule(self) -> DailyAt:
        return DailyAt(self.ctx.settings.daily_summary_time, self.tz)

    def off_reason(self) -> str | None:
        if not self.ctx.settings.daily_summary:
            return "DAILY_SUMMARY is false"
        if not self.ctx.channels.bts:
            return NO_TEAM_CHANNEL
        return None

    async def occurrences(self, now: datetime) -> list[Occurrence]:
        latest = self.schedule.latest(now)
        if latest is None:
            return []
        run_day, due = latest
        return [Occurrence(period=(run_day - timedelta(days=1)).isoformat(), due=due)]

    async def next_due(self, now: datetime) -> datetime | None:
        return self.schedule.next(now)

    async def periods_for(self, day: date | None, now: datetime) -> list[str]:
        if day is None:
            day = now.astimezone(self.tz).date() - timedelta(days=1)  # yesterday, as the scheduler would
        return [day.isoformat()]

    async def build(self, day: date) -> tuple[str, list[dict], bytes]:
        """The summary of ``day``: its text, blocks and chart, as seen now."""
        settings, transcript = self.ctx.settings, self.ctx.transcript
        async with self.ctx.sessions() as session:
            summary = await daily_summary(
                session, day=day, tz=self.tz, now=self.now(), waiting_days=settings.summary_waiting_days
            )
        links = MessageLinks(settings.slack_workspace_url, self.ctx.channels.help)
        text, blocks = summary_blocks(summary, transcript, links, waiting_days=settings.summary_waiting_days)
        chart = await draw_chart_apart(
            summary.series,
            title=transcript.text("summary_chart_title", days=str(CHART_DAYS)),
            new=transcript.text("summary_chart_new"),
            closed=transcript.text("summary_chart_closed"),
            open_at_end=transcript.text("summary_chart_open"),
        )
        return text, blocks, chart

    async def run(self, period: str, dry_run: bool) -> str:
        day = date.fromisoformat(period)
        text, blocks, chart = await self.build(day)
        channel = self.ctx.channels.bts
        if dry_run or channel is None:
            where = channel or f"the team channel ({NO_TEAM_CHANNEL})"
            return f"would post to {where}:\n{text}\n(and a {len(chart):,}-byte PNG chart in its thread)"
        ts = await self.ctx.client.post_message(channel=channel, text=text, blocks=blocks)
        try:
            await self.ctx.client.upload_file(
                channel=channel,
                thread_ts=ts,
                filename=f"summary-{day.isoformat()}.png",
                content=chart,
                title=self.ctx.transcript.text("summary_chart_title", days=str(CHART_DAYS)),
            )
        except Exception as error:
            # The text is posted; the chart is not worth posting the summary again. Said once.
            await self.ctx.alert(f":warning: The daily summary's chart was not uploaded: {describe(error)}")
            return f"posted the summary of {day} ({ts}); chart not uploaded"
        return f"posted the summary of {day} ({ts}) with its chart"

    def job(self) -> PeriodicJob:
        return PeriodicJob(
            name=NAME,
            schedule=self.schedule.describe(),
            occurrences=self.occurrences,
            next_due=self.next_due,
            periods_for=self.periods_for,
            run=self.run,
            off_reason=self.off_reason(),
        )
