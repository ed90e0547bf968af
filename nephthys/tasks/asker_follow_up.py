"""The asker follow-up (``asker-follow-up``): ask the asker before closing what they left.

Every ``EVERY_SECONDS`` (an interval job under its advisory lock), one read
(``waiting.tickets_to_follow_up``: a range of each of two partial indexes, both empty when
nothing is due) finds the work, the longest due first, at most ``per_run`` tickets:

- **Nudge.** A ticket waiting on its asker ("waitingOn" ASKER, folded by the lifecycle's timeline)
  for ASKER_NUDGE_HOURS wall-clock hours (the asker keeps no support hours) gets one message in
  the question's thread: did this answer your question? with Yes, close it and I still need help
  (nephthys/slack/follow_up.py). Each nudge is claimed as its own JobRun period (``ticket <id>
  waiting since <ms>``, the wait) before it is posted, so it goes out once per wait however many
  instances or runs; it is logged (NUDGED, at this job's clock, which the timeline folds into
  "nudgedAt") after the post, and withdrawn if the wait ended meanwhile. A later wait on the asker (the asker spoke, a helper answered) is
  nudged again. Only waits that became due within ``NUDGE_LOOK_BACK`` are nudged, so turning the
  job on, or upgrading, does not nudge a backlog of long-forgotten questions.
- **Close.** A nudged ticket still waiting on the asker in that wait, with nothing written in its
  thread for ASKER_CLOSE_DAYS days since the nudge (a message after it starts the count again),
  is confirmed with ``conversations.replies`` (the thread may have seen messages the service
  missed) and closed through the lifecycle (credited to its assignee, or nobody) with the closing
  message ``resolved_no_answer``, which keeps its Re-open button; the nudge loses its buttons.

No job closes a ticket waiting on the helpers: the lifecycle's close refuses one.

Slack's limits: posts in the help channel (about one a second there) and ``conversations.replies``
(Tier 3, about 50 a minute) are spaced ``interval_seconds`` apart, one ticket at a time, and a 429
is waited out by slack_sdk's rate-limit handler; the rest waits for the next run.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from datetime import datetime, timedelta

from nephthys.database.outage import retry_while_unavailable
from nephthys.slack import flows, messages
from nephthys.slack.client import PostTag
from nephthys.slack.instants import slack_instant
from nephthys.tasks.runner import RunStatus, run_period
from nephthys.tasks.schedule import describe_interval
from nephthys.tasks.service_job import ServiceJob
from nephthys.tickets import lifecycle, waiting
from nephthys.tickets.waiting import FollowUpTicket

NAME = "asker-follow-up"
EVERY_SECONDS = 300
PER_RUN = 25
# Tier 3 allows 50+ conversations.replies a minute and the help channel about a post a second:
# one ticket every 1.3 s stays under both with room for other work.
INTERVAL_SECONDS = 1.3
# A wait is nudged only while it has been due less than this long.
NUDGE_LOOK_BACK = timedelta(days=7)


@dataclass(frozen=True)
class Windows:
    """The instants a run reads with (see ``waiting.tickets_to_follow_up``)."""

    nudge_before: datetime
    nudge_after: datetime
    close_before: datetime | None


def windows(now: datetime, *, nudge_hours: float, close_days: int) -> Windows:
    nudge_before = now - timedelta(hours=nudge_hours)
    close_before = now - timedelta(days=close_days) if close_days else None
    return Windows(nudge_before, nudge_before - NUDGE_LOOK_BACK, close_before)


@dataclass
class AskerFollowUp(ServiceJob):
    per_run: int = PER_RUN
    interval_seconds: float = INTERVAL_SECONDS

    def off_reason(self) -> str | None:
        if not self.ctx.settings.asker_nudge_hours:
            return "ASKER_NUDGE_HOURS is 0"
        return None

    def schedule(self) -> str:
        settings = self.ctx.settings
        every = f"every {describe_interval(EVERY_SECONDS)}"
        if not settings.asker_nudge_hours:
            return every
        closes = (
            f"closes {settings.asker_close_days} days after an unanswered nudge"
            if settings.asker_close_days
            else "never closes"
        )
        return f"{every}; nudges the asker after {settings.asker_nudge_hours:g} h waiting on them, {closes}"

    async def run(self, dry_run: bool = False) -> str:
        """Nudge and close what is due now; returns what it did (or, dry, what it would do)."""
        ctx, settings = self.ctx, self.ctx.settings
        if not settings.asker_nudge_hours:
            return "off"
        now = self.now()
        window = windows(now, nudge_hours=settings.asker_nudge_hours, close_days=settings.asker_close_days)
        due = await waiting.tickets_to_follow_up(
            ctx.sessions,
            nudge_before=window.nudge_before,
            nudge_after=window.nudge_after,
            close_before=window.close_before,
            limit=self.per_run,
        )
        if dry_run:
            return self._would(due)
        nudged = closed = refuted = 0
        for index, ticket in enumerate(due):
            if index and self.interval_seconds:
                await asyncio.sleep(self.interval_seconds)
            if ticket.nudged_at is None:
                nudged += await self._nudge(ticket, now)
            elif window.close_before is not None:
                outcome = await self._close(ticket, now, quiet_since=window.close_before)
                closed += outcome == "closed"
                refuted += outcome == "refuted"
        if closed and ctx.heartbeat is not None:
            await ctx.heartbeat.post(
                f":wave: Closed {closed} tickets whose asker did not answer the follow-up "
                f"for {settings.asker_close_days} days."
            )
        more = " (more wait for the next run)" if len(due) >= self.per_run else ""
        return f"nudged {nudged}, closed {closed}, left {refuted} that Slack showed active{more}"

    def _would(self, due: list[FollowUpTicket]) -> str:
        lines = [
            f"would nudge #{t.id} (waiting on the asker since {t.waiting_since:%Y-%m-%d %H:%M} UTC)"
            if t.nudged_at is None
            else f"would close #{t.id} (nudged {t.nudged_at:%Y-%m-%d %H:%M} UTC; not checked with Slack)"
            for t in due
        ]
        return "\n".join(lines) if lines else "nothing due"

    async def _nudge(self, ticket: FollowUpTicket, now: datetime) -> int:
        """Post this wait's nudge under its own claim; 1 if this run posted it."""
        ctx = self.ctx
        channel = ctx.channels.help
        wait = lifecycle.wait_key(ticket.waiting_since)
        text, blocks = messages.follow_up_message(
            ctx.transcript, ticket_id=ticket.id, asker_slack_id=ticket.asker_slack_id, wait=wait
        )

        async def post() -> str:
            ts = await ctx.client.post_message(
                channel=channel,
                text=text,
                blocks=blocks,
                thread_ts=ticket.msg_ts,
                tag=PostTag(flows.NUDGE, ticket.id),
            )
            change = await retry_while_unavailable(
                "recording a nudge",
                lambda: lifecycle.record_nudge(
                    ctx.sessions, ticket_id=ticket.id, waiting_since=ticket.waiting_since, at=now, msg_ts=ts
                ),
            )
            if not change.changed:  # the asker spoke, or the ticket closed, as it was posted
                await ctx.client.delete_message(channel=channel, ts=ts)
                return f"withdrawn: the wait was over ({change.outcome.value})"
            await retry_while_unavailable(
                "recording a nudge's message",
                lambda: lifecycle.record_bot_message(
                    ctx.sessions, ticket_id=ticket.id, channel_id=channel, ts=ts
                ),
            )
            return f"nudged ({ts})"

        result = await run_period(ctx.sessions, NAME, f"ticket {ticket.id} waiting since {wait}", post)
        return int(result.status is RunStatus.DONE and result.detail.startswith("nudged"))

    async def _close(self, ticket: FollowUpTicket, now: datetime, *, quiet_since: datetime) -> str:
        """Close a nudge nobody answered, once Slack confirms the thread is quiet."""
        ctx = self.ctx
        latest_ts = await ctx.client.thread_last_activity(channel=ctx.channels.help, ts=ticket.msg_ts)
        if latest_ts is not None:
            latest = slack_instant(latest_ts)
            if latest is None:  # Slack's own answer: never so, and no proof the thread is quiet
                raise ValueError(f"conversations.replies gave an unreadable ts {latest_ts!r}")
            if latest >= quiet_since:
                await lifecycle.note_thread_activity(ctx.sessions, ticket_id=ticket.id, at=latest)
                return "refuted"
        # No Slack instant exists for this close: it happens at the job's clock.
        change = await lifecycle.close_quiet_ticket(
            ctx.sessions, ticket_id=ticket.id, quiet_since=quiet_since, at=now, nudged_at=ticket.nudged_at
        )
        if not change.changed:
            return "unchanged"
        closed = change.found_ticket
        ctx.ticket_changed(closed.assigned_to_slack_id)  # the App Home's live refresh
        async with ctx.ticket_locks.hold(closed.id):
            await flows.after_resolve(
                ctx,
                closed,
                resolver=closed.closed_by_slack_id,
                announce=latest_ts is not None,  # a thread that is gone gets no post
                text_key="resolved_no_answer",
            )
            if latest_ts is not None and ticket.nudge_ts is not None:
                await self._retire_nudge(ticket)
        return "closed"

    async def _retire_nudge(self, ticket: FollowUpTicket) -> None:
        """The unanswered nudge keeps its question and loses its buttons (a failure only leaves them)."""
        ctx = self.ctx
        assert ticket.nudge_ts is not None
        text, blocks = messages.follow_up_message(
            ctx.transcript,
            ticket_id=ticket.id,
            asker_slack_id=ticket.asker_slack_id,
            wait=lifecycle.wait_key(ticket.waiting_since),
            answered=True,
        )
        try:
            await ctx.client.update_message(
                channel=ctx.channels.help, ts=ticket.nudge_ts, text=text, blocks=blocks
            )
        except Exception as error:
            await ctx.alert(
                f":warning: Ticket #{ticket.id} was closed, but its nudge kept its buttons ({flows.describe(error)})."
            )
