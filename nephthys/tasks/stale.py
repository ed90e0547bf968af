"""Stale tickets (``stale-tickets``): close, kindly, tickets whose asker went quiet.

Hourly (period: the UTC hour) and at start-up (the current hour, when not done yet).
A ticket waiting on its asker (a helper spoke last: "waitingOn" ASKER) whose thread has seen
nothing for STALE_TICKET_DAYS days, by the database (``lastMsgAt``, reopens, the bot's own
messages), is confirmed with ``conversations.replies`` (the thread may have seen activity the
service missed). A ticket waiting on the helpers is never closed: the team owes it an answer,
and closing it would hide it from every count of unanswered questions.

- activity since the threshold: the ticket is left open and the activity noted;
- the thread is gone: the ticket closes without a post;
- quiet: closed through the lifecycle (credited to its assignee, or nobody), then the
  usual after-resolve Slack side with the transcript's ``resolved_stale`` note.

``conversations.replies`` is Tier 3 (about 50 a minute): calls are spaced and a 429
is waited out by slack_sdk's rate-limit retry handler (the client's). A run looks at
``PER_RUN`` tickets at most; the rest wait for the next hour.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from nephthys.slack import flows
from nephthys.slack.instants import slack_instant
from nephthys.tasks.runner import Occurrence, PeriodicJob
from nephthys.tasks.service_job import ServiceJob
from nephthys.tickets import lifecycle, waiting

NAME = "stale-tickets"
PER_RUN = 40
# Tier 3 allows 50+ calls a minute; one every 1.3 s stays under it with room for other work.
REPLIES_INTERVAL_SECONDS = 1.3


def hour_of(now: datetime) -> datetime:
    return now.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


@dataclass
class StaleTicketsJob(ServiceJob):
    per_run: int = PER_RUN
    interval_seconds: float = REPLIES_INTERVAL_SECONDS

    def off_reason(self) -> str | None:
        if not self.ctx.settings.stale_ticket_days:
            return "STALE_TICKET_DAYS is unset or 0"
        return None

    async def occurrences(self, now: datetime) -> list[Occurrence]:
        hour = hour_of(now)
        return [Occurrence(period=f"{hour:%Y-%m-%dT%H:00Z}", due=hour)]

    async def next_due(self, now: datetime) -> datetime | None:
        return hour_of(now) + timedelta(hours=1)

    async def periods_for(self, day: date | None, now: datetime) -> list[str]:
        return [occurrence.period for occurrence in await self.occurrences(now)]

    async def run(self, period: str, dry_run: bool) -> str:
        ctx, days = self.ctx, self.ctx.settings.stale_ticket_days
        now = self.now()
        quiet_since = now - timedelta(days=days)
        candidates = await waiting.quiet_tickets(ctx.sessions, quiet_before=quiet_since, limit=self.per_run)
        closed, refuted, gone, would_close = 0, 0, 0, []
        # A dry run without Slack (`nephthys jobs run --dry-run` needs only the database) lists the
        # database's candidates unconfirmed.
        ask_slack = ctx.settings.slack_enabled or not dry_run
        for index, candidate in enumerate(candidates):
            if index and self.interval_seconds and ask_slack:
                await asyncio.sleep(self.interval_seconds)
            latest_ts = (
                await ctx.client.thread_last_activity(channel=ctx.channels.help, ts=candidate.msg_ts)
                if ask_slack
                else None
            )
            if latest_ts is not None:
                latest = slack_instant(latest_ts)
                if latest is None:  # Slack's own answer: never so, and no proof the thread is quiet
                    raise ValueError(f"conversations.replies gave an unreadable ts {latest_ts!r}")
                if latest >= quiet_since:
                    refuted += 1
                    if not dry_run:
                        await lifecycle.note_thread_activity(ctx.sessions, ticket_id=candidate.id, at=latest)
                    continue
            if dry_run:
                would_close.append(
                    f"#{candidate.id} (quiet since {candidate.quiet_since:%Y-%m-%d %H:%M} UTC)"
                )
                continue
            # No Slack instant exists for a quiet close: it happens at the job's clock.
            change = await lifecycle.close_quiet_ticket(
                ctx.sessions, ticket_id=candidate.id, quiet_since=quiet_since, at=now
            )
            if not change.changed:
                continue
            closed += 1
            ticket = change.found_ticket
            ctx.ticket_changed(ticket.assigned_to_slack_id)  # the App Home's live refresh
            if latest_ts is None:
                gone += 1
            async with ctx.ticket_locks.hold(ticket.id):
                await flows.after_resolve(
                    ctx,
                    ticket,
                    resolver=ticket.closed_by_slack_id,
                    announce=latest_ts is not None,  # a thread that is gone gets no post
                    text_key="resolved_stale",
                )
        if dry_run:
            listed = "\n".join(would_close) or "nothing"
            checked = f"{refuted} refuted by Slack" if ask_slack else "not checked with Slack: Slack is off"
            return f"would close {len(would_close)} tickets quiet for {days} days ({checked}):\n{listed}"
        if closed and ctx.heartbeat is not None:
            await ctx.heartbeat.post(
                f":broom: Closed {closed} stale tickets (no message for {days} days"
                + (f"; {gone} whose thread was gone" if gone else "")
                + ")."
            )
        more = " (more wait for the next hour)" if len(candidates) >= self.per_run else ""
        return f"closed {closed}, left {refuted} that Slack showed active{more}"

    def job(self) -> PeriodicJob:
        return PeriodicJob(
            name=NAME,
            schedule="hourly, and at start-up",
            occurrences=self.occurrences,
            next_due=self.next_due,
            periods_for=self.periods_for,
            run=self.run,
            off_reason=self.off_reason(),
        )
