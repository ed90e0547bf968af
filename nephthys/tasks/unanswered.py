"""Unanswered alerts (``unanswered-alerts``): a question waiting too long for a helper, told to the team.

Every ``EVERY_SECONDS`` (an interval job under its advisory lock): an OPEN ticket (no
helper reply since it was opened or reopened) that has waited UNANSWERED_ALERT_MINUTES,
counted in the support calendar (SUPPORT_HOURS, SUPPORT_HOLIDAYS) when set, is posted once to the team channel,
linked, with its team tags' subscribers mentioned. Each alert is claimed as its own
JobRun period (the ticket and the instant of its opening) before it is posted, so it
goes out once per opening whatever the number of instances; a reopened ticket is a
new opening and may alert again.

Only tickets opened in the last ``LOOK_BACK`` are considered, so turning the alerts
on does not flood the channel with the backlog.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta

from nephthys.slack.context import NO_TEAM_CHANNEL
from nephthys.slack.mentions import neutralise_mentions
from nephthys.stats import MessageLinks
from nephthys.tasks.runner import RunStatus, run_period
from nephthys.tasks.schedule import describe_interval
from nephthys.tasks.service_job import ServiceJob
from nephthys.tasks.summary import duration
from nephthys.tickets import waiting

NAME = waiting.ALERT_JOB
EVERY_SECONDS = 120
LOOK_BACK = timedelta(days=7)
PER_RUN = 50


@dataclass
class UnansweredAlerts(ServiceJob):
    def off_reason(self) -> str | None:
        if not self.ctx.settings.unanswered_alert_minutes:
            return "UNANSWERED_ALERT_MINUTES is unset"
        if not self.ctx.channels.bts:
            return NO_TEAM_CHANNEL
        return None

    def schedule(self) -> str:
        calendar = self.ctx.settings.support_calendar
        minutes = self.ctx.settings.unanswered_alert_minutes
        counted = "around the clock" if calendar.every_minute_counts else "in support hours"
        every = f"every {describe_interval(EVERY_SECONDS)}"
        if not minutes:
            return every
        return f"{every}; alerts after {minutes} min without a helper, counted {counted}"

    def _text(self, ticket: waiting.WaitingTicket, waited_minutes: float) -> str:
        links = MessageLinks(self.ctx.settings.slack_workspace_url, self.ctx.channels.help)
        title = neutralise_mentions(ticket.title).replace("|", "¦").replace(">", "›") or "(untitled)"
        return self.ctx.transcript.text(
            "unanswered_alert",
            link=links.question(ticket.msg_ts),
            title=title,
            user=f"<@{ticket.asker_slack_id}>",
            waited=duration(waited_minutes, self.ctx.transcript),
            subscribers=" ".join(f"<@{s}>" for s in ticket.subscriber_slack_ids),
        )

    async def run(self, dry_run: bool = False) -> str:
        """Alert every ticket due an alert now; returns what it did (or, dry, what it would post)."""
        settings, ctx = self.ctx.settings, self.ctx
        threshold = settings.unanswered_alert_minutes
        channel = ctx.channels.bts
        if not threshold or (channel is None and not dry_run):
            return "off"
        now = self.now()
        calendar = settings.support_calendar
        candidates = await waiting.tickets_waiting_for_a_helper(
            ctx.sessions,
            opened_before=now - timedelta(minutes=threshold),
            opened_after=now - LOOK_BACK,
            limit=PER_RUN,
        )
        posted: list[str] = []
        for ticket in candidates:
            waited = calendar.support_minutes(ticket.opened_at, now)
            if waited < threshold:
                continue  # outside support hours the clock stands still
            text = self._text(ticket, (now - ticket.opened_at).total_seconds() / 60)
            if dry_run or channel is None:  # without a channel only a dry run gets here
                posted.append(text)
                continue

            async def post(text: str = text, channel: str = channel) -> str:
                ts = await ctx.client.post_message(channel=channel, text=text)
                return f"alerted in {channel} ({ts})"

            result = await run_period(ctx.sessions, NAME, ticket.alert_period, post)
            if result.status is RunStatus.DONE:
                posted.append(text)
        if dry_run:
            return (
                f"would post {len(posted)} alerts:\n" + "\n".join(posted) if posted else "would post nothing"
            )
        return f"posted {len(posted)} alerts"
